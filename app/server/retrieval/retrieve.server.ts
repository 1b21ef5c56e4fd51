// Hybrid retrieval over one tenant's knowledge base: a BM25 keyword stage on `chunks_fts` and
// a cosine KNN stage on `chunks_vec` propose candidates; every candidate is then scored by
// both signals (its BM25 score, and the better of its text and context vectors' cosine) and
// the two are fused by a weighted sum of per-query normalised scores. Reads the tenant
// database only; the embedder is the one network/CPU-heavy step, and the keyword stage runs
// while it embeds the question.
// Why score fusion and not reciprocal ranks: docs/decisions/010-retrieval-quality.md.
import { citedChunk, hasChunks } from "#tenants/search.ts";
import type { TenantDb } from "#tenants/store.ts";
import type { EmbeddingProvider } from "../embeddings/provider.server.ts";
import { calibratedVectorWeight } from "./calibrate.server.ts";
import { toFtsQuery } from "./fts-query.server.ts";
import { fusedScores } from "./fusion.server.ts";
import { keywordSearch, type KeywordHit } from "./keyword.server.ts";
import type { RetrievedChunk } from "./types.server.ts";
import { MAX_VECTOR_K, nearestChunks, scoreChunks } from "./vector-search.server.ts";

export interface RetrieveOptions {
  /** How many fused chunks to return. */
  topK: number;
  /** How many candidates each stage contributes to the fusion; default max(5·topK, 100). */
  candidates?: number;
  /**
   * Weight of the normalised keyword score in the fusion; default: 1 − the tenant's
   * calibrated vector weight, or KEYWORD_WEIGHT when it has none.
   */
  keywordWeight?: number;
  /** Weight of the normalised vector score; default: the tenant's calibrated one, or VECTOR_WEIGHT. */
  vectorWeight?: number;
}

export interface RetrieveStats {
  keywordMs: number;
  embedMs: number;
  vectorMs: number;
  totalMs: number;
  /** How many candidates each stage returned before fusion. */
  keywordHits: number;
  vectorHits: number;
}

export interface RetrieveResult {
  chunks: RetrievedChunk[];
  stats: RetrieveStats;
}

/**
 * Default fusion weights, measured on the shared evaluation sets (decision 010): the keyword
 * score a little above the vector score, because the embedded encoder is the weaker signal on
 * technical text while BM25 is rarely badly wrong.
 */
export const KEYWORD_WEIGHT = 0.55;
export const VECTOR_WEIGHT = 0.45;

interface Candidate {
  chunkId: number;
  score: number;
  keywordScore: number;
  keywordRank: number | null;
  vectorRank: number | null;
  similarity: number | null;
}

/** Same as `retrieveWithStats`, without the timings. */
export async function retrieve(
  db: TenantDb,
  embedder: EmbeddingProvider,
  query: string,
  opts: RetrieveOptions,
): Promise<RetrievedChunk[]> {
  return (await retrieveWithStats(db, embedder, query, opts)).chunks;
}

/**
 * Retrieves the `topK` chunks that best match `query`, best first, with the time each stage
 * took. `tenant` is the handle, or a function that returns the tenant's open handle: it is
 * taken again after the embedding call (the only await), so a handle the tenant pool closed
 * meanwhile (evicted by asks to other tenants) is reopened instead of failing the ask. All SQL
 * after the await runs in one synchronous stretch.
 */
