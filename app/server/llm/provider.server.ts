// The one streaming interface every answer provider implements: the embedded extractive
// answerer, Groq (groq-sdk) and any OpenAI-compatible chat-completions server.
import type { Context } from "@opentelemetry/api";
export interface SourcePassage {
  /** 1-based number used in citations, [n]. */
  n: number;
  title: string;
  headingPath: string;
  text: string;
  /** Fused retrieval score, higher is better. */
  score: number;
  /**
   * Cosine similarity of the question and the passage (the better of its text and context
   * vectors), when retrieval measured it: unlike the fused score it is not normalised per
   * question, so it says how well the knowledge base matches at all.
   */
  similarity?: number | null;
}

export interface ChatTurn {
  role: "user" | "assistant";
  content: string;
}

export interface AnswerRequest {
  question: string;
  /**
   * Several numbered questions answered in one call (batch asks). When set, `question` is
   * their numbered list and the prompt asks for one numbered answer per question.
   */
  questions?: readonly string[];
  /** The tenant's model override; providers use their configured model when absent. */
  model?: string;
  /** Earlier turns of the conversation, oldest first. */
  history: readonly ChatTurn[];
  sources: readonly SourcePassage[];
  signal?: AbortSignal;
  /** The trace context the upstream call's CLIENT span belongs to (default: the active one). */
  traceContext?: Context;
}

export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
  /** True when counted by us (extractive answerer), false when reported by the provider. */
  estimated: boolean;
}

/** Why an answer came from the extractive fallback instead of the configured LLM. */
export type DegradeReason =
  "breaker_open" | "queue_full" | "retries_exhausted" | "first_token_timeout" | "upstream_error";

export type AnswerChunk =
  | { type: "token"; text: string }
  | { type: "usage"; usage: TokenUsage }
  /** Sent before any token when the answer is produced by the fallback answerer. */
  | { type: "degraded"; reason: DegradeReason; provider: string; model: string };

export interface AnswerProvider {
  /** `extractive`, `groq` or `openai`. */
  readonly name: string;
  readonly model: string;
  stream(request: AnswerRequest): AsyncIterable<AnswerChunk>;
}
