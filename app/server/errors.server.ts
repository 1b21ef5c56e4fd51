// The one error shape of the JSON API: { "error": { "code", "message" } } with the right status.
import { z } from "zod";
import { isStorageFailure, TenantUnavailableError } from "#tenants/store.ts";

export type ErrorCode =
  | "bad_request"
  | "validation_failed"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "method_not_allowed"
  | "conflict"
  | "payload_too_large"
  | "unsupported_media_type"
  | "rate_limited"
  | "quota_exceeded"
  | "session_expired"
  | "internal_error"
  | "upstream_failed"
  | "wrong_instance"
  | "suspended"
  | "unavailable"
  | "misdirected"
  | "tenant_unavailable"
  // Actions (docs/decisions/027).
  | "invalid_request"
  | "consent_required"
  | "slot_taken"
  | "offer_expired"
  | "action_failed";

const statusOf: Record<ErrorCode, number> = {
  bad_request: 400,
  validation_failed: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  quota_exceeded: 429,
  session_expired: 401,
  internal_error: 500,
  upstream_failed: 502,
  /** A write reached a LiteFS replica: replayed on the primary (`fly-replay`). */
  wrong_instance: 409,
  /** The tenant is suspended by a platform admin: its assistant answers nobody. */
  suspended: 403,
  unavailable: 503,
  /** The request's Host is not one this server answers to (PUBLIC_URL, ALLOWED_HOSTS). */
  misdirected: 421,
  /** The tenant's database file failed to open or its checks: only that tenant is down. */
  tenant_unavailable: 503,
  /** Bad arguments of an action; `error.fields` names each one. */
  invalid_request: 400,
  consent_required: 400,
  slot_taken: 409,
  /** An action offer that is unknown, used or expired. */
  offer_expired: 410,
  /** The tenant's own system (its webhook) failed to run the action. */
  action_failed: 502,
};

export class ApiError extends Error {
  override name = "ApiError";
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
    /** Per-field messages (`error.fields`), for a form to show beside each input. */
    readonly fields?: Record<string, string>,
  ) {
    super(message);
    this.status = statusOf[code];
  }
}

export function errorBody(code: ErrorCode, message: string, fields?: Record<string, string>) {
  return { error: fields ? { code, message, fields } : { code, message } };
}

/**
 * Decides whether a storage error met while answering makes the request's tenant unavailable
 * (set by the runtime: it closes the handle and quick-checks the file).
 */
let storageFailureReporter: ((error: unknown) => boolean) | undefined;

export function reportStorageFailuresTo(reporter: ((error: unknown) => boolean) | undefined) {
  storageFailureReporter = reporter;
}

/** Turns any thrown value into the API's error response; unknown errors become an opaque 500. */
export function errorResponse(error: unknown, extraHeaders: Record<string, string> = {}): Response {
  if (error instanceof Response) return error;
  if (
    error instanceof TenantUnavailableError ||
    (isStorageFailure(error) && storageFailureReporter?.(error) === true)
  ) {
    return Response.json(
      errorBody(
        "tenant_unavailable",
        "This assistant is unavailable at the moment. Please try again later.",
      ),
      { status: 503, headers: { ...extraHeaders, "Retry-After": "30" } },
    );
  }
  if (error instanceof z.ZodError) {
    return Response.json(errorBody("validation_failed", formatZodError(error)), {
      status: 400,
      headers: extraHeaders,
    });
  }
  if (error instanceof ApiError) {
    return Response.json(errorBody(error.code, error.message, error.fields), {
      status: error.status,
      headers: { ...extraHeaders, ...error.headers },
    });
  }
  return Response.json(errorBody("internal_error", "Something went wrong on our side."), {
    status: 500,
    headers: extraHeaders,
  });
}

export function formatZodError(error: z.ZodError): string {
  return error.issues
    .map((issue) =>
      issue.path.length ? `${issue.path.join(".")}: ${issue.message}` : issue.message,
    )
    .join("; ");
}
