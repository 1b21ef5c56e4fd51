// POST /api/ask — a visitor's question, answered from one tenant's knowledge base.
// Streams Server-Sent Events (vocabulary: app/ask-events.ts) or, with
// `Accept: application/json`, returns the `done` event's data as one JSON object.
// A batch (`queries` instead of `query`) streams the batch events, or returns the
// `batch_done` event's data as one JSON object.
import { z } from "zod";
import { askStream } from "#app/server/ask/ask.server.ts";
import { askBatch } from "#app/server/ask/batch.server.ts";
import { encodeEvent, sseHeaders } from "#app/server/ask/sse.server.ts";
import { ApiError, errorResponse } from "#app/server/errors.server.ts";
import type { Logger } from "#app/server/logger.server.ts";
import { publicCorsHeaders, readJson, wantsJson } from "#app/server/request.server.ts";
import { getRuntime } from "#app/server/runtime.server.ts";
import { requireTenant } from "#app/server/tenants.server.ts";
import type { AskEventName } from "#app/ask-events.ts";
import type { Route } from "./+types/api.ask";

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

type StreamEvent = { event: AskEventName; data: unknown };

function preflight(): Response {
  return new Response(null, { status: 204, headers: publicCorsHeaders });
}

// React Router hands OPTIONS requests to the loader; the widget's CORS preflight lands here.
export function loader({ request }: Route.LoaderArgs) {
  if (request.method === "OPTIONS") return preflight();
  return errorResponse(new ApiError("bad_request", "Use POST to ask."), {
    ...publicCorsHeaders,
    Allow: "POST, OPTIONS",
  });
}

export async function action({ request }: Route.ActionArgs) {
  if (request.method === "OPTIONS") return preflight();
  try {
    if (request.method !== "POST") throw new ApiError("bad_request", "Use POST to ask.");
    const runtime = await getRuntime();
    const { config } = runtime;
    const body = await readJson(
      request,
      askSchema(config.MAX_QUERY_CHARS, config.BATCH_MAX_QUESTIONS),
    );
    if (body.queries !== undefined && !config.BATCH_ENABLED) {
      throw new ApiError("bad_request", "Batch questions are switched off on this server.");
    }
    const tenant = requireTenant(runtime, body.tenant_id);
    const upstream = new AbortController();
    request.signal.addEventListener("abort", () => upstream.abort(), { once: true });

    if (body.queries !== undefined) {
      const batch = askBatch(runtime, {
        tenant,
        queries: body.queries,
        conversationId: body.session_id,
        signal: upstream.signal,
      });
      if (wantsJson(request)) {
        for await (const item of batch) {
          if (item.event === "batch_done") {
            return Response.json(item.data, { headers: publicCorsHeaders });
          }
        }
        throw new ApiError("internal_error", "The batch ended without a result.");
      }
      return new Response(sseBody(batch, upstream, runtime.logger), {
        headers: { ...sseHeaders, ...publicCorsHeaders },
      });
    }

    const events = askStream(runtime, {
      tenant,
      query: body.query as string,
      conversationId: body.session_id,
      signal: upstream.signal,
    });

    if (wantsJson(request)) {
      for await (const item of events) {
        if (item.event === "error") {
          return Response.json({ error: item.data }, { status: 502, headers: publicCorsHeaders });
        }
        if (item.event === "done") {
          return Response.json(item.data, { headers: publicCorsHeaders });
        }
      }
      throw new ApiError("internal_error", "The answer ended without a result.");
    }

    return new Response(sseBody(events, upstream, runtime.logger), {
      headers: { ...sseHeaders, ...publicCorsHeaders },
    });
  } catch (error) {
    return errorResponse(error, publicCorsHeaders);
  }
}

const NEXT_TURN = Symbol("next turn");
const nextTurn = () => new Promise<typeof NEXT_TURN>((resolve) => setImmediate(resolve, NEXT_TURN));

/**
 * The events as an SSE body. Events that are ready within one turn of the event loop (a
 * cached answer's, or a burst of tokens) are sent as one chunk — one socket write instead of
 * one per event — while an event that has to wait for the LLM is sent as soon as it comes.
 */
function sseBody(events: AsyncGenerator<StreamEvent>, upstream: AbortController, logger: Logger) {
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
        logger.error({ err: error }, "ask failed");
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
