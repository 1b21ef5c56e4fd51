// The webhook back-end (docs/decisions/027): an action run by the tenant's own system. An
// HTTPS POST of JSON `{action, tenantId, offerId, args, contact, conversationId, at}` signed
// with `BiTB-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` under the
// tenant's webhook secret; its JSON reply `{message?, reference?, details?}` is what the
// visitor reads. Resilience like the LLM's (decision 007, cockatiel): a timeout per attempt,
// retries with exponential backoff and jitter, and a circuit breaker per tenant and action,
// so a system that is down is not hammered and visitors are told at once. Private and
// loopback addresses are refused like ingestion's URL fetch (same lookup guard), unless
// INGEST_ALLOW_PRIVATE_URLS is set. The secret is never logged or put in an error.
import { createHmac } from "node:crypto";
import http from "node:http";
import https from "node:https";
import type net from "node:net";
import {
  BrokenCircuitError,
  ConsecutiveBreaker,
  circuitBreaker,
  ExponentialBackoff,
  handleAll,
  handleWhen,
  retry,
  wrap,
  type IPolicy,
} from "cockatiel";
import { context, propagation, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { LRUCache } from "lru-cache";
import { z } from "zod";
import { isPrivateAddress, publicOnlyLookup } from "../ingest/queue.server.ts";
import { tracer } from "../observability/tracing.server.ts";

export interface WebhookPolicy {
  /** The deadline of one attempt. */
  timeoutMs: number;
  /** Attempts in all (1 = no retry). */
  maxAttempts: number;
  retryBaseMs: number;
  /** Consecutive failed runs that open the breaker. */
  breakerFailures: number;
  /** How long the breaker stays open before one run may probe. */
  halfOpenAfterMs: number;
}

export const DEFAULT_WEBHOOK_POLICY: WebhookPolicy = {
  timeoutMs: 5000,
  maxAttempts: 3,
  retryBaseMs: 200,
  breakerFailures: 3,
  halfOpenAfterMs: 30_000,
};

const MAX_REPLY_BYTES = 64 * 1024;

export interface WebhookPayload {
  action: string;
  tenantId: string;
  offerId: string | null;
  args: Record<string, unknown>;
  contact: { name?: string; email?: string; phone?: string } | null;
  conversationId: string | null;
  /** ms since the epoch. */
  at: number;
}

export interface WebhookReply {
  message?: string;
  reference?: string;
  details?: Record<string, string>;
}

const replySchema = z.object({
  message: z.string().trim().min(1).max(2000).optional().catch(undefined),
  reference: z.string().trim().min(1).max(100).optional().catch(undefined),
  details: z
    .record(z.string().max(100), z.union([z.string(), z.number(), z.boolean()]).transform(String))
    .optional()
    .catch(undefined),
});

/** Why a webhook run failed (for the logs and the audit; never shown to the visitor). */
export class WebhookError extends Error {
  override name = "WebhookError";
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly reason: "breaker_open" | "refused" | "timeout" | "http_status" | "network",
  ) {
    super(message);
  }
}

/** The signature header's value for `body` sent at `unixSeconds`. */
export function signatureHeader(secret: string, body: string, unixSeconds: number): string {
  const v1 = createHmac("sha256", secret).update(`${unixSeconds}.${body}`).digest("hex");
  return `t=${unixSeconds},v1=${v1}`;
}

/** What a receiver does (documented in the README): checks the signature and its age. */
export function verifySignature(
  secret: string,
  body: string,
  header: string,
  nowSeconds = Math.floor(Date.now() / 1000),
  toleranceSeconds = 300,
): boolean {
  const parts = Object.fromEntries(header.split(",").map((part) => part.split("=", 2)));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || Math.abs(nowSeconds - t) > toleranceSeconds) return false;
  const expected = signatureHeader(secret, body, t);
  return expected.length === header.length && expected === header;
}

interface PostOptions {
  timeoutMs: number;
  allowPrivateNetwork: boolean;
}

/**
 * One delivery as an OpenTelemetry HTTP CLIENT span, its traceparent sent along. The URL's
 * query is left out of the span (a webhook URL may carry a token there).
 */
async function post(
  url: URL,
  body: string,
  headers: Record<string, string>,
  options: PostOptions,
): Promise<{ status: number; text: string }> {
  const span = tracer().startSpan("POST", {
    kind: SpanKind.CLIENT,
    attributes: {
      "http.request.method": "POST",
      "server.address": url.hostname,
      "server.port": Number(url.port || (url.protocol === "https:" ? 443 : 80)),
      "url.scheme": url.protocol.replace(":", ""),
      "url.path": url.pathname,
    },
  });
  const traced = { ...headers };
  propagation.inject(trace.setSpan(context.active(), span), traced);
  try {
    const reply = await postOnce(url, body, traced, options);
    span.setAttribute("http.response.status_code", reply.status);
    if (reply.status >= 400) span.setStatus({ code: SpanStatusCode.ERROR });
    return reply;
  } catch (error) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
    span.setAttribute("error.type", error instanceof WebhookError ? error.reason : "network");
    throw error;
  } finally {
    span.end();
  }
}

