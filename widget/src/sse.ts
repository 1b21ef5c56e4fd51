// A small Server-Sent Events reader for the widget: turns the bytes of a fetch response body
// into `{ event, data }` messages. EventSource cannot POST, so the widget reads the stream
// itself. Follows the WHATWG parsing rules (any line ending, `:` comments, multi-line data,
// one optional space after the colon); `id` and `retry` are ignored because the widget never
// reconnects on its own.

export interface SseMessage {
  event: string;
  data: string;
}

export interface SseParser {
  /** Feeds decoded text; calls `onMessage` for every complete message in it. */
  push(text: string): void;
  /** The stream ended: a message without its closing blank line is dropped, as the spec says. */
  end(): void;
}

export function createSseParser(onMessage: (message: SseMessage) => void): SseParser {
  let buffer = "";
  let event = "";
  let data: string[] = [];

  function line(text: string): void {
    if (text === "") {
      if (data.length > 0) onMessage({ event: event || "message", data: data.join("\n") });
      event = "";
      data = [];
      return;
    }
    if (text.startsWith(":")) return;
    const colon = text.indexOf(":");
    const field = colon === -1 ? text : text.slice(0, colon);
    let value = colon === -1 ? "" : text.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }

  return {
    push(text) {
      buffer += text;
      let start = 0;
      for (let i = 0; i < buffer.length; i++) {
        const char = buffer[i];
        if (char !== "\n" && char !== "\r") continue;
        // A CR at the very end may be the first half of a CRLF split across two chunks.
        if (char === "\r" && i === buffer.length - 1) break;
        line(buffer.slice(start, i));
        if (char === "\r" && buffer[i + 1] === "\n") i++;
        start = i + 1;
      }
      buffer = buffer.slice(start);
    },
    end() {
      if (buffer.endsWith("\r")) line(buffer.slice(0, -1));
      buffer = "";
      event = "";
      data = [];
    },
  };
}

/**
 * Reads an SSE body to its end, calling `onMessage` for each message. `onChunk` is called
 * whenever bytes arrive (the caller uses it to reset an idle timer). Rejects if the stream
 * fails, for example when the connection drops.
 */
export async function readSse(
  body: ReadableStream<Uint8Array>,
  onMessage: (message: SseMessage) => void,
  onChunk: () => void = () => {},
): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const parser = createSseParser(onMessage);
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      onChunk();
      parser.push(decoder.decode(value, { stream: true }));
    }
    parser.push(decoder.decode());
    parser.end();
  } finally {
    reader.releaseLock();
  }
}
