// The SSE event vocabulary of POST /api/ask, in one place. The server, the admin playground
// and the widget all read these types. Each event is `event: <name>\ndata: <json>\n\n`.
//
//   sources  the passages the answer may cite, sent before the first token
//   token    a piece of the answer text, in order
//   done     the whole answer with its citations, token usage and latency
//   error    the ask failed; nothing more follows
export interface Citation {
  /** The [n] number used in the answer text. */
  n: number;
  documentId: number;
  title: string;
  url: string | null;
  fileName: string | null;
  headingPath: string;
  snippet: string;
  score: number;
}

export interface AskUsage {
  promptTokens: number;
  completionTokens: number;
  estimated: boolean;
}

export interface AskLatency {
  retrievalMs: number;
  firstTokenMs: number | null;
  totalMs: number;
}

export interface SourcesEvent {
  conversationId: string;
  sources: Citation[];
}
export interface TokenEvent {
  text: string;
}
export interface DoneEvent {
  conversationId: string;
  answer: string;
  /** The sources the answer actually cites, by their [n]. */
  citations: Citation[];
  /** True when the knowledge base did not cover the question. */
  abstained: boolean;
  /** True when the configured LLM could not answer and the extractive answerer did. */
  degraded: boolean;
  /** Why it degraded: breaker_open, queue_full, retries_exhausted, first_token_timeout, upstream_error. */
  degradedReason: string | null;
  provider: string;
  model: string;
  usage: AskUsage;
  latency: AskLatency;
}
export interface ErrorEvent {
  code: string;
  message: string;
}

export interface AskEventMap {
  sources: SourcesEvent;
  token: TokenEvent;
  done: DoneEvent;
  error: ErrorEvent;
}
export type AskEventName = keyof AskEventMap;

/** Parses an SSE byte stream into ask events (used by the playground, tests and the CLI). */
export async function* readAskEvents(
  body: ReadableStream<Uint8Array>,
): AsyncGenerator<{ [K in AskEventName]: { event: K; data: AskEventMap[K] } }[AskEventName]> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, "\n");
    let boundary: number;
    while ((boundary = buffer.indexOf("\n\n")) !== -1) {
      const block = buffer.slice(0, boundary);
      buffer = buffer.slice(boundary + 2);
      let event = "message";
      const data: string[] = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length === 0) continue;
      if (event === "sources" || event === "token" || event === "done" || event === "error") {
        // eslint-disable-next-line @typescript-eslint/no-explicit-any -- validated by event name
        yield { event, data: JSON.parse(data.join("\n")) } as any;
      }
    }
  }
}