function postOnce(url: URL, body: string, headers: Record<string, string>, options: PostOptions) {
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const host = url.hostname.replace(/^\[|\]$/g, "");
    if (url.protocol !== "https:" && !(options.allowPrivateNetwork && url.protocol === "http:")) {
      reject(new WebhookError("the webhook URL is not https", false, "refused"));
      return;
    }
    if (!options.allowPrivateNetwork && isPrivateAddress(host)) {
      reject(new WebhookError(`${url.host} is a private network address`, false, "refused"));
      return;
    }
    const client = url.protocol === "https:" ? https : http;
    const req = client.request(url, {
      method: "POST",
      signal: AbortSignal.timeout(options.timeoutMs),
      lookup: options.allowPrivateNetwork
        ? undefined
        : (publicOnlyLookup as unknown as net.LookupFunction),
      headers: {
        ...headers,
        "content-type": "application/json",
        "content-length": String(Buffer.byteLength(body)),
        "user-agent": "BiTB-Actions/1.0",
        accept: "application/json",
      },
    });
    req.on("response", (response) => {
      const parts: Buffer[] = [];
      let size = 0;
      response.on("data", (part: Buffer) => {
        size += part.length;
        if (size > MAX_REPLY_BYTES) {
          response.destroy();
          return;
        }
        parts.push(part);
      });
      response.on("end", () =>
        resolve({ status: response.statusCode ?? 0, text: Buffer.concat(parts).toString("utf8") }),
      );
      response.on("error", reject);
    });
    req.on("error", (error) => {
      if (error.name === "AbortError" || error.name === "TimeoutError") {
        reject(new WebhookError(`no answer within ${options.timeoutMs} ms`, true, "timeout"));
      } else if (error instanceof Error && error.name === "FetchError") {
        reject(new WebhookError(error.message, false, "refused"));
      } else {
        reject(new WebhookError(`could not reach the webhook: ${error.message}`, true, "network"));
      }
    });
    req.end(body);
  });
}

function parseReply(text: string): WebhookReply {
  let value: unknown;
  try {
    value = text.trim() === "" ? {} : JSON.parse(text);
  } catch {
    return {};
  }
  const parsed = replySchema.safeParse(value);
  if (!parsed.success) return {};
  const reply: WebhookReply = {};
  if (parsed.data.message) reply.message = parsed.data.message;
  if (parsed.data.reference) reply.reference = parsed.data.reference;
  if (parsed.data.details) reply.details = parsed.data.details;
  return reply;
}

export interface WebhookCall {
  url: string;
  secret: string;
  payload: WebhookPayload;
  /** Breaker key: one breaker per tenant and action. */
  key: string;
}

export interface WebhookClient {
  call(request: WebhookCall): Promise<WebhookReply>;
}

export function createWebhookClient(
  options: { allowPrivateNetwork: boolean; policy?: Partial<WebhookPolicy> } = {
    allowPrivateNetwork: false,
  },
): WebhookClient {
  const policy = { ...DEFAULT_WEBHOOK_POLICY, ...options.policy };
  // One breaker per tenant and action; idle ones are forgotten (a closed breaker has no state
  // worth keeping, and an open one would half-open by then anyway).
  const breakers = new LRUCache<string, IPolicy>({ max: 10_000 });
  const retries = retry(
    handleWhen((error) => !(error instanceof NoRetry)),
    {
      maxAttempts: policy.maxAttempts - 1,
      backoff: new ExponentialBackoff({ initialDelay: policy.retryBaseMs, maxDelay: 5000 }),
    },
  );
  const breakerFor = (key: string) => {
    let breaker = breakers.get(key);
    if (!breaker) {
      breaker = circuitBreaker(handleAll, {
        halfOpenAfter: policy.halfOpenAfterMs,
        breaker: new ConsecutiveBreaker(policy.breakerFailures),
      });
      breakers.set(key, breaker);
    }
    return breaker;
  };

  return {
    async call(request) {
      const url = new URL(request.url);
      const body = JSON.stringify(request.payload);
      const attempt = async () => {
        const t = Math.floor(Date.now() / 1000);
        const response = await post(
          url,
          body,
          { "bitb-signature": signatureHeader(request.secret, body, t) },
          { timeoutMs: policy.timeoutMs, allowPrivateNetwork: options.allowPrivateNetwork },
        );
        if (response.status < 200 || response.status > 299) {
          throw new WebhookError(
            `the webhook answered HTTP ${response.status}`,
            true,
            "http_status",
          );
        }
        return parseReply(response.text);
      };
      try {
        return await wrap(breakerFor(request.key), retries).execute(async () => {
          try {
            return await attempt();
          } catch (error) {
            // A refused URL will not change on retry: fail the run at once.
            if (error instanceof WebhookError && !error.retryable) throw new NoRetry(error);
            throw error;
          }
        });
      } catch (error) {
        if (error instanceof NoRetry) throw error.cause;
        if (error instanceof BrokenCircuitError) {
          throw new WebhookError("the circuit breaker is open", false, "breaker_open");
        }
        throw error;
      }
    },
  };
}

class NoRetry extends Error {
  constructor(override readonly cause: WebhookError) {
    super(cause.message);
  }
}
