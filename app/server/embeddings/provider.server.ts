// The one interface every embedding provider implements: the embedded default (a model
// shipped inside an npm package) and any OpenAI-compatible /embeddings server.
export interface EmbeddingProvider {
  /** Stable identifier recorded in each tenant database, e.g. `local:use-lite-512`. */
  readonly model: string;
  readonly dimension: number;
  /**
   * Embeds texts in order, batching internally. Vectors are L2-normalised.
   * `kind` lets providers that distinguish queries from passages do so.
   */
  embed(texts: readonly string[], kind: "query" | "document"): Promise<Float32Array[]>;
  close?(): Promise<void>;
}
