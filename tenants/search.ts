// The retrieval's queries on one tenant's database: BM25 over the FTS5 indexes of chunks and
// documents, the exact KNN scan of the vec0 table, the stored vectors for exact re-scoring
// and for the in-memory index, the chunk rows an answer cites, and the fusion calibration
// kept in `meta`. On the ask's hot path: every statement is prepared once per handle
// (statements.ts) and each function returns what better-sqlite3 returns, unwrapped, so a
// query allocates nothing more than before. The ranking itself is app/server/retrieval/'s.
import { statement } from "./statements.ts";
import type { TenantDb } from "./store.ts";

// ---- keyword: FTS5 BM25 ---------------------------------------------------------------------

export interface ChunkBm25Row {
  rowid: number;
  /** -bm25: higher is better. */
  score: number;
  documentId: number;
}

/**
 * The `limit` best chunks for an FTS5 MATCH expression by their own BM25, best first.
 * `weights` is FTS5's column weights of (title, heading, body), e.g. "3.00, 2.00, 1.00": a
 * statement per set of weights.
 */
export function chunkBm25(
  db: TenantDb,
  weights: string,
  ftsQuery: string,
  limit: number,
): ChunkBm25Row[] {
  return statement(
    db,
    `SELECT f.rowid AS rowid, -bm25(chunks_fts, ${weights}) AS score, c.document_id AS documentId
       FROM chunks_fts f JOIN chunks c ON c.id = f.rowid
       WHERE chunks_fts MATCH ? ORDER BY bm25(chunks_fts, ${weights}) LIMIT ?`,
  ).all(ftsQuery, limit) as ChunkBm25Row[];
}

/** The `limit` best documents by BM25, best first, as [document id, -bm25] pairs. */
export function documentBm25(
  db: TenantDb,
  weights: string,
  ftsQuery: string,
  limit: number,
): [number, number][] {
  // Only this function runs this SQL, so the cached statement's raw mode is its own.
  return statement(
    db,
    `SELECT rowid, -bm25(documents_fts, ${weights}) FROM documents_fts WHERE documents_fts MATCH ?
       ORDER BY bm25(documents_fts, ${weights}) LIMIT ?`,
  )
    .raw()
    .all(ftsQuery, limit) as [number, number][];
}

// ---- vectors: vec0 KNN and the stored copies ------------------------------------------------

export interface Vec0Neighbour {
  chunk_id: number;
  /** Cosine distance (1 - similarity). */
  distance: number;
}

const EXACT_SQL = `SELECT chunk_id, distance FROM chunks_vec WHERE embedding MATCH ? AND k = ?`;

/** The k chunks nearest `query` by an exact scan of vec0, nearest first. */
export function nearestInVec0(db: TenantDb, query: Float32Array, k: number): Vec0Neighbour[] {
  return statement(db, EXACT_SQL).all(query, k) as Vec0Neighbour[];
}

export interface StoredVectors {
  chunkId: number;
  /** The text vector's plain copy (chunk_vectors), if stored. */
  text: Buffer | null;
  /** The context vector (title and headings), if asked for and stored. */
  context: Buffer | null;
}

// One statement for all candidates' vectors: a point lookup per candidate costs more in calls
// between JavaScript and SQLite than in SQLite. The context vectors only when asked for.
const TEXT_COPIES_SQL = `SELECT j.value AS chunkId, v.embedding AS text, NULL AS context
  FROM json_each(?) j LEFT JOIN chunk_vectors v ON v.chunk_id = j.value`;
const COPIES_SQL = `SELECT j.value AS chunkId, v.embedding AS text, c.embedding AS context
  FROM json_each(?) j
  LEFT JOIN chunk_vectors v ON v.chunk_id = j.value
  LEFT JOIN chunk_context_vectors c ON c.chunk_id = j.value`;

/**
 * The stored vectors of the given chunks, from the plain copies (a file with
 * `hasVectorCopy`): text vectors, and context vectors when `withContext`.
 */
export function storedVectors(
  db: TenantDb,
  chunkIds: readonly number[],
  withContext: boolean,
): StoredVectors[] {
  return statement(db, withContext ? COPIES_SQL : TEXT_COPIES_SQL).all(
    JSON.stringify(chunkIds),
  ) as StoredVectors[];
}

