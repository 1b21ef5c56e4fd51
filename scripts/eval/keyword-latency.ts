// Times the keyword stage of retrieval on a loaded tenant (a `npm run eval -- --index` folder's
// tenant file): chunk BM25 alone (the stage before decision 035) against chunk + document BM25
// (keyword.server.ts), over every query of a BEIR folder, three passes, p50/p95 of the last two.
// `npx tsx scripts/eval/keyword-latency.ts <tenant.db> <beir folder>`
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { toFtsQuery } from "../../app/server/retrieval/fts-query.server.ts";
import { keywordSearch } from "../../app/server/retrieval/keyword.server.ts";
import { percentile } from "./metrics.ts";

const [file, folder] = process.argv.slice(2);
if (!file || !folder) throw new Error("usage: keyword-latency.ts <tenant.db> <beir folder>");
const db = new Database(file, { readonly: true });
const queries = fs
  .readFileSync(path.join(folder, "queries.jsonl"), "utf8")
  .split("\n")
  .filter((line) => line.trim() !== "")
  .map((line) => toFtsQuery((JSON.parse(line) as { text: string }).text))
  .filter((query): query is string => query !== null);
const CANDIDATES = 100;
const chunkOnly = db.prepare(`SELECT rowid, -bm25(chunks_fts, 3.0, 2.0, 1.0) AS score
  FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY bm25(chunks_fts, 3.0, 2.0, 1.0) LIMIT ?`);

function time(name: string, run: (query: string) => unknown): void {
  const samples: number[] = [];
  for (let pass = 0; pass < 3; pass++) {
    for (const query of queries) {
      const started = performance.now();
      run(query);
      if (pass > 0) samples.push(performance.now() - started);
    }
  }
  const p = (q: number) => percentile(samples, q).toFixed(2);
  console.log(`${name.padEnd(28)} p50 ${p(50)} ms  p95 ${p(95)} ms  (${queries.length} queries)`);
}

time("chunk BM25 (before)", (query) => chunkOnly.all(query, CANDIDATES));
time("chunk + document BM25", (query) => keywordSearch(db, query, CANDIDATES));
