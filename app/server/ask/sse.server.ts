// Encodes ask events as Server-Sent Events (the vocabulary lives in app/shared/ask-events.ts).
import type { AskEventMap, AskEventName } from "#app/shared/ask-events.ts";

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