/** A chunk's context vector, or undefined. */
export function contextVector(db: TenantDb, chunkId: number): Buffer | undefined {
  return (
    statement(db, "SELECT embedding FROM chunk_context_vectors WHERE chunk_id = ?").get(chunkId) as
      { embedding: Buffer } | undefined
  )?.embedding;
}

/** A chunk's text vector as vec0 keeps it, or undefined. */
export function vec0Vector(db: TenantDb, chunkId: number): Buffer | undefined {
  return (
    statement(db, "SELECT embedding FROM chunks_vec WHERE chunk_id = ?").get(BigInt(chunkId)) as
      { embedding: Buffer } | undefined
  )?.embedding;
}

/**
 * Every chunk's text vector, read lazily: from the plain copy when the file has it, else
 * (a file made outside openTenantDb) from vec0, slowly.
 */
export function everyTextVector(
  db: TenantDb,
  fromCopy: boolean,
): Iterable<{ chunk_id: number; embedding: Buffer }> {
  return db
    .prepare(
      fromCopy
        ? "SELECT chunk_id, embedding FROM chunk_vectors"
        : "SELECT chunk_id, embedding FROM chunks_vec",
    )
    .iterate() as Iterable<{ chunk_id: number; embedding: Buffer }>;
}

/** Chunks in the knowledge base (sizes the in-memory index). */
export function chunkTotal(db: TenantDb): number {
  return db.prepare("SELECT count(*) FROM chunks").pluck().get() as number;
}

/** The embedding dimension the file was made for; 0 when unknown. */
export function embeddingDimension(db: TenantDb): number {
  const value = db
    .prepare("SELECT value FROM meta WHERE key = 'embedding_dimension'")
    .pluck()
    .get();
  return Number(value ?? 0);
}

// ---- chunk rows -------------------------------------------------------------------------------

/** A chunk with its document's title, address and file name: what an answer cites. */
export interface CitedChunkRow {
  id: number;
  document_id: number;
  heading_path: string;
  text: string;
  title: string;
  url: string | null;
  file_name: string | null;
}

const CHUNK_SQL = `SELECT c.id, c.document_id, c.heading_path, c.text, d.title, d.url, d.file_name
  FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.id = ?`;

/** A chunk and its document; undefined for a chunk that is gone (deleted mid-query). */
export function citedChunk(db: TenantDb, chunkId: number): CitedChunkRow | undefined {
  return statement(db, CHUNK_SQL).get(chunkId) as CitedChunkRow | undefined;
}

export function hasChunks(db: TenantDb): boolean {
  const row = statement(db, "SELECT EXISTS (SELECT 1 FROM chunks) AS present").get() as {
    present: number;
  };
  return row.present === 1;
}

/** Every document's id and title (the calibration's pseudo-queries). */
export function documentTitles(db: TenantDb): { id: number; title: string }[] {
  return db.prepare("SELECT id, title FROM documents").all() as { id: number; title: string }[];
}

/** A lookup of a chunk's document, prepared once for a run of lookups. */
export function chunkDocumentLookup(db: TenantDb): (chunkId: number) => number | undefined {
  const documentOf = db.prepare("SELECT document_id FROM chunks WHERE id = ?").pluck();
  return (chunkId) => documentOf.get(chunkId) as number | undefined;
}

// ---- the fusion calibration, in meta ----------------------------------------------------------

/** A `meta` value as stored (a string), or undefined. Read on every ask: prepared once. */
export function metaValue(db: TenantDb, key: string): unknown {
  return (
    statement(db, "SELECT value FROM meta WHERE key = ?").get(key) as { value: unknown } | undefined
  )?.value;
}

/** Stores the calibrated weight and the calibration's details under their `meta` keys. */
export function writeCalibrationMeta(
  db: TenantDb,
  weight: { key: string; value: string },
  details: { key: string; value: string },
): void {
  const upsert = db.prepare(
    "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
  );
  upsert.run(weight.key, weight.value);
  upsert.run(details.key, details.value);
}

/** Removes the calibrated weight and the calibration's details. */
export function deleteCalibrationMeta(db: TenantDb, weightKey: string, detailsKey: string): void {
  db.prepare("DELETE FROM meta WHERE key IN (?, ?)").run(weightKey, detailsKey);
}
