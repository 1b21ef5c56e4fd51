// The one streaming interface every answer provider implements: the embedded extractive
// answerer, Groq (groq-sdk) and any OpenAI-compatible chat-completions server.
export interface SourcePassage {
  /** 1-based number used in citations, [n]. */
  n: number;
  title: string;
  headingPath: string;
  text: string;
  /** Fused retrieval score, higher is better. */
  score: number;
}

export interface ChatTurn {
  role: "user" | "assistant";
  content: string;
}

export interface AnswerRequest {
  question: string;
  /** Earlier turns of the conversation, oldest first. */
  history: readonly ChatTurn[];
  sources: readonly SourcePassage[];
  signal?: AbortSignal;
}

export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
  /** True when counted by us (extractive answerer), false when reported by the provider. */
  estimated: boolean;
}

export type AnswerChunk = { type: "token"; text: string } | { type: "usage"; usage: TokenUsage };

export interface AnswerProvider {
  /** `extractive`, `groq` or `openai`. */
  readonly name: string;
  readonly model: string;
  stream(request: AnswerRequest): AsyncIterable<AnswerChunk>;
}
