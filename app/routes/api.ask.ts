// POST /api/ask — a visitor's question, answered from one tenant's knowledge base.
// Streams Server-Sent Events (vocabulary: app/ask-events.ts) or, with
// `Accept: application/json`, returns the `done` event's data as one JSON object.
// A batch (`queries` instead of `query`) streams the batch events, or returns the
// `batch_done` event's data as one JSON object.
//
// Callers: the widget (publishable `key` + signed `session_token`, from an allowed origin;
// the token names the conversation) or a server with `Authorization: Bearer bitb_sk_…` (it
// may name its own conversation with `session_id`). Then: rate limits (IP, tenant, session),
// the tenant's token quota, the answer, and an audit entry (app/server/audit.server.ts).
import type { AppLoadContext } from "react-router";
import { z } from "zod";
import { askWithActions } from "#app/server/actions/ask-actions.server.ts";
import { askStream } from "#app/server/ask/ask.server.ts";
import { askBatch } from "#app/server/ask/batch.server.ts";
import { encodeEvent, sseHeaders } from "#app/server/ask/sse.server.ts";
import { auditAsk } from "#app/server/audit.server.ts";
import type { TenantRecord } from "#app/server/control-db.server.ts";
import {
  clientIp,
  type Cors,
  noCors,
  preflight,
  requireVisitorConversation,
  requireWidgetKey,
  secretKeyCaller,
  widgetCors,
} from "#app/server/embed-guard.server.ts";
import { ApiError, errorResponse } from "#app/server/errors.server.ts";
import { assertServing } from "#app/server/platform.server.ts";
import { enforceRateLimits } from "#app/server/limits/limits.server.ts";
import { assertWithinQuota, tenantQuota } from "#app/server/limits/quota.server.ts";
import { withHeldUsage } from "#app/server/replication/writes.server.ts";
import { readJson, wantsJson } from "#app/server/request.server.ts";
import { getRuntime, type Runtime } from "#app/server/runtime.server.ts";
import { requireTenant, tenantDb } from "#app/server/tenants.server.ts";
import type { AskEventName, AskUsage } from "#app/ask-events.ts";
import type { Route } from "./+types/api.ask";

const METHODS = "POST, OPTIONS";
const conversationIdPattern = /^[A-Za-z0-9_-]{8,64}$/;

// Building a zod schema costs more than parsing a request with it: one per pair of limits.
const askSchemas = new Map<string, ReturnType<typeof buildAskSchema>>();
function askSchema(maxQueryChars: number, maxQuestions: number) {
  const key = `${maxQueryChars}:${maxQuestions}`;
  let schema = askSchemas.get(key);
  if (!schema) {
    schema = buildAskSchema(maxQueryChars, maxQuestions);
    askSchemas.set(key, schema);
  }
  return schema;
}

function buildAskSchema(maxQueryChars: number, maxQuestions: number) {
  const question = z
    .string()
    .trim()
    .min(1, "Ask a question.")
    .max(maxQueryChars, `Questions are limited to ${maxQueryChars} characters.`);
  return z
    .strictObject({
      tenant_id: z.string().max(64),
      query: question.optional(),
      queries: z
        .array(question)
        .min(1, "Send at least one question in queries.")
        .max(maxQuestions, `Send at most ${maxQuestions} questions at once.`)
        .optional(),
      /** The widget's publishable key and visitor session. */
      key: z.string().max(100).optional(),
      session_token: z.string().max(200).optional(),
      /** A server-to-server caller's conversation id (with a secret key only). */
      session_id: z.string().regex(conversationIdPattern, "Invalid session id.").optional(),
    })
    .superRefine((body, ctx) => {
      if (body.query !== undefined && body.queries !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["queries"],
          message: "Send either query (one question) or queries (a batch), not both.",
        });
      } else if (body.query === undefined && body.queries === undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["query"],
          message: "Ask a question: send query (one question) or queries (a batch).",
        });
      }
    });
}

type AskBody = z.infer<ReturnType<typeof askSchema>>;
type StreamEvent = { event: AskEventName; data: unknown };

