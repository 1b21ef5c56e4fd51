// A deterministic EmbeddingProvider for tests: each word is hashed (FNV-1a) into one of
// `dimension` buckets with a sign, and the vector is L2-normalised. Texts sharing words get
// similar vectors, so vector search behaves sensibly on small fixtures, with no model.
import type { EmbeddingProvider } from "../../app/server/embeddings/provider.server.ts";

export interface FakeEmbedderOptions {
  dimension?: number;
  model?: string;
  /** Milliseconds each embed call waits, to exercise progress and shutdown paths. */
  delayMs?: number;
}

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

export class FakeEmbedder implements EmbeddingProvider {
  readonly model: string;
  readonly dimension: number;
  private readonly delayMs: number;
  /** Number of embed calls and texts embedded so far. */
  calls = 0;
  texts = 0;
  /** Makes the next `count` calls reject with `error` (to test retries). */
  private failures: { count: number; error: Error } = {
    count: 0,
    error: new Error("embedding failed"),
  };

  constructor(options: FakeEmbedderOptions = {}) {
    this.dimension = options.dimension ?? 8;
    this.model = options.model ?? `fake:hash-${this.dimension}`;
    this.delayMs = options.delayMs ?? 0;
  }

  failNext(count: number, error: Error = new Error("embedding service unavailable")): void {
    this.failures = { count, error };
  }

  vector(text: string): Float32Array {
    const vector = new Float32Array(this.dimension);
    for (const word of text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) {
      const hash = fnv1a(word);
      const bucket = hash % this.dimension;
      vector[bucket] = (vector[bucket] ?? 0) + (hash & 0x80000000 ? -1 : 1);
    }
    const norm = Math.hypot(...vector);
    if (norm === 0) {
      vector[0] = 1;
      return vector;
    }
    return vector.map((value) => value / norm);
  }

  async embed(texts: readonly string[], _kind: "query" | "document"): Promise<Float32Array[]> {
    this.calls++;
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    if (this.failures.count > 0) {
      this.failures.count--;
      throw this.failures.error;
    }
    this.texts += texts.length;
    return texts.map((text) => this.vector(text));
  }
}
