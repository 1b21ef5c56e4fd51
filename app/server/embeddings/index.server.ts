// Picks the embedding provider the configuration asks for: an OpenAI-compatible server when
// EMBEDDINGS_BASE_URL is set, otherwise the embedded Universal Sentence Encoder Lite.
import type { Config } from "../config.server.ts";
import { createLocalEmbedder } from "./local.server.ts";
import { createOpenAIEmbedder } from "./openai.server.ts";
import type { EmbeddingProvider } from "./provider.server.ts";

export interface CreateEmbedderOptions {
  /** Per request to a remote embedding server (FETCH_TIMEOUT_MS is a sensible value). */
  timeoutMs: number;
  fetch?: typeof fetch;
  /**
   * Receives the embedded encoder's one line saying which runtime serves it (ONNX Runtime, or
   * tfjs as the fallback); the server passes its logger's info (decision 041).
   */
  log?: (line: string) => void;
}

/** Creates (and for remote servers, probes) the configured embedder. */
export async function createEmbedder(
  config: Config["embeddings"],
  opts: CreateEmbedderOptions,
): Promise<EmbeddingProvider> {
  switch (config.kind) {
    case "local":
      return createLocalEmbedder({ log: opts.log });
    case "openai":
      return createOpenAIEmbedder({
        baseUrl: config.baseUrl,
        apiKey: config.apiKey,
        model: config.model,
        batchSize: config.batchSize,
        timeoutMs: opts.timeoutMs,
        fetch: opts.fetch,
      });
  }
}
