// The keyword stage of retrieval: BM25 over chunks (`chunks_fts`) and over whole documents
// (`documents_fts`, tenant migration 13), combined per chunk. A chunk's keyword score is the
// mean of its own BM25 and its document's, each divided by the query's best, so a chunk of the
// document that holds most of the question's words outranks a chunk that happens to repeat one
// of them. Shared by retrieval and by the per-tenant calibration. Reads one tenant database.
// Why and the figures: docs/decisions/035-document-level-keyword-evidence.md.
import type { TenantDb } from "#tenants/store.ts";

/** FTS5 column weights of (title, heading, body). */
export type ColumnWeights = readonly [number, number, number];

/**
 * A query word in a document's title or in the section heading says more about the chunk than
 * the same word somewhere in its body (decision 010).
 */
export const COLUMN_WEIGHTS: ColumnWeights = [3, 2, 1];
/** Share of the document's BM25 in a chunk's keyword score; the chunk's own has the rest. */
export const DOCUMENT_WEIGHT = 0.5;

export interface KeywordHit {
  chunkId: number;
  /** Combined keyword score in [0, 1]: the best chunk of the best document has 1. */
  score: number;
}

export interface KeywordSearchOptions {
  columns?: ColumnWeights;
  documentWeight?: number;
}

interface ScoreRow {
  rowid: number;
  score: number;
}

function weights(columns: ColumnWeights): string {
  return columns.map((weight) => weight.toFixed(2)).join(", ");
}

/**
 * The `limit` best chunks for an FTS5 MATCH expression, best first. Candidates are the best
 * `limit` chunks by their own BM25 and the matching chunks of the best `limit` documents; each
 * gets both scores exactly (a candidate's document outside the document top is looked up).
 */
export function keywordSearch(
  db: TenantDb,
  ftsQuery: string,
  limit: number,
  options: KeywordSearchOptions = {},
): KeywordHit[] {
  const n = Math.max(0, Math.floor(limit));
  if (n === 0) return [];
  const w = weights(options.columns ?? COLUMN_WEIGHTS);
  const documentWeight = Math.min(1, Math.max(0, options.documentWeight ?? DOCUMENT_WEIGHT));
  const chunkRows = db
    .prepare(
      `SELECT rowid, -bm25(chunks_fts, ${w}) AS score FROM chunks_fts
       WHERE chunks_fts MATCH ? ORDER BY bm25(chunks_fts, ${w}) LIMIT ?`,
    )
    .all(ftsQuery, n) as ScoreRow[];
  if (documentWeight === 0) return normalised(chunkRows, n);
  const documentRows = db
    .prepare(
      `SELECT rowid, -bm25(documents_fts, ${w}) AS score FROM documents_fts
       WHERE documents_fts MATCH ? ORDER BY bm25(documents_fts, ${w}) LIMIT ?`,
    )
    .all(ftsQuery, n) as ScoreRow[];

  const chunkScores = new Map(chunkRows.map((row) => [row.rowid, Math.max(0, row.score)]));
  const documentScores = new Map(documentRows.map((row) => [row.rowid, Math.max(0, row.score)]));
  const documentOf = documentsOf(db, [...chunkScores.keys()]);
  // Top documents none of whose chunks made the chunk top: their matching chunks join.
  const covered = new Set(documentOf.values());
  const uncovered = [...documentScores.keys()].filter((id) => !covered.has(id));
  if (uncovered.length > 0) {
    const rows = db
      .prepare(
        `SELECT f.rowid AS rowid, -bm25(chunks_fts, ${w}) AS score, c.document_id AS documentId
         FROM chunks_fts f JOIN chunks c ON c.id = f.rowid
         WHERE chunks_fts MATCH ? AND c.document_id IN (SELECT value FROM json_each(?))`,
      )
      .all(ftsQuery, JSON.stringify(uncovered)) as (ScoreRow & { documentId: number })[];
    for (const row of rows) {
      chunkScores.set(row.rowid, Math.max(0, row.score));
      documentOf.set(row.rowid, row.documentId);
    }
  }
  // Documents of top chunks outside the document top: their own score, exactly.
  const missing = [...new Set(documentOf.values())].filter((id) => !documentScores.has(id));
  if (missing.length > 0) {
    const rows = db
      .prepare(
        `SELECT rowid, -bm25(documents_fts, ${w}) AS score FROM documents_fts
         WHERE documents_fts MATCH ? AND rowid IN (SELECT value FROM json_each(?))`,
      )
      .all(ftsQuery, JSON.stringify(missing)) as ScoreRow[];
    for (const row of rows) documentScores.set(row.rowid, Math.max(0, row.score));
  }

  const bestChunk = Math.max(0, ...chunkScores.values());
  const bestDocument = Math.max(0, ...documentScores.values());
  const hits: KeywordHit[] = [];
  for (const [chunkId, chunkScore] of chunkScores) {
    const documentScore = documentScores.get(documentOf.get(chunkId) ?? -1) ?? 0;
    const score =
      (1 - documentWeight) * (bestChunk > 0 ? chunkScore / bestChunk : 0) +
      documentWeight * (bestDocument > 0 ? documentScore / bestDocument : 0);
    hits.push({ chunkId, score });
  }
  return hits.sort((a, b) => b.score - a.score || a.chunkId - b.chunkId).slice(0, n);
}

function normalised(rows: readonly ScoreRow[], n: number): KeywordHit[] {
  const best = Math.max(0, ...rows.map((row) => row.score));
  return rows
    .slice(0, n)
    .map((row) => ({ chunkId: row.rowid, score: best > 0 ? Math.max(0, row.score) / best : 0 }));
}

function documentsOf(db: TenantDb, chunkIds: readonly number[]): Map<number, number> {
  if (chunkIds.length === 0) return new Map();
  const rows = db
    .prepare("SELECT id, document_id FROM chunks WHERE id IN (SELECT value FROM json_each(?))")
    .all(JSON.stringify(chunkIds)) as { id: number; document_id: number }[];
  return new Map(rows.map((row) => [row.id, row.document_id]));
}
