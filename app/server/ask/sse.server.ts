// Server-Sent Events for the ask endpoints: the encoding of one event, the response headers,
// and the body that streams a generator of events (the vocabulary lives in
// app/shared/ask-events.ts). Used by the route (app/routes/api.ask.ts, through
// respond.server.ts) and the cached-answer lane.
import type { AskEventMap, AskEventName } from "#app/shared/ask-events.ts";
import type { Logger } from "../logger.server.ts";

const encoder = new TextEncoder();

export function encodeEvent<K extends AskEventName>(event: K, data: AskEventMap[K]): Uint8Array {
  return encoder.encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

export const sseHeaders = {
  "Content-Type": "text/event-stream; charset=utf-8",
  // no-transform keeps proxies and compression from buffering the stream.
  "Cache-Control": "no-cache, no-transform",
  Connection: "keep-alive",
  "X-Accel-Buffering": "no",
} as const;

export type StreamEvent = { event: AskEventName; data: unknown };

const NEXT_TURN = Symbol("next turn");
const nextTurn = () => new Promise<typeof NEXT_TURN>((resolve) => setImmediate(resolve, NEXT_TURN));

/**
 * The events as an SSE body. Events that are ready within one turn of the event loop (a
 * cached answer's, or a burst of tokens) are sent as one chunk — one socket write instead of
 * one per event — while an event that has to wait for the LLM is sent as soon as it comes.
 * A generator that throws ends the stream with an `error` event (logged); a reader that goes
 * away aborts `upstream`, so no tokens are spent on an answer nobody reads.
 */
export function eventStream(
  events: AsyncGenerator<StreamEvent>,
  upstream: AbortController,
  logger: Logger,
): ReadableStream<Uint8Array> {
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
