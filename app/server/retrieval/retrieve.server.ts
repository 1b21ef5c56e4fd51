// Hybrid retrieval over one tenant's knowledge base: a BM25 keyword stage on `chunks_fts`, a
// cosine KNN stage on `chunks_vec`, fused by weighted reciprocal rank fusion, then the
// winning chunks are loaded with their document's title and link. Reads the tenant database
// only; the embedder is the one network/CPU-heavy step and runs before any SQL.
import type { TenantDb } from "#tenants/store.ts";
import type { EmbeddingProvider } from "../embeddings/provider.server.ts";
import { toFtsQuery } from "./fts-query.server.ts";
import type { RetrievedChunk } from "./types.server.ts";

export interface RetrieveOptions {
  /** How many fused chunks to return. */
  topK: number;
  /** How many candidates each stage contributes to the fusion; default max(5·topK, 30). */
  candidates?: number;
  /** Weight of the keyword stage in the fusion; default 1. */
  keywordWeight?: number;
  /** Weight of the vector stage in the fusion; default 1. */
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
 * The usual RRF constant: large enough that rank 1 and rank 2 of one stage differ by little,
 * so agreement between the two stages outweighs a single stage's top spot.
 */
export const RRF_K = 60;
/** vec0's hard ceiling on `k`. */
const MAX_VECTOR_K = 4096;

/**
 * FTS5 column weights (title, heading, body): a query word in a document's title or in the
 * section heading says more about the chunk than the same word somewhere in its body.
 */
const KEYWORD_SQL = `SELECT rowid, bm25(chunks_fts, 3.0, 2.0, 1.0) AS rank
  FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY rank LIMIT ?`;
const VECTOR_SQL = `SELECT chunk_id, distance FROM chunks_vec WHERE embedding MATCH ? AND k = ?`;
const CHUNK_SQL = `SELECT c.id, c.document_id, c.heading_path, c.text, d.title, d.url, d.file_name
  FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.id = ?`;

interface ChunkRow {
  id: number;
  document_id: number;
  heading_path: string;
  text: string;
  title: string;
  url: string | null;
  file_name: string | null;
}

interface Candidate {
  chunkId: number;
  score: number;
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
    Math.max(topK, Math.floor(opts.candidates ?? Math.max(topK * 5, 30))),
  );
  const keywordWeight = opts.keywordWeight ?? 1;
  const vectorWeight = opts.vectorWeight ?? 1;
  const finish = (chunks: RetrievedChunk[]): RetrieveResult => {
    stats.totalMs = performance.now() - started;
    return { chunks, stats };
  };

  const handle = () => (typeof tenant === "function" ? tenant() : tenant);
  // An empty knowledge base or an empty question cannot match anything: skip the embedding.
  if (topK === 0 || query.trim() === "" || !hasChunks(handle())) return finish([]);

  const embedStarted = performance.now();
  const [queryVector] = await embedder.embed([query], "query");
  stats.embedMs = performance.now() - embedStarted;
  if (!queryVector) throw new Error(`embedder ${embedder.model} returned no vector for the query`);
  const db = handle();
  if (!db.open) throw new Error("the tenant database was closed while the query was embedded");

  const fused = new Map<number, Candidate>();
  const candidate = (chunkId: number): Candidate => {
    let entry = fused.get(chunkId);
    if (!entry) {
      entry = { chunkId, score: 0, keywordRank: null, vectorRank: null, similarity: null };
      fused.set(chunkId, entry);
    }
    return entry;
  };

  const keywordStarted = performance.now();
  const ftsQuery = toFtsQuery(query);
  if (ftsQuery !== null) {
    const rows = db.prepare(KEYWORD_SQL).all(ftsQuery, candidates) as { rowid: number }[];
    stats.keywordHits = rows.length;
    rows.forEach((row, index) => {
      const entry = candidate(row.rowid);
      entry.keywordRank = index + 1;
      entry.score += keywordWeight / (RRF_K + index + 1);
    });
  }
  stats.keywordMs = performance.now() - keywordStarted;

  const vectorStarted = performance.now();
  const neighbours = db.prepare(VECTOR_SQL).all(queryVector, candidates) as {
    chunk_id: number;
    distance: number;
  }[];
  stats.vectorHits = neighbours.length;
  neighbours.forEach((row, index) => {
    const entry = candidate(row.chunk_id);
    entry.vectorRank = index + 1;
    entry.similarity = 1 - row.distance;
    entry.score += vectorWeight / (RRF_K + index + 1);
  });
  stats.vectorMs = performance.now() - vectorStarted;

  const ranked = [...fused.values()].sort(byFusedScore);
  const loadChunk = db.prepare(CHUNK_SQL);
  const chunks: RetrievedChunk[] = [];
  for (const entry of ranked) {
    if (chunks.length === topK) break;
    // An index row whose chunk is gone (a document deleted mid-query) is skipped, not fatal.
    const row = loadChunk.get(entry.chunkId) as ChunkRow | undefined;
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

function hasChunks(db: TenantDb): boolean {
  return db.prepare("SELECT EXISTS (SELECT 1 FROM chunks) AS present").pluck().get() === 1;
}

/** Higher fused score first; ties go to the better single-stage rank, then the older chunk. */
function byFusedScore(a: Candidate, b: Candidate): number {
  return b.score - a.score || bestRank(a) - bestRank(b) || a.chunkId - b.chunkId;
}

function bestRank(entry: Candidate): number {
  return Math.min(entry.keywordRank ?? Infinity, entry.vectorRank ?? Infinity);
}
