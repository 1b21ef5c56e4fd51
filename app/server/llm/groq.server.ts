// Answers with Groq's hosted models through the official `groq-sdk` client, streamed. Same
// prompt, streaming loop and error shape as the OpenAI-compatible provider; Groq reports the
// token usage in the final chunk's `x_groq.usage`. Touches only the Groq endpoint.
import Groq, { APIConnectionTimeoutError, APIError } from "groq-sdk";
import { streamChatCompletion } from "./openai-compatible.server.ts";
import type { AnswerProvider } from "./provider.server.ts";

export const GROQ_DEFAULT_BASE_URL = "https://api.groq.com";

export interface GroqAnswererOptions {
  apiKey: string;
  /** The API root the client appends `/openai/v1/chat/completions` to. */
  baseUrl?: string;
  model: string;
  maxTokens: number;
  /** The whole answer, first byte to last token, must arrive within this time. */
  timeoutMs: number;
}

/**
 * The `groq-sdk` client as every BiTB caller needs it (the answerer, the tool caller):
 * `timeoutMs` is the whole call's limit; retries and circuit breaking belong to the resilient
 * wrapper, never the SDK.
 */
export function createGroqClient(options: {
  apiKey: string;
  baseUrl?: string;
  timeoutMs: number;
}): Groq {
  return new Groq({
    apiKey: options.apiKey,
    // Explicit, so the client never falls back to GROQ_BASE_URL behind the config's back.
    baseURL: options.baseUrl ?? GROQ_DEFAULT_BASE_URL,
    timeout: options.timeoutMs,
    maxRetries: 0,
  });
}

/** The provider named `groq`. */
export function createGroqAnswerer(options: GroqAnswererOptions): AnswerProvider {
  const client = createGroqClient(options);
  return {
    name: "groq",
    model: options.model,
    stream(request) {
      return streamChatCompletion({
        provider: "groq",
        request,
        timeoutMs: options.timeoutMs,
        errors: { APIError, APIConnectionTimeoutError },
        model: request.model ?? options.model,
        open: (messages, signal, headers) =>
          client.chat.completions.create(
            {
              // The tenant's model override, else the configured one.
              model: request.model ?? options.model,
              messages,
              stream: true,
              max_completion_tokens: options.maxTokens,
              // Low temperature: the answer should restate the sources, not improvise.
              temperature: 0.2,
            },
            { signal, headers },
          ),
      });
    },
  };
}
