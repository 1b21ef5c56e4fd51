// Picks the answer provider the configuration asks for: Groq when GROQ_API_KEY is set, an
// OpenAI-compatible server when LLM_BASE_URL is set, otherwise the embedded extractive answerer.
// A hosted provider always comes wrapped in the resilience policy (resilient.server.ts), with
// the extractive answerer as its fallback.
import { envSchema, type Config } from "../config.server.ts";
import { silentLogger } from "../logger.server.ts";
import { createExtractiveAnswerer } from "./extractive.server.ts";
import { createGroqAnswerer } from "./groq.server.ts";
import { createOpenAICompatibleAnswerer } from "./openai-compatible.server.ts";
import type { AnswerProvider } from "./provider.server.ts";
import {
  createResilientAnswerer,
  policyFromConfig,
  type ProviderHealth,
  type ResilienceLogger,
  type ResiliencePolicy,
  type ResilienceSettings,
} from "./resilient.server.ts";

export interface CreateAnswererOptions {
  /** LLM_MAX_TOKENS: the most tokens a hosted model may generate for one answer. */
  maxTokens: number;
  /** LLM_TIMEOUT_MS: the longest a hosted model may take for one whole answer. */
  timeoutMs: number;
  /**
   * The resilience policy around a hosted provider: a ResiliencePolicy, or the configuration
   * whose LLM_* settings make one (policyFromConfig). Default: the settings' defaults, with
   * `timeoutMs` as the total timeout.
   */
  policy?: ResiliencePolicy | ResilienceSettings;
  /** Where breaker transitions and degraded answers are logged (default: nowhere). */
  logger?: ResilienceLogger;
}

/** An answer provider; hosted ones also report their health (breaker, load). */
export type Answerer = AnswerProvider & { health?: () => ProviderHealth };

function toPolicy(opts: CreateAnswererOptions): ResiliencePolicy {
  if (opts.policy) return "breaker" in opts.policy ? opts.policy : policyFromConfig(opts.policy);
  // The configuration schema's LLM_* defaults, with this answerer's total timeout.
  const defaults = policyFromConfig(envSchema.parse({}));
  return {
    ...defaults,
    firstTokenTimeoutMs: Math.min(defaults.firstTokenTimeoutMs, opts.timeoutMs),
    totalTimeoutMs: opts.timeoutMs,
  };
}

export function createAnswerer(config: Config["llm"], opts: CreateAnswererOptions): Answerer {
  const fallback = createExtractiveAnswerer();
  let primary: AnswerProvider;
  switch (config.kind) {
    case "extractive":
      return fallback;
    case "groq":
      primary = createGroqAnswerer({
        apiKey: config.apiKey,
        baseUrl: config.baseUrl,
        model: config.model,
        maxTokens: opts.maxTokens,
        timeoutMs: opts.timeoutMs,
      });
      break;
    case "openai":
      primary = createOpenAICompatibleAnswerer({
        baseUrl: config.baseUrl,
        apiKey: config.apiKey,
        model: config.model,
        maxTokens: opts.maxTokens,
        timeoutMs: opts.timeoutMs,
      });
      break;
  }
  return createResilientAnswerer({
    primary,
    fallback,
    policy: toPolicy(opts),
    logger: opts.logger ?? silentLogger,
  });
}
