import { describe, expect, it } from "vitest";
import { readAskEvents } from "./ask-events.ts";

function streamOf(chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      controller.close();
    },
  });
}

async function collect(chunks: string[]) {
  const events = [];
  for await (const event of readAskEvents(streamOf(chunks))) events.push(event);
  return events;
}

describe("readAskEvents", () => {
  it("reads CRLF line ends, also when a CRLF is split across two chunks", async () => {
    const events = await collect([
      'event: token\r\ndata: {"text":"Hel"}\r',
      '\n\r\nevent: token\r\ndata: {"text":"lo"}\r\n\r',
      '\nevent: done\r\ndata: {"answer":"Hello"}\r\n\r\n',
    ]);
    expect(events).toEqual([
      { event: "token", data: { text: "Hel" } },
      { event: "token", data: { text: "lo" } },
      { event: "done", data: { answer: "Hello" } },
    ]);
  });

  it("joins multi-line data, keeps bare CR and LF ends, skips comments and unknown events", async () => {
    const events = await collect([
      ": keep-alive\n\nevent: ping\ndata: {}\n\n",
      'event: error\rdata: {"code":"x",\rdata: "message":"y"}\r\r',
      "event: tok",
      'en\ndata: {"text":"é"}\n\n',
    ]);
    expect(events).toEqual([
      { event: "error", data: { code: "x", message: "y" } },
      { event: "token", data: { text: "é" } },
    ]);
  });
});
