import { describe, expect, it } from "vitest";
import { silentLogger } from "../logger.server.ts";
import { eventStream, type StreamEvent } from "./sse.server.ts";

async function chunksOf(stream: ReadableStream<Uint8Array>): Promise<string[]> {
  const decoder = new TextDecoder();
  const chunks: string[] = [];
  const reader = stream.getReader();
  for (let next = await reader.read(); !next.done; next = await reader.read()) {
    chunks.push(decoder.decode(next.value));
  }
  return chunks;
}

describe("eventStream", () => {
  it("sends the events ready within one turn as one chunk, and a late one on its own", async () => {
    async function* events(): AsyncGenerator<StreamEvent> {
      yield { event: "token", data: { text: "a" } };
      yield { event: "token", data: { text: "b" } };
      await new Promise((resolve) => setTimeout(resolve, 20));
      yield { event: "done", data: { answer: "ab" } };
    }
    const chunks = await chunksOf(eventStream(events(), new AbortController(), silentLogger));
    expect(chunks).toEqual([
      'event: token\ndata: {"text":"a"}\n\nevent: token\ndata: {"text":"b"}\n\n',
      'event: done\ndata: {"answer":"ab"}\n\n',
    ]);
  });

  it("ends with an internal_error event when the answer throws", async () => {
    async function* events(): AsyncGenerator<StreamEvent> {
      yield { event: "token", data: { text: "a" } };
      throw new Error("boom");
    }
    const text = (await chunksOf(eventStream(events(), new AbortController(), silentLogger))).join(
      "",
    );
    expect(text).toBe(
      'event: token\ndata: {"text":"a"}\n\n' +
        'event: error\ndata: {"code":"internal_error","message":"Something went wrong."}\n\n',
    );
  });

  it("aborts the upstream answer and closes the events when the reader goes away", async () => {
    let closed = false;
    async function* events(): AsyncGenerator<StreamEvent> {
      try {
        yield { event: "token", data: { text: "a" } };
        await new Promise((resolve) => setTimeout(resolve, 1000));
      } finally {
        closed = true;
      }
    }
    const upstream = new AbortController();
    const reader = eventStream(events(), upstream, silentLogger).getReader();
    await reader.read();
    await reader.cancel();
    expect(upstream.signal.aborted).toBe(true);
    expect(closed).toBe(true);
  });
});
