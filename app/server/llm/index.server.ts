// Picks the answer provider the configuration asks for: Groq when GROQ_API_KEY is set, an
// OpenAI-compatible server when LLM_BASE_URL is set, otherwise the embedded extractive answerer.
import type { Config } from "../config.server.ts";
import { createExtractiveAnswerer } from "./extractive.server.ts";
import { createGroqAnswerer } from "./groq.server.ts";
import { createOpenAICompatibleAnswerer } from "./openai-compatible.server.ts";
import type { AnswerProvider } from "./provider.server.ts";

export interface CreateAnswererOptions {
  /** LLM_MAX_TOKENS: the most tokens a hosted model may generate for one answer. */
  maxTokens: number;
  /** LLM_TIMEOUT_MS: the longest a hosted model may take for one whole answer. */
  timeoutMs: number;
}

export function createAnswerer(config: Config["llm"], opts: CreateAnswererOptions): AnswerProvider {
  switch (config.kind) {
    case "extractive":
      return createExtractiveAnswerer();
    case "groq":
      return createGroqAnswerer({
        apiKey: config.apiKey,
        baseUrl: config.baseUrl,
        model: config.model,
        maxTokens: opts.maxTokens,
        timeoutMs: opts.timeoutMs,
      });
    case "openai":
      return createOpenAICompatibleAnswerer({
        baseUrl: config.baseUrl,
        apiKey: config.apiKey,
        model: config.model,
        maxTokens: opts.maxTokens,
        timeoutMs: opts.timeoutMs,
      });
  }
}
