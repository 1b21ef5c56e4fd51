// The vector stage of retrieval: the chunks whose vectors are nearest a query vector, with
// their cosine similarities, read from the tenant's vec0 index. Also scores given chunks
// exactly (their text and context vectors), for candidates the keyword stage brought in.
import type { TenantDb } from "#tenants/store.ts";

export interface VectorHit {
  chunkId: number;
  /** Cosine similarity of the query and the chunk's text vector. */
  similarity: number;
}

/** vec0's hard ceiling on `k`. */
export const MAX_VECTOR_K = 4096;

const EXACT_SQL = `SELECT chunk_id, distance FROM chunks_vec WHERE embedding MATCH ? AND k = ?`;

const BINARY_SQL = `SELECT chunk_id FROM chunks_bits
  WHERE bits MATCH vec_quantize_binary(?) AND k = ?`;
const EMBEDDING_SQL = "SELECT embedding FROM chunks_vec WHERE chunk_id = ?";

/** Binary candidates re-scored exactly per wanted neighbour, and at least this many. */
export const RESCORE_FACTOR = 10;
export const MIN_RESCORE = 200;

/**
 * "exact" scans every float vector; "binary" scans the 1-bit copy for candidates and re-scores
 * them exactly. Retrieval uses "exact": the binary path does not yet meet its recall and
 * latency goals at 100,000 chunks (decision 011), so it is measured by the benchmark only.
 */
export type VectorStrategy = "exact" | "binary";

/** The k chunks nearest the query vector, nearest first. */
export function nearestChunks(
  db: TenantDb,
  query: Float32Array,
  k: number,
  strategy: VectorStrategy = "exact",
): VectorHit[] {
  const limit = Math.min(MAX_VECTOR_K, Math.max(0, Math.floor(k)));
  if (limit === 0) return [];
  if (strategy === "exact") {
    const rows = db.prepare(EXACT_SQL).all(query, limit) as {
      chunk_id: number;
      distance: number;
    }[];
    return rows.map((row) => ({ chunkId: row.chunk_id, similarity: 1 - row.distance }));
  }
  const pool = Math.min(MAX_VECTOR_K, Math.max(MIN_RESCORE, limit * RESCORE_FACTOR));
  const ids = db.prepare(BINARY_SQL).pluck().all(query, pool) as number[];
  const embeddingOf = db.prepare(EMBEDDING_SQL).pluck();
  const hits: VectorHit[] = [];
  for (const chunkId of ids) {
    const blob = embeddingOf.get(BigInt(chunkId)) as Buffer | undefined;
    if (blob) hits.push({ chunkId, similarity: cosine(query, asVector(blob)) });
  }
  return hits.sort((a, b) => b.similarity - a.similarity).slice(0, limit);
}

/** Cosine similarity; providers return unit vectors, but a stored vector may not be one. */
export function cosine(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  let normA = 0;
  let normB = 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    sum += x * y;
    normA += x * x;
    normB += y * y;
  }
  return normA > 0 && normB > 0 ? sum / Math.sqrt(normA * normB) : 0;
}

function asVector(blob: Buffer): Float32Array {
  // Copied: a Buffer's offset inside SQLite's memory need not be 4-byte aligned.
  return new Float32Array(new Uint8Array(blob).buffer);
}

/**
 * Cosine similarity of the query with each chunk's text vector and, where stored, its context
 * vector (title and headings).
 */
export function scoreChunks(
  db: TenantDb,
  query: Float32Array,
  chunkIds: readonly number[],
): Map<number, { text: number | null; context: number | null }> {
  const textOf = db.prepare("SELECT embedding FROM chunks_vec WHERE chunk_id = ?").pluck();
  const contextOf = db
    .prepare("SELECT embedding FROM chunk_context_vectors WHERE chunk_id = ?")
    .pluck();
  const scores = new Map<number, { text: number | null; context: number | null }>();
  for (const chunkId of chunkIds) {
    const text = textOf.get(BigInt(chunkId)) as Buffer | undefined;
    const context = contextOf.get(chunkId) as Buffer | undefined;
    scores.set(chunkId, {
      text: text ? cosine(query, asVector(text)) : null,
      context: context ? cosine(query, asVector(context)) : null,
    });
  }
  return scores;
}