interface Caller {
  tenant: TenantRecord;
  cors: Cors;
  conversationId?: string;
  /** Who the audit log names: the conversation, or the secret key. */
  actor: string;
  /** The per-session rate limit's key. */
  sessionKey: string;
  viaKey: boolean;
}

// React Router hands OPTIONS requests to the loader; the widget's CORS preflight lands here.
export async function loader({ request }: Route.LoaderArgs) {
  const runtime = await getRuntime();
  if (request.method === "OPTIONS") return preflight(runtime, request, METHODS);
  return errorResponse(new ApiError("bad_request", "Use POST to ask."), {
    ...noCors,
    Allow: METHODS,
  });
}

function identifyCaller(runtime: Runtime, request: Request, body: AskBody): Caller {
  const tenant = requireTenant(runtime, body.tenant_id);
  const secret = secretKeyCaller(runtime, request, tenant.id);
  if (secret) {
    if (body.key !== undefined || body.session_token !== undefined) {
      throw new ApiError("bad_request", "Use either a secret key or a widget session, not both.");
    }
    return {
      tenant,
      cors: noCors,
      // A secret key is the tenant's own full trust: it may continue any of its conversations.
      conversationId: body.session_id,
      actor: `key:${secret.keyId}`,
      sessionKey: `key:${secret.keyId}`,
      viaKey: true,
    };
  }
  const cors = widgetCors(runtime, request, tenant.id, METHODS);
  if (body.session_id !== undefined) {
    throw new ApiError(
      "bad_request",
      "The widget's conversation comes from its session token.",
      cors,
    );
  }
  requireWidgetKey(runtime, tenant, body.key, cors);
  const conversationId = requireVisitorConversation(runtime, tenant, body.session_token, cors);
  return {
    tenant,
    cors,
    conversationId,
    actor: conversationId,
    sessionKey: conversationId,
    viaKey: false,
  };
}

export async function action({ request, context }: Route.ActionArgs) {
  const receivedAt = performance.now();
  const runtime = await getRuntime();
  if (request.method === "OPTIONS") return preflight(runtime, request, METHODS);
  let cors: Cors = noCors;
  try {
    if (request.method !== "POST") throw new ApiError("bad_request", "Use POST to ask.");
    const { config } = runtime;
    const body = await readJson(
      request,
      askSchema(config.MAX_QUERY_CHARS, config.BATCH_MAX_QUESTIONS),
    );
    if (body.queries !== undefined && !config.BATCH_ENABLED) {
      throw new ApiError("bad_request", "Batch questions are switched off on this server.");
    }
    const caller = identifyCaller(runtime, request, body);
    cors = caller.cors;
    assertServing(caller.tenant, cors);
    return await answer(runtime, request, context, body, caller, receivedAt);
  } catch (error) {
    return errorResponse(error, cors);
  }
}

async function answer(
  runtime: Runtime,
  request: Request,
  context: AppLoadContext | undefined,
  body: AskBody,
  caller: Caller,
  receivedAt: number,
): Promise<Response> {
  const { tenant, cors } = caller;
  const questions = body.queries ?? [body.query as string];
  const started = performance.now();
  const audit = (outcome: string, usage?: AskUsage, cacheHit = false) =>
    auditAsk(runtime, tenant, {
      cacheHit,
      actor: caller.actor,
      questions,
      outcome,
      latencyMs: performance.now() - started,
      promptTokens: usage?.promptTokens ?? 0,
      completionTokens: usage?.completionTokens ?? 0,
      batch: body.queries !== undefined,
    });
  try {
    // A secret key is one backend serving many people from one address: only the tenant's
    // bucket applies to it. Widget visitors also have their address and session buckets.
    enforceRateLimits(
      runtime.config,
      caller.viaKey
        ? [{ scope: "tenant", id: tenant.id }]
        : [
            { scope: "ip", id: clientIp(runtime, request, context) },
            { scope: "tenant", id: tenant.id },
            { scope: "session", id: caller.sessionKey },
          ],
    );
    assertWithinQuota(
      withHeldUsage(
        runtime,
        tenant,
        tenantQuota(runtime.control, tenantDb(runtime, tenant), tenant.id),
      ),
    );
  } catch (error) {
    // Refused before answering: audited, nothing else written (the caller adds the CORS).
    if (error instanceof ApiError) audit(error.code);
    throw error;
  }

  const upstream = new AbortController();
  request.signal.addEventListener("abort", () => upstream.abort(), { once: true });
  const events: AsyncGenerator<StreamEvent> =
    body.queries !== undefined
      ? askBatch(runtime, {
          tenant,
          queries: body.queries,
          conversationId: caller.conversationId,
          signal: upstream.signal,
        })
      : !caller.viaKey && caller.conversationId !== undefined
        ? // A widget visitor may be offered actions (docs/decisions/027).
          askWithActions(runtime, {
            tenant,
            query: body.query as string,
            conversationId: caller.conversationId,
            signal: upstream.signal,
            receivedAt,
          })
        : askStream(runtime, {
            tenant,
            query: body.query as string,
            conversationId: caller.conversationId,
            signal: upstream.signal,
            receivedAt,
          });
  const audited = auditedEvents(events, audit);

  if (wantsJson(request)) {
    for await (const item of audited) {
      if (item.event === "error") {
        return Response.json({ error: item.data }, { status: 502, headers: cors });
      }
      if (item.event === "done" || item.event === "batch_done") {
        return Response.json(item.data, { headers: cors });
      }
    }
    throw new ApiError("internal_error", "The answer ended without a result.", cors);
  }
  return new Response(sseBody(audited, upstream, runtime), {
    headers: { ...sseHeaders, ...cors },
  });
}

