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
import { askWithActions } from "#app/server/actions/ask-actions.server.ts";
import {
  admitAsk,
  ASK_METHODS,
  askAuditor,
  askSchema,
  assertBatchAllowed,
  type AskAuditor,
  type AskBody,
  type Caller,
  identifyCaller,
  mayOfferActions,
} from "#app/server/ask/ask-request.server.ts";
import { askStream } from "#app/server/ask/ask.server.ts";
import { askBatch } from "#app/server/ask/batch.server.ts";
import { encodeEvent, sseHeaders } from "#app/server/ask/sse.server.ts";
import { type Cors, noCors, preflight } from "#app/server/embed-guard.server.ts";
import { ApiError, errorResponse } from "#app/server/errors.server.ts";
import { assertServing } from "#app/server/platform.server.ts";
import { readJson, wantsJson } from "#app/server/request.server.ts";
import { getRuntime, type Runtime } from "#app/server/runtime.server.ts";
import type { AskEventName, AskUsage } from "#app/ask-events.ts";
import type { Route } from "./+types/api.ask";

type StreamEvent = { event: AskEventName; data: unknown };

// React Router hands OPTIONS requests to the loader; the widget's CORS preflight lands here.
export async function loader({ request }: Route.LoaderArgs) {
  const runtime = await getRuntime();
  if (request.method === "OPTIONS") return preflight(runtime, request, ASK_METHODS);
  return errorResponse(new ApiError("bad_request", "Use POST to ask."), {
    ...noCors,
    Allow: ASK_METHODS,
  });
}

// A repeated first question is usually answered before it gets here, by the cached-answer
// lane in front of React Router (app/server/ask/cached-lane.server.ts, docs/decisions/034),
// with the same checks through the same modules; everything else is answered here.
export async function action({ request, context }: Route.ActionArgs) {
  const receivedAt = performance.now();
  const runtime = await getRuntime();
  if (request.method === "OPTIONS") return preflight(runtime, request, ASK_METHODS);
  let cors: Cors = noCors;
  try {
    if (request.method !== "POST") throw new ApiError("bad_request", "Use POST to ask.");
    const body = await readJson(request, askSchema(runtime.config));
    assertBatchAllowed(runtime.config, body);
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
  const audit = askAuditor(runtime, caller, questions, body.queries !== undefined);
  // Refused before answering: audited, nothing else written (the caller adds the CORS).
  admitAsk(runtime, request, context, caller, audit, questions.length);

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
      : mayOfferActions(caller)
        ? askWithActions(runtime, {
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
  audit: AskAuditor,
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
