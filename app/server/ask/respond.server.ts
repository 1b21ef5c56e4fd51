// Answers an admitted ask: picks the answer path (a batch, an answer that may offer actions,
// or a plain answer), writes one audit entry when it ends however it ends, and shapes the
// response — SSE by default, or the `done` (`batch_done`) event's data as one JSON object
// with `Accept: application/json`. The route (app/routes/api.ask.ts) parses and identifies
// the caller first; the cached-answer lane answers repeated first questions before it.
import type { AppLoadContext } from "react-router";
import type { AskUsage } from "#app/shared/ask-events.ts";
import type { StoredTurn } from "#tenants/conversations.ts";
import { ApiError } from "../errors.server.ts";
import { wantsJson } from "../request.server.ts";
import type { Runtime } from "../runtime/runtime.server.ts";
import {
  admitAsk,
  askAuditor,
  mayOfferActions,
  type AskAuditor,
  type AskBody,
  type Caller,
} from "./ask-request.server.ts";
import { askWithActions } from "./ask-with-actions.server.ts";
import { askStream } from "./ask.server.ts";
import { askBatch } from "./batch.server.ts";
import { eventStream, sseHeaders, type StreamEvent } from "./sse.server.ts";

/** An admitted ask's events (audited when they end) and the switch that stops its LLM call. */
export interface StartedAsk {
  events: AsyncGenerator<StreamEvent>;
  upstream: AbortController;
}

/**
 * Admits an ask (rate limits, quota; a refusal is audited and thrown as an ApiError) and
 * starts answering it on the path its body and caller choose. The client going away aborts
 * the LLM call. Shared by POST /api/ask and the OpenAI-compatible API (app/server/openai-api/).
 */
export function startAsk(
  runtime: Runtime,
  request: Request,
  context: AppLoadContext | undefined,
  body: AskBody,
  caller: Caller,
  receivedAt: number,
  /** Earlier turns the caller holds itself (a single question only). */
  history?: StoredTurn[],
): StartedAsk {
  const { tenant } = caller;
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
            history,
            signal: upstream.signal,
            receivedAt,
          });
  return { events: auditedEvents(events, audit), upstream };
}

export async function respondToAsk(
  runtime: Runtime,
  request: Request,
  context: AppLoadContext | undefined,
  body: AskBody,
  caller: Caller,
  receivedAt: number,
): Promise<Response> {
  const { cors } = caller;
  const { events: audited, upstream } = startAsk(
    runtime,
    request,
    context,
    body,
    caller,
    receivedAt,
  );

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
  return new Response(eventStream(audited, upstream, runtime.logger), {
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
