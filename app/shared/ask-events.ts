// The SSE event vocabulary of POST /api/ask, in one place. The server, the admin playground
// and the widget all read these types. Each event is `event: <name>\ndata: <json>\n\n`.
//
//   sources  the passages the answer may cite, sent before the first token
//   token    a piece of the answer text, in order
//   action   an action offered to the visitor (a form or card to confirm), before done
//   done     the whole answer with its citations, token usage and latency
//   error    the ask failed; nothing more follows
//
// A batch ask (`queries: string[]`) uses its own events instead:
//
//   batch       the batch started: its conversation, mode and question count (sent first)
//   progress    one question moved on: retrieving → answering → done | failed
//   result      one question's finished answer (or its error), as soon as it is ready
//   batch_done  every result in question order, the usage totals and the latency (sent last)
import { createParser, type EventSourceMessage } from "eventsource-parser";

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
  /** The stored answer's id, for the visitor's thumbs up or down. */
  messageId: number;
  answer: string;
  /** The sources the answer actually cites, by their [n]. */
  citations: Citation[];
  /** True when the knowledge base did not cover the question. */
  abstained: boolean;
  /** True when the configured LLM could not answer and the extractive answerer did. */
  degraded: boolean;
  /** Why it degraded: breaker_open, queue_full, retries_exhausted, first_token_timeout, upstream_error. */
  degradedReason: string | null;
  /** True when this is a stored answer to the same question (no LLM call, no tokens). */
  cached: boolean;
  provider: string;
  model: string;
  usage: AskUsage;
  latency: AskLatency;
}
export interface ErrorEvent {
  code: string;
  message: string;
}

/** One input of an offered action's form (docs/decisions/027). */
export interface ActionField {
  /** The argument's name, e.g. "date". */
  name: string;
  label: string;
  type: "text" | "textarea" | "date" | "time" | "number" | "select" | "email" | "tel";
  required: boolean;
  /** For "select", e.g. the free slots "09:00", "09:30"… */
  options?: string[];
  /** Prefilled from the model's call or the question. */
  value?: string | number;
}

/** An action offered to the visitor, to confirm with POST /api/actions/confirm. */
export interface ActionEvent {
  /** Opaque, single use, bound to this visitor session's conversation. */
  offerId: string;
  /** The action, e.g. "book_appointment", "handoff_to_human". */
  name: string;
  title: string;
  /** One line for the card. */
  description: string;
  fields: ActionField[];
  /** True: the form also asks name / e-mail / phone, with a consent box. */
  contact: boolean;
  /** "tool": the LLM proposed it; "match": the embedded default offers it as a button. */
  source: "tool" | "match";
  /** ms since the epoch; a confirm after it answers 410 offer_expired. */
  expiresAt: number;
}

/**
 * How a batch was answered: `aggregated` = one LLM call for all its questions (falling back
 * to one call per question when the reply cannot be split); `parallel` = one call per
 * question, a few at a time (always so for the extractive answerer and for large batches).
 */
export type BatchMode = "aggregated" | "parallel";

export interface BatchUsage extends AskUsage {
  /**
   * True when these tokens are a share of a call several questions shared (the aggregated
   * call, or duplicate questions answered once): prompt tokens split evenly, completion
   * tokens in proportion to answer length.
   */
  apportioned: boolean;
}

export interface BatchStartEvent {
  conversationId: string;
  mode: BatchMode;
  /** How many questions the batch has; results use their 0-based `index`. */
  count: number;
}

export type BatchQuestionState = "retrieving" | "answering" | "done" | "failed";

export interface ProgressEvent {
  index: number;
  state: BatchQuestionState;
}

export interface BatchResult {
  /** 0-based position of the question in `queries`. */
  index: number;
  query: string;
  /** The stored answer's id, for the visitor's thumbs up or down; null when not recorded. */
  messageId: number | null;
  /** Empty when `error` is set. */
  answer: string;
  /** The sources the answer cites, numbered as in the answer's [n] markers. */
  citations: Citation[];
  /** The passages retrieved for this question, numbered as the answer may cite them. */
  sources: Citation[];
  abstained: boolean;
  degraded: boolean;
  degradedReason: string | null;
  provider: string;
  model: string;
  usage: BatchUsage;
  /** From the start of the batch to this result. */
  latencyMs: number;
  error: ErrorEvent | null;
}

export interface BatchDoneEvent {
  conversationId: string;
  mode: BatchMode;
  /** Every question's result, in question order. */
  results: BatchResult[];
  /** The sum of the results' usage; `estimated` when any part was estimated. */
  usage: AskUsage;
  latencyMs: number;
}

/** The events of one question (`query`). */
export interface SingleAskEventMap {
  sources: SourcesEvent;
  token: TokenEvent;
  action: ActionEvent;
  done: DoneEvent;
  error: ErrorEvent;
}

/** The events of a batch (`queries`). */
export interface BatchEventMap {
  batch: BatchStartEvent;
  progress: ProgressEvent;
  result: BatchResult;
  batch_done: BatchDoneEvent;
}

export interface AskEventMap extends SingleAskEventMap, BatchEventMap {}
export type AskEventName = keyof AskEventMap;

const eventNames: ReadonlySet<string> = new Set<AskEventName>([
  "sources",
  "token",
  "action",
  "done",
  "error",
  "batch",
  "progress",
  "result",
  "batch_done",
]);

/**
 * Parses an SSE byte stream into ask events (used by the playground, tests and the CLI), with
 * eventsource-parser: line ends of every kind, also split across chunks (decision 046). The
 * widget keeps its own smaller parser for its size budget.
 */
export async function* readAskEvents(
  body: ReadableStream<Uint8Array>,
): AsyncGenerator<{ [K in AskEventName]: { event: K; data: AskEventMap[K] } }[AskEventName]> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const parsed: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (message) => parsed.push(message) });
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    parser.feed(decoder.decode(value, { stream: true }));
    for (const message of parsed.splice(0)) {
      const event = message.event ?? "message";
      if (message.data === "" || !eventNames.has(event)) continue;
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- validated by event name
      yield { event, data: JSON.parse(message.data) } as any;
    }
  }
}
