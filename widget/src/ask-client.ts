// The widget's client for `POST /api/ask`: sends one question, streams the answer's events
// (the vocabulary lives in app/shared/ask-events.ts) and settles with the `done` event or with a
// failure the chat can show. It touches nothing but `fetch`, which callers may replace.
import type { Citation, DoneEvent } from "#app/shared/ask-events.ts";
import type { ActionEvent } from "./actions-loader.ts";
import { readSse } from "./sse.ts";

export interface AskRequest {
  /** The API origin, derived from the widget script's own URL. */
  origin: string;
  tenantId: string;
  query: string;
  /** The tenant's publishable key and the visitor's session token (it names the conversation). */
  key: string;
  sessionToken: string;
}

export interface AskHandlers {
  onSources?(conversationId: string, sources: Citation[]): void;
  onToken?(text: string): void;
  /** The answer offers an action (sent before `done`). */
  onAction?(action: ActionEvent): void;
}

/**
 * Why an ask failed. `http`: the server refused the request (its message is shown);
 * `server`: the stream reported an error; `network`: the connection failed, stalled or
 * ended before the answer was complete.
 */
export interface AskFailure {
  kind: "http" | "server" | "network";
  code: string;
  message: string;
  status?: number;
  /** Whether asking again may succeed, so the chat offers a retry button. */
  retryable: boolean;
}

export type AskResult = { ok: true; done: DoneEvent } | { ok: false; failure: AskFailure };

export interface AskOptions {
  fetch?: typeof fetch;
  /** Give up when no bytes arrive for this long (a proxy or the server stalled). */
  idleTimeoutMs?: number;
  signal?: AbortSignal;
}

export const CONNECTION_LOST = "Connection lost";

export function networkFailure(code = "network_error"): AskFailure {
  return { kind: "network", code, message: CONNECTION_LOST, retryable: true };
}

/** Turns an HTTP error response's body (ideally `{ error: { code, message } }`) into a failure. */
export function httpFailure(status: number, body: string): AskFailure {
  let code = `http_${status}`;
  let message = `The request failed (HTTP ${status}).`;
  try {
    const parsed = JSON.parse(body) as { error?: { code?: unknown; message?: unknown } };
    if (typeof parsed.error?.code === "string") code = parsed.error.code;
    if (typeof parsed.error?.message === "string" && parsed.error.message.trim() !== "") {
      message = parsed.error.message;
    }
  } catch {
    // Not JSON (a proxy's error page, say): keep the generic message.
  }
  return { kind: "http", code, message, status, retryable: status === 429 || status >= 500 };
}

export async function askStream(
  request: AskRequest,
  handlers: AskHandlers = {},
  options: AskOptions = {},
): Promise<AskResult> {
  const fetchImpl = options.fetch ?? fetch;
  const idleTimeoutMs = options.idleTimeoutMs ?? 45_000;
  const controller = new AbortController();
  const abort = () => controller.abort();
  options.signal?.addEventListener("abort", abort);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let timedOut = false;
  const resetIdleTimer = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, idleTimeoutMs);
  };

  const body = {
    tenant_id: request.tenantId,
    query: request.query,
    key: request.key,
    session_token: request.sessionToken,
  };

  try {
    resetIdleTimer();
    let response: Response;
    try {
      response = await fetchImpl(`${request.origin}/api/ask`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "text/event-stream" },
        body: JSON.stringify(body),
        // The widget is anonymous: never send the host page's (or the admin's) cookies.
        credentials: "omit",
        signal: controller.signal,
      });
    } catch {
      return { ok: false, failure: networkFailure(timedOut ? "timeout" : "network_error") };
    }
    if (!response.ok) {
      const text = await response.text().catch(() => "");
      return { ok: false, failure: httpFailure(response.status, text) };
    }
    if (!response.body || !/text\/event-stream/i.test(response.headers.get("content-type") ?? "")) {
      return { ok: false, failure: httpFailure(response.status, "") };
    }

    let outcome: AskResult | null = null;
    try {
      await readSse(
        response.body,
        (message) => {
          if (outcome) return;
          const data: unknown = JSON.parse(message.data);
          // After `done` or `error` the server closes the stream; later events are ignored.
          outcome = handleEvent(message.event, data, handlers);
        },
        resetIdleTimer,
      );
    } catch (error) {
      if (outcome) return outcome;
      if (error instanceof SyntaxError) return { ok: false, failure: networkFailure("bad_event") };
      return { ok: false, failure: networkFailure(timedOut ? "timeout" : "network_error") };
    }
    // The stream ended without `done` or `error`: the answer is incomplete.
    return outcome ?? { ok: false, failure: networkFailure("incomplete_stream") };
  } finally {
    clearTimeout(timer);
    // Closes the connection if we stopped reading early; a no-op once the body was read.
    controller.abort();
    options.signal?.removeEventListener("abort", abort);
  }
}

function handleEvent(event: string, data: unknown, handlers: AskHandlers): AskResult | null {
  const record = (data ?? {}) as Record<string, unknown>;
  switch (event) {
    case "sources":
      handlers.onSources?.(String(record.conversationId ?? ""), asArray<Citation>(record.sources));
      return null;
    case "token":
      if (typeof record.text === "string") handlers.onToken?.(record.text);
      return null;
    case "action":
      if (typeof record.offerId === "string" && Array.isArray(record.fields)) {
        handlers.onAction?.(record as unknown as ActionEvent);
      }
      return null;
    case "done":
      return {
        ok: true,
        done: {
          ...(record as unknown as DoneEvent),
          answer: typeof record.answer === "string" ? record.answer : "",
          citations: asArray<Citation>(record.citations),
        },
      };
    case "error":
      return {
        ok: false,
        failure: {
          kind: "server",
          code: typeof record.code === "string" ? record.code : "error",
          message:
            typeof record.message === "string" && record.message !== ""
              ? record.message
              : "Something went wrong while answering.",
          retryable: true,
        },
      };
    default:
      return null;
  }
}

function asArray<T>(value: unknown): T[] {
  return Array.isArray(value) ? (value as T[]) : [];
}
