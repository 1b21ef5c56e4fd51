// The guard of the public widget API (ask, feedback, widget config and session): who may call
// it and what CORS they get. A browser's Origin must be the app's own origin or one the tenant
// allows; it then gets an exact Access-Control-Allow-Origin echo (with Vary: Origin), anything
// else a 403 and no CORS grant at all. Widget calls carry the tenant's publishable key, and
// asks and ratings a signed visitor session (visitor-session.server.ts). Server-to-server
// callers use a secret key (`Authorization: Bearer bitb_sk_…`) instead, and get no CORS.
import type { AppLoadContext } from "react-router";
import type { TenantId } from "#tenants/id.ts";
import type { Replication } from "../replication/writes.server.ts";
import type { Config } from "../config.server.ts";
import type { ControlDb, TenantRecord } from "../control-db.server.ts";
import { ApiError } from "../errors.server.ts";
import {
  authenticateSecretKey,
  bearerSecret,
  isOriginAllowedByAnyTenant,
  isOriginAllowedFor,
  isWidgetKeyOf,
} from "./keys.server.ts";
import { sessionSecret, verifyVisitorSession } from "./visitor-session.server.ts";
import { clientAddressOf } from "../client-address.server.ts";
import type { RequestHead } from "../request.server.ts";

type GuardRuntime = {
  control: ControlDb;
  config: Pick<Config, "PUBLIC_URL" | "CLIENT_IP_HEADER">;
  /** Optional: without it (tests of the guard alone) this machine writes its control db. */
  replication?: Pick<Replication, "role">;
};

export type Cors = Record<string, string>;

const ALLOWED_HEADERS = "content-type, accept";

/** The origins of this app itself (its pages, the admin playground, the /demo page). */
export function appOrigins(request: RequestHead, config: Pick<Config, "PUBLIC_URL">): Set<string> {
  const origins = new Set([new URL(request.url).origin]);
  if (config.PUBLIC_URL) origins.add(new URL(config.PUBLIC_URL).origin);
  return origins;
}

function corsGrant(origin: string, methods: string): Cors {
  return {
    "Access-Control-Allow-Origin": origin,
    "Access-Control-Allow-Methods": methods,
    "Access-Control-Allow-Headers": ALLOWED_HEADERS,
    "Access-Control-Max-Age": "600",
    Vary: "Origin",
  };
}

/** Responses that depend on Origin say so, even when they grant nothing. */
export const noCors: Cors = { Vary: "Origin" };

export function originAllowed(
  runtime: GuardRuntime,
  request: RequestHead,
  origin: string,
  tenantId?: TenantId,
): boolean {
  if (appOrigins(request, runtime.config).has(origin)) return true;
  return tenantId === undefined
    ? isOriginAllowedByAnyTenant(runtime.control, origin)
    : isOriginAllowedFor(runtime.control, tenantId, origin);
}

/**
 * CORS for a widget request to this tenant. No Origin header: not a cross-origin browser
 * request (a server, curl, a same-origin GET), which the list cannot govern; the key and
 * session still apply. An Origin the tenant does not allow: 403 without CORS.
 */
export function widgetCors(
  runtime: GuardRuntime,
  request: RequestHead,
  tenantId: TenantId,
  methods: string,
): Cors {
  const origin = request.headers.get("origin");
  if (origin === null) return noCors;
  if (!originAllowed(runtime, request, origin, tenantId)) {
    throw new ApiError("forbidden", "This site may not use this tenant's widget.", noCors);
  }
  return corsGrant(origin, methods);
}

/**
 * The answer to a CORS preflight. With the tenant in the path it is exact; without (ask and
 * feedback carry the tenant in the body) an origin some tenant allows gets a grant, and the
 * real request is then checked against its own tenant.
 */
export function preflight(
  runtime: GuardRuntime,
  request: RequestHead,
  methods: string,
  tenantId?: TenantId,
): Response {
  const origin = request.headers.get("origin");
  if (origin === null || !originAllowed(runtime, request, origin, tenantId)) {
    return Response.json(
      { error: { code: "forbidden", message: "This site may not use this widget." } },
      { status: 403, headers: noCors },
    );
  }
  return new Response(null, { status: 204, headers: corsGrant(origin, methods) });
}

/** Refuses a wrong or missing publishable key (403, like a wrong origin). */
export function requireWidgetKey(
  runtime: GuardRuntime,
  tenant: TenantRecord,
  key: unknown,
  cors: Cors,
) {
  if (typeof key !== "string" || !isWidgetKeyOf(runtime.control, tenant.id, key)) {
    throw new ApiError("forbidden", "Invalid widget key for this tenant.", cors);
  }
}

/** The conversation a visitor's session token names (401 when it is not this tenant's). */
export function requireVisitorConversation(
  runtime: GuardRuntime,
  tenant: TenantRecord,
  token: unknown,
  cors: Cors,
): string {
  if (typeof token !== "string") {
    throw new ApiError("unauthorized", "A visitor session is required.", cors);
  }
  try {
    return verifyVisitorSession(sessionSecret(runtime.control), token, tenant.id).conversationId;
  } catch (error) {
    if (error instanceof ApiError) throw new ApiError(error.code, error.message, cors);
    throw error;
  }
}

/**
 * The secret key of the request's Bearer header, which must belong to `tenant`; null when the
 * request has no Authorization header. Another tenant's or a revoked key: 401.
 */
export function secretKeyCaller(
  runtime: GuardRuntime,
  request: RequestHead,
  tenantId: TenantId,
): { keyId: number } | null {
  const secret = bearerSecret(request);
  if (secret === null) return null;
  const found = authenticateSecretKey(
    runtime.control,
    secret,
    Date.now(),
    runtime.replication?.role.isPrimary() ?? true,
  );
  if (!found || found.tenantId !== tenantId) {
    throw new ApiError("unauthorized", "Invalid API key for this tenant.");
  }
  return { keyId: found.keyId };
}

/**
 * The client's address for per-IP limits: the proxy's header when CLIENT_IP_HEADER names one
 * (Fly sets fly-client-ip and overwrites what a client sent), else the socket's peer.
 */
export function clientIp(
  runtime: GuardRuntime,
  request: RequestHead,
  context: AppLoadContext | undefined,
): string {
  return clientAddressOf(request, context, runtime.config) ?? "unknown";
}