export async function retrieveWithStats(
  tenant: TenantDb | (() => TenantDb),
  embedder: EmbeddingProvider,
  query: string,
  opts: RetrieveOptions,
): Promise<RetrieveResult> {
  const started = performance.now();
  const stats: RetrieveStats = {
    keywordMs: 0,
    embedMs: 0,
    vectorMs: 0,
    totalMs: 0,
    keywordHits: 0,
    vectorHits: 0,
  };
  const topK = Math.max(0, Math.floor(opts.topK));
  const candidates = Math.min(
    MAX_VECTOR_K,
    Math.max(topK, Math.floor(opts.candidates ?? Math.max(topK * 5, 100))),
  );
  const finish = (chunks: RetrievedChunk[]): RetrieveResult => {
    stats.totalMs = performance.now() - started;
    return { chunks, stats };
  };

  const handle = () => (typeof tenant === "function" ? tenant() : tenant);
  // An empty knowledge base or an empty question cannot match anything: skip the embedding.
  if (topK === 0 || query.trim() === "" || !hasChunks(handle())) return finish([]);

  // The keyword stage runs while a worker embeds the question (its SQL needs no vector), so
  // embedMs, the wait for the vector, includes keywordMs.
  const embedStarted = performance.now();
  const embedding = embedder.embed([query], "query");
  let keywordHits: KeywordHit[];
  try {
    const ftsQuery = toFtsQuery(query);
    keywordHits = ftsQuery === null ? [] : keywordSearch(handle(), ftsQuery, candidates);
  } catch (error) {
    // The embedding's outcome no longer matters, but must not go unhandled.
    embedding.catch(() => undefined);
    throw error;
  }
  stats.keywordMs = performance.now() - embedStarted;
  const [queryVector] = await embedding;
  stats.embedMs = performance.now() - embedStarted;
  if (!queryVector) throw new Error(`embedder ${embedder.model} returned no vector for the query`);
  const db = handle();
  if (!db.open) throw new Error("the tenant database was closed while the query was embedded");
  const { keywordWeight, vectorWeight } = fusionWeights(db, opts);

  const fused = new Map<number, Candidate>();
  const candidate = (chunkId: number): Candidate => {
    let entry = fused.get(chunkId);
    if (!entry) {
      entry = {
        chunkId,
        score: 0,
        keywordScore: 0,
        keywordRank: null,
        vectorRank: null,
        similarity: null,
      };
      fused.set(chunkId, entry);
    }
    return entry;
  };

  // Chunk and document BM25, combined (keyword.server.ts, decision 035).
  stats.keywordHits = keywordHits.length;
  keywordHits.forEach((hit, index) => {
    const entry = candidate(hit.chunkId);
    entry.keywordRank = index + 1;
    entry.keywordScore = hit.score;
  });

  const vectorStarted = performance.now();
  const neighbours = nearestChunks(db, queryVector, candidates);
  stats.vectorHits = neighbours.length;
  neighbours.forEach((hit, index) => {
    candidate(hit.chunkId).vectorRank = index + 1;
  });
  // Every candidate gets both scores: the vector one is the better of its text and context
  // vectors, computed exactly, also for chunks only the keyword stage proposed.
  const similarities = scoreChunks(db, queryVector, [...fused.keys()]);
  for (const entry of fused.values()) {
    const { text, context } = similarities.get(entry.chunkId) ?? { text: null, context: null };
    const best = Math.max(text ?? -Infinity, context ?? -Infinity);
    entry.similarity = Number.isFinite(best) ? best : null;
  }
  stats.vectorMs = performance.now() - vectorStarted;

  fuseScores([...fused.values()], neighbours, keywordWeight, vectorWeight);
  const ranked = [...fused.values()].sort(byFusedScore);
  const chunks: RetrievedChunk[] = [];
  for (const entry of ranked) {
    if (chunks.length === topK) break;
    // An index row whose chunk is gone (a document deleted mid-query) is skipped, not fatal.
    const row = citedChunk(db, entry.chunkId);
    if (!row) continue;
    chunks.push({
      chunkId: row.id,
      documentId: row.document_id,
      title: row.title,
      url: row.url,
      fileName: row.file_name,
      headingPath: row.heading_path,
      text: row.text,
      score: entry.score,
      keywordRank: entry.keywordRank,
      vectorRank: entry.vectorRank,
      similarity: entry.similarity,
    });
  }
  return finish(chunks);
}

function fuseScores(
  entries: Candidate[],
  neighbours: readonly { similarity: number }[],
  keywordWeight: number,
  vectorWeight: number,
): void {
  const scores = fusedScores(entries, neighbours, keywordWeight, vectorWeight);
  entries.forEach((entry, index) => {
    entry.score = scores[index] as number;
  });
}

/**
 * The weights a query is fused with: the caller's, else the tenant's calibrated ones
 * (calibrate.server.ts), else the defaults.
 */
export function fusionWeights(
  db: TenantDb,
  opts: Pick<RetrieveOptions, "keywordWeight" | "vectorWeight"> = {},
): { keywordWeight: number; vectorWeight: number } {
  const calibrated = calibratedVectorWeight(db);
  const vectorWeight = opts.vectorWeight ?? calibrated ?? VECTOR_WEIGHT;
  const keywordWeight =
    opts.keywordWeight ?? (calibrated === null ? KEYWORD_WEIGHT : 1 - vectorWeight);
  return { keywordWeight: Math.max(0, keywordWeight), vectorWeight: Math.max(0, vectorWeight) };
}

/** Higher fused score first; ties go to the better single-stage rank, then the older chunk. */
function byFusedScore(a: Candidate, b: Candidate): number {
  return b.score - a.score || bestRank(a) - bestRank(b) || a.chunkId - b.chunkId;
}

function bestRank(entry: Candidate): number {
  return Math.min(entry.keywordRank ?? Infinity, entry.vectorRank ?? Infinity);
}
