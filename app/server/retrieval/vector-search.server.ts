// The vector stage of retrieval: the chunks whose vectors are nearest a query vector, with
// their cosine similarities, from the tenant's vec0 index (exact scan) or, for large tenants,
// its in-memory index with exact re-scoring (decision 011). Also scores given chunks exactly
// (their text and context vectors), for candidates the keyword stage brought in.
import { contextVector, nearestInVec0, storedVectors, vec0Vector } from "#tenants/search.ts";
import { hasVectorCopy, type TenantDb } from "#tenants/store.ts";
import type { VectorHit } from "./types.server.ts";
import { candidatePool, vectorIndexOf } from "./vector-index.server.ts";

/** vec0's hard ceiling on `k`. */
export const MAX_VECTOR_K = 4096;

/**
 * "exact" scans every float vector in SQLite (vec0). "binary" searches the tenant's in-memory
 * index (vector-index.server.ts): a Hamming scan of 1-bit codes for candidates, re-scored with
 * int8 codes, whose best 2k (k + 10 at least) are re-scored exactly from chunk_vectors; it
 * rebuilds a stale index at once. "auto" (what retrieval uses) takes the binary path for tenants of at least
 * DEFAULT_FAST_PATH_MIN_CHUNKS chunks whose index fits the memory budget, the exact scan otherwise
 * and while a changed tenant's index waits for its rebuild interval (decision 011).
 */
export type VectorStrategy = "exact" | "binary" | "auto";

/** The k chunks nearest the query vector, nearest first. */
export function nearestChunks(
  db: TenantDb,
  query: Float32Array,
  k: number,
  strategy: VectorStrategy = "auto",
): VectorHit[] {
  const limit = Math.min(MAX_VECTOR_K, Math.max(0, Math.floor(k)));
  if (limit === 0) return [];
  if (strategy !== "exact") {
    const index = strategy === "binary" ? vectorIndexOf(db, 1, false) : vectorIndexOf(db);
    if (index) {
      // The int8 ranking's best, with a margin for its rounding, re-scored exactly.
      const rough = index.search(
        query,
        limit + Math.max(RERANK_MARGIN, limit),
        candidatePool(limit),
      );
      const exact = textSimilarities(
        db,
        query,
        rough.map((hit) => hit.chunkId),
      );
      return rough
        .map((hit) => ({
          chunkId: hit.chunkId,
          similarity: exact.get(hit.chunkId) ?? hit.similarity,
        }))
        .sort((a, b) => b.similarity - a.similarity)
        .slice(0, limit);
    }
  }
  return nearestInVec0(db, query, limit).map((row) => ({
    chunkId: row.chunk_id,
    similarity: 1 - row.distance,
  }));
}

/** Extra candidates of the in-memory index re-scored exactly: at least this many, or k. */
export const RERANK_MARGIN = 10;

type Similarities = Map<number, { text: number | null; context: number | null }>;

/**
 * Cosine similarity of the query with each chunk's text vector and, where stored, its context
 * vector (title and headings). Text vectors come from the plain copy, or from vec0 for a row
 * the copy lacks (a file written without it); a chunk without any vector scores null.
 */
function similaritiesOf(
  db: TenantDb,
  query: Float32Array,
  chunkIds: readonly number[],
  withContext: boolean,
): Similarities {
  const scores: Similarities = new Map();
  const score = (blob: Buffer | null | undefined) => (blob ? cosine(query, asVector(blob)) : null);
  if (hasVectorCopy(db)) {
    for (const row of storedVectors(db, chunkIds, withContext)) {
      scores.set(row.chunkId, { text: score(row.text), context: score(row.context) });
    }
  } else {
    for (const chunkId of chunkIds) {
      const context = withContext ? contextVector(db, chunkId) : undefined;
      scores.set(chunkId, { text: null, context: score(context) });
    }
  }
  for (const [chunkId, entry] of scores) {
    if (entry.text !== null) continue;
    entry.text = score(vec0Vector(db, chunkId));
  }
  return scores;
}

/** Cosine similarity of the query with each chunk's text vector (chunks without one: none). */
function textSimilarities(
  db: TenantDb,
  query: Float32Array,
  chunkIds: readonly number[],
): Map<number, number> {
  const similarities = new Map<number, number>();
  for (const [chunkId, { text }] of similaritiesOf(db, query, chunkIds, false)) {
    if (text !== null) similarities.set(chunkId, text);
  }
  return similarities;
}

/** Whether nearestChunks's default ("auto") searches this tenant's in-memory index. */
export function usesFastPath(db: TenantDb): boolean {
  return vectorIndexOf(db) !== undefined;
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
): Similarities {
  return similaritiesOf(db, query, chunkIds, true);
}