/** Passes the events through and writes one audit entry when the answer ends, however. */
async function* auditedEvents(
  events: AsyncGenerator<StreamEvent>,
  audit: (outcome: string, usage?: AskUsage, cacheHit?: boolean) => void,
): AsyncGenerator<StreamEvent> {
  let outcome = "cancelled";
  let usage: AskUsage | undefined;
  let cacheHit = false;
  try {
    for await (const item of events) {
      if (item.event === "done" || item.event === "batch_done") {
        const data = item.data as { usage?: AskUsage; abstained?: boolean; cached?: boolean };
        usage = data.usage;
        cacheHit = data.cached === true;
        outcome = data.abstained ? "abstained" : "answered";
      } else if (item.event === "error") {
        outcome = String((item.data as { code?: unknown }).code ?? "error");
      }
      yield item;
    }
  } catch (error) {
    outcome = "internal_error";
    throw error;
  } finally {
    audit(outcome, usage, cacheHit);
  }
}

const NEXT_TURN = Symbol("next turn");
const nextTurn = () => new Promise<typeof NEXT_TURN>((resolve) => setImmediate(resolve, NEXT_TURN));

/**
 * The events as an SSE body. Events that are ready within one turn of the event loop (a
 * cached answer's, or a burst of tokens) are sent as one chunk — one socket write instead of
 * one per event — while an event that has to wait for the LLM is sent as soon as it comes.
 */
function sseBody(events: AsyncGenerator<StreamEvent>, upstream: AbortController, runtime: Runtime) {
  let pending: Promise<IteratorResult<StreamEvent>> | null = null;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const parts: Uint8Array[] = [];
      try {
        let next = await (pending ?? events.next());
        pending = null;
        while (!next.done) {
          parts.push(encodeEvent(next.value.event, next.value.data as never));
          const following = events.next();
          // Handled when a later pull awaits it; this only keeps it from counting as unhandled.
          following.catch(() => {});
          const first = await Promise.race([following, nextTurn()]);
          if (first === NEXT_TURN) {
            pending = following;
            break;
          }
          next = first;
        }
        if (parts.length > 0) controller.enqueue(joinChunks(parts));
        if (next.done) controller.close();
      } catch (error) {
        runtime.logger.error({ err: error }, "ask failed");
        parts.push(
          encodeEvent("error", { code: "internal_error", message: "Something went wrong." }),
        );
        controller.enqueue(joinChunks(parts));
        controller.close();
      }
    },
    async cancel() {
      // The visitor went away: stop the upstream answer so no tokens are spent on it.
      upstream.abort();
      await events.return(undefined);
    },
  });
}

function joinChunks(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0] as Uint8Array;
  const joined = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    joined.set(part, offset);
    offset += part.length;
  }
  return joined;
}
