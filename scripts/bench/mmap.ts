// What a memory map over a tenant file would buy (issue 22, decision 042): the same tenant
// file queried with `PRAGMA mmap_size = 0` (the product since decision 042: a mapped file
// that shrinks delivers SIGBUS and kills the process) and with a 256 MiB map (decision 022's
// old setting), alternating query by query so both see the same page cache and load.
// Measures the two stages that read the file: the keyword search (FTS5 BM25 over chunks and
// documents) and the exact vector scan (vec0); the in-memory fast path of large tenants reads
// no file and is left out. Texts are SciFact abstracts cut into chunks; vectors are random
// unit vectors (the scan's cost does not depend on their values).
//
//   npm run bench:mmap -- [--sizes 2000,10000,50000] [--queries 300]
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { newTenantId } from "#tenants/id.ts";
import { replaceDocument } from "#tenants/knowledge-base.ts";
import { openTenantDb, type TenantDb } from "#tenants/store.ts";
import { l2Normalise } from "#app/server/embeddings/local.server.ts";
import { toFtsQuery } from "#app/server/retrieval/fts-query.server.ts";
import { keywordSearch } from "#app/server/retrieval/keyword.server.ts";
import { nearestChunks, usesFastPath } from "#app/server/retrieval/vector-search.server.ts";

const { values } = parseArgs({
  options: {
    sizes: { type: "string", default: "2000,10000,50000" },
    queries: { type: "string", default: "300" },
    corpus: { type: "string", default: "../shared/eval/scifact/corpus.jsonl" },
  },
});
const sizes = values.sizes.split(",").map(Number);
const queryCount = Number(values.queries);
const DIMENSION = 512;
const MAPPED = 268_435_456;

const words = fs
  .readFileSync(values.corpus, "utf8")
  .split("\n")
  .filter(Boolean)
  .flatMap((line) => String((JSON.parse(line) as { text?: string }).text ?? "").split(/\s+/))
  .filter(Boolean);
let seed = 42;
const random = () => (seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0) / 2 ** 32;
const randomVector = () =>
  l2Normalise(Float32Array.from({ length: DIMENSION }, () => random() * 2 - 1));
const text = (start: number, length: number) =>
  words
    .slice(start % (words.length - length), (start % (words.length - length)) + length)
    .join(" ");

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}
const ms = (value: number) => `${value.toFixed(2)} ms`;

function fill(db: TenantDb, size: number): void {
  const perDocument = 50;
  for (let d = 0; d * perDocument < size; d++) {
    const count = Math.min(perDocument, size - d * perDocument);
    replaceDocument(db, {
      sourceKey: `bench:${d}`,
      sourceType: "text",
      title: text(d * 7919, 8),
      contentHash: String(d),
      bytes: 0,
      chunks: Array.from({ length: count }, (_, i) => ({
        ord: i,
        headingPath: "",
        text: text((d * perDocument + i) * 211, 180),
        tokenCount: 180,
        embedding: randomVector(),
      })),
    });
  }
}

function timed(run: () => unknown): number {
  const start = performance.now();
  run();
  return performance.now() - start;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-bench-mmap-"));
console.log(
  `${os.cpus().length} cores, load ${os
    .loadavg()
    .map((x) => x.toFixed(1))
    .join(" ")}; ${queryCount} queries per stage and setting`,
);
console.log(
  "chunks  file MB  stage     no map p50  no map p95  mapped p50  mapped p95  p50 ratio  auto vector path",
);
try {
  for (const size of sizes) {
    const db = openTenantDb(
      dir,
      newTenantId(),
      { model: "bench", dimension: DIMENSION },
      { create: true },
    );
    fill(db, size);
    const fileMb = fs.statSync(db.name).size / 1024 / 1024;
    const questions = Array.from(
      { length: queryCount },
      (_, i) => toFtsQuery(text(i * 104_729, 6)) ?? "cell",
    );
    const vectors = Array.from({ length: queryCount }, randomVector);
    const stages: [string, (i: number) => unknown][] = [
      ["keyword", (i) => keywordSearch(db, questions[i] as string, 50)],
      ["vector", (i) => nearestChunks(db, vectors[i] as Float32Array, 50, "exact")],
    ];
    for (const [stage, run] of stages) {
      const plain: number[] = [];
      const mapped: number[] = [];
      run(0); // warm the page cache
      for (let i = 0; i < queryCount; i++) {
        db.pragma("mmap_size = 0");
        plain.push(timed(() => run(i)));
        db.pragma(`mmap_size = ${MAPPED}`);
        mapped.push(timed(() => run(i)));
      }
      db.pragma("mmap_size = 0");
      plain.sort((a, b) => a - b);
      mapped.sort((a, b) => a - b);
      console.log(
        [
          String(size).padEnd(7),
          fileMb.toFixed(1).padStart(7),
          ` ${stage.padEnd(8)}`,
          ms(percentile(plain, 50)).padStart(11),
          ms(percentile(plain, 95)).padStart(11),
          ms(percentile(mapped, 50)).padStart(11),
          ms(percentile(mapped, 95)).padStart(11),
          `${(percentile(plain, 50) / percentile(mapped, 50)).toFixed(2)}×`.padStart(10),
          `  ${usesFastPath(db) ? "in-memory index" : "exact scan"}`,
        ].join(" "),
      );
    }
    db.close();
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
