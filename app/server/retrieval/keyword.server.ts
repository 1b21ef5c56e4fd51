// The keyword stage of retrieval: BM25 over chunks (`chunks_fts`) and over whole documents
// (`documents_fts`, tenant migration 12), combined per chunk. A chunk's keyword score is the
// mean of its own BM25 and its document's, each divided by the query's best, so a chunk of the
// document that holds most of the question's words outranks a chunk that happens to repeat one
// of them. Shared by retrieval and by the per-tenant calibration. Reads one tenant database.
// Why and the figures: docs/decisions/035-document-level-keyword-evidence.md.
import { chunkBm25, documentBm25 } from "#tenants/search.ts";
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
/** Chunk candidates per chunk asked for, before the document evidence re-orders them. */
export const CHUNK_DEPTH = 3;

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
 * The `limit` best chunks for an FTS5 MATCH expression, best first: the best CHUNK_DEPTH ×
 * `limit` chunks by their own BM25, re-ranked by the mean of their own and their document's
 * BM25, each divided by the query's best.
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
  // Chunk candidates: the best CHUNK_DEPTH × limit by their own BM25 (a heap in FTS5, about as
  // cheap as the top `limit`), so the chunks of strong documents are there to be lifted.
  const chunkRows = chunkBm25(db, w, ftsQuery, documentWeight === 0 ? n : n * CHUNK_DEPTH);
  if (documentWeight === 0) return normalised(chunkRows, n);
  // The best documents' scores; a candidate whose document is not among them gets 0 for it.
  const documentScores = new Map<number, number>();
  let bestDocument = 0;
  for (const [id, score] of documentBm25(db, w, ftsQuery, n * CHUNK_DEPTH)) {
    documentScores.set(id, Math.max(0, score));
    bestDocument = Math.max(bestDocument, score);
  }
  const chunkScores = new Map(chunkRows.map((row) => [row.rowid, Math.max(0, row.score)]));
  const documentOf = new Map(chunkRows.map((row) => [row.rowid, row.documentId]));

  const bestChunk = Math.max(0, ...chunkScores.values());
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
