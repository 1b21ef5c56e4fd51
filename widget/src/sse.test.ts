import { describe, expect, it } from "vitest";
import { createSseParser, readSse, type SseMessage } from "./sse.ts";

function parseAll(chunks: string[]): SseMessage[] {
  const messages: SseMessage[] = [];
  const parser = createSseParser((message) => messages.push(message));
  for (const chunk of chunks) parser.push(chunk);
  parser.end();
  return messages;
}

function streamOf(chunks: (string | Uint8Array)[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) {
        controller.enqueue(typeof chunk === "string" ? encoder.encode(chunk) : chunk);
      }
      controller.close();
    },
  });
}

describe("createSseParser", () => {
  it("reads named events with JSON data", () => {
    expect(parseAll(['event: token\ndata: {"text":"Hi"}\n\nevent: done\ndata: {}\n\n'])).toEqual([
      { event: "token", data: '{"text":"Hi"}' },
      { event: "done", data: "{}" },
    ]);
  });

  it("joins multi-line data and defaults the event name to message", () => {
    expect(parseAll(["data: one\ndata: two\n\n"])).toEqual([
      { event: "message", data: "one\ntwo" },
    ]);
  });

  it("accepts CRLF and CR line endings, even when a CRLF is split across chunks", () => {
    expect(parseAll(["event: a\r\ndata: 1\r", "\n\r", "\nevent: b\rdata: 2\r\r"])).toEqual([
      { event: "a", data: "1" },
      { event: "b", data: "2" },
    ]);
  });

  it("reassembles events split anywhere across chunks", () => {
    const text = 'event: token\ndata: {"text":"split"}\n\n';
    for (let cut = 1; cut < text.length; cut++) {
      expect(parseAll([text.slice(0, cut), text.slice(cut)])).toEqual([
        { event: "token", data: '{"text":"split"}' },
      ]);
    }
  });

  it("ignores comments, unknown fields and blocks without data", () => {
    expect(
      parseAll([": keep-alive\n\nid: 7\nretry: 100\n\nevent: ping\n\nfoo\ndata:x\n\n"]),
    ).toEqual([{ event: "message", data: "x" }]);
  });

  it("keeps a value's spaces except the single one after the colon", () => {
    expect(parseAll(["data:  two spaces \n\n"])).toEqual([
      { event: "message", data: " two spaces " },
    ]);
  });

  it("drops a message whose closing blank line never came", () => {
    expect(parseAll(["event: done\ndata: {}\n"])).toEqual([]);
  });

  it("ends a message with a trailing CR held back at the end of the stream", () => {
    expect(parseAll(["data: last\r\r"])).toEqual([{ event: "message", data: "last" }]);
  });
});

describe("readSse", () => {
  it("decodes UTF-8 split inside a character and reports each chunk", async () => {
    const bytes = new TextEncoder().encode("data: héllo — ✓\n\n");
    const chunks = [bytes.slice(0, 8), bytes.slice(8, 15), bytes.slice(15)];
    const messages: SseMessage[] = [];
    let seen = 0;
    await readSse(
      streamOf(chunks),
      (message) => messages.push(message),
      () => seen++,
    );
    expect(messages).toEqual([{ event: "message", data: "héllo — ✓" }]);
    expect(seen).toBe(3);
  });

  it("rejects when the stream fails", async () => {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode("data: a\n\n"));
        controller.error(new TypeError("network"));
      },
    });
    const messages: SseMessage[] = [];
    await expect(readSse(body, (message) => messages.push(message))).rejects.toThrow("network");
  });
});
