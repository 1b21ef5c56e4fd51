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

/** The k chunks nearest the query vector, nearest first. */
export function nearestChunks(db: TenantDb, query: Float32Array, k: number): VectorHit[] {
  const limit = Math.min(MAX_VECTOR_K, Math.max(0, Math.floor(k)));
  if (limit === 0) return [];
  const rows = db.prepare(EXACT_SQL).all(query, limit) as { chunk_id: number; distance: number }[];
  return rows.map((row) => ({ chunkId: row.chunk_id, similarity: 1 - row.distance }));
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
