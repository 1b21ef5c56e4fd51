// Vector-stage benchmark at scale: builds tenants of 1k / 10k / 100k chunks through the
// product's own store and index code and prints, for each size, the latency (p50/p95) of the
// exact scan (vec0, float vectors in SQLite) and of the fast path (the in-memory index of
// vector-index.server.ts: Hamming scan of 1-bit codes, int8 re-scoring of candidates), the
// recall@10 of the fast path against the exact scan, the index's build time and memory, and
// which path retrieval takes at that size ("auto"). "fast cpu95" is the p95 of the CPU time
// (process.cpuUsage) of a fast-path search: wall times on a shared machine include the time
// other processes held the cores, CPU time does not.
//
//   npm run bench:retrieval -- [--sizes 1000,10000,100000] [--queries 200]
//                              [--vectors FILE.f32] [--real 20000] [--pools 200,400,800,1600]
//
// The vectors are real embeddings of real text (scripts/bench/real-text.ts): the queries of
// the shared eval sets (never indexed), then their titles and sentences, pairs and triples of
// sentences, whole documents. They are cached under .cache/bench/ (gitignored): a run embeds what the
// cache lacks, up to --real rows (resumable; the embedded encoder makes about 5–100 texts/s
// depending on the machine's load; --real 102000 gives 100,000 real passages), or reads
// --vectors as is. A tenant larger than the real rows is filled up with convex mixtures of
// two real vectors, and the table says how many of its rows are real. --pools adds, per size, recall and latency for other candidate counts.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { newTenantId } from "#tenants/id.ts";
import { replaceDocument } from "#tenants/knowledge-base.ts";
import { openTenantDb } from "#tenants/store.ts";
import { l2Normalise } from "#app/server/embeddings/local.server.ts";
import { buildVectorIndex } from "#app/server/retrieval/vector-index.server.ts";
import { nearestChunks, usesFastPath } from "#app/server/retrieval/vector-search.server.ts";
import { cacheRealVectors, realTexts } from "./real-text.ts";

const { values } = parseArgs({
  options: {
    sizes: { type: "string", default: "1000,10000,100000" },
    queries: { type: "string", default: "200" },
    vectors: { type: "string" },
    real: { type: "string", default: "20000" },
    pools: { type: "string", default: "" },
  },
});
const sizes = values.sizes.split(",").map(Number);
const queryCount = Number(values.queries);
const DIMENSION = 512;

async function loadVectors(): Promise<{ queries: Float32Array[]; passages: Float32Array[] }> {
  const { queries, passages } = realTexts();
  const file = path.resolve(values.vectors ?? ".cache/bench/real-use-lite-512.f32");
  if (!values.vectors) {
    await cacheRealVectors(file, [...queries, ...passages], Number(values.real));
  }
  const bytes = fs.readFileSync(file);
  const flat = new Float32Array(bytes.buffer, bytes.byteOffset, Math.floor(bytes.byteLength / 4));
  const rows: Float32Array[] = [];
  for (let i = 0; i + DIMENSION <= flat.length; i += DIMENSION) {
    rows.push(l2Normalise(flat.subarray(i, i + DIMENSION)));
  }
  // The first rows are the sets' queries; spread the benchmark's queries over all three sets.
  const asked = rows.slice(0, queries.length);
  const step = Math.max(1, Math.floor(asked.length / queryCount));
  return {
    queries: asked.filter((_, i) => i % step === 0).slice(0, queryCount),
    passages: rows.slice(queries.length),
  };
}

/** Deterministic pseudo-random numbers, so two runs build the same tenants. */
function random(seed: number): () => number {
  let state = seed;
  return () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32;
}

const percentile = (xs: number[], p: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
};
const ms = (x: number) => `${x.toFixed(2)} ms`;

function timed<T>(fn: () => T): [T, number] {
  const started = performance.now();
  const result = fn();
  return [result, performance.now() - started];
}

/** The CPU time (user + system, ms) the process spent in fn: what the load does not inflate. */
function cpuTimed<T>(fn: () => T): [T, number] {
  const started = process.cpuUsage();
  const result = fn();
  const { user, system } = process.cpuUsage(started);
  return [result, (user + system) / 1000];
}

async function main() {
  const { queries, passages } = await loadVectors();
  const next = random(42);
  const vectorAt = (i: number): Float32Array => {
    if (i < passages.length) return passages[i] as Float32Array;
    const a = passages[Math.floor(next() * passages.length)] as Float32Array;
    const b = passages[Math.floor(next() * passages.length)] as Float32Array;
    const t = 0.5 + next() * 0.5;
    return l2Normalise(a.map((x, k) => t * x + (1 - t) * (b[k] as number)));
  };
  const load = os.loadavg().map((x) => x.toFixed(1));
  console.log(
    `${passages.length} real passage vectors (${DIMENSION} dims), ${queries.length} real ` +
      `queries; ${os.cpus().length} cores, load ${load.join(" ")}`,
  );
  console.log(
    "chunks   real    exact p50   exact p95   fast p50    fast p95    fast cpu95  recall@10  build     index    auto",
  );
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-bench-"));
  const largest = Math.max(...sizes);
  const all: Float32Array[] = [];
  for (let i = 0; i < largest; i++) all.push(vectorAt(i));
  const pools = values.pools ? values.pools.split(",").map(Number) : [];
  const sweeps: string[] = [];
  for (const size of sizes) {
    const db = openTenantDb(
      dir,
      newTenantId(),
      { model: "bench", dimension: DIMENSION },
      { create: true },
    );
    const perDocument = 100;
    for (let d = 0; d * perDocument < size; d++) {
      const from = d * perDocument;
      const to = Math.min(size, from + perDocument);
      replaceDocument(db, {
        sourceKey: `bench:${d}`,
        sourceType: "text",
        title: `Bench document ${d}`,
        contentHash: String(d),
        bytes: 0,
        chunks: all.slice(from, to).map((embedding, i) => ({
          ord: i,
          headingPath: "",
          text: `chunk ${from + i}`,
          tokenCount: 2,
          embedding,
        })),
      });
    }
    // Built once here to time it; the first "binary" search below builds the cached one.
    const [{ index }, buildMs] = timed(() => buildVectorIndex(db));
    const first = queries[0] as Float32Array;
    // One warm-up pass of each, so the page cache and mmap are settled as in a running server.
    nearestChunks(db, first, 10, "exact");
    nearestChunks(db, first, 10, "binary");
    const exactMs: number[] = [];
    const fastMs: number[] = [];
    const fastCpuMs: number[] = [];
    const truths: Set<number>[] = [];
    let found = 0;
    for (const query of queries) {
      const [exact, exactTime] = timed(() => nearestChunks(db, query, 10, "exact"));
      const [fast, fastTime] = timed(() => nearestChunks(db, query, 10, "binary"));
      fastCpuMs.push(cpuTimed(() => nearestChunks(db, query, 10, "binary"))[1]);
      exactMs.push(exactTime);
      fastMs.push(fastTime);
      const truth = new Set(exact.map((hit) => hit.chunkId));
      truths.push(truth);
      found += fast.filter((hit) => truth.has(hit.chunkId)).length;
    }
    const autoPath = usesFastPath(db) ? "fast" : "exact";
    console.log(
      [
        String(size).padEnd(8),
        String(Math.min(size, passages.length)).padStart(6),
        ms(percentile(exactMs, 50)).padStart(11),
        ms(percentile(exactMs, 95)).padStart(11),
        ms(percentile(fastMs, 50)).padStart(11),
        ms(percentile(fastMs, 95)).padStart(11),
        ms(percentile(fastCpuMs, 95)).padStart(11),
        (found / (queries.length * 10)).toFixed(3).padStart(10),
        `${buildMs.toFixed(0)} ms`.padStart(9),
        `${(index.bytes / 2 ** 20).toFixed(1)} MB`.padStart(8),
        autoPath.padStart(7),
      ].join(" "),
    );
    for (const pool of pools) {
      const times: number[] = [];
      let hits = 0;
      queries.forEach((query, q) => {
        const [fast, time] = timed(() => index.search(query, 10, pool));
        times.push(time);
        const truth = truths[q] as Set<number>;
        hits += fast.filter((hit) => truth.has(hit.chunkId)).length;
      });
      sweeps.push(
        `${String(size).padEnd(8)} pool ${String(pool).padStart(5)}: recall@10 ` +
          `${(hits / (queries.length * 10)).toFixed(3)}, p50 ${ms(percentile(times, 50))}, ` +
          `p95 ${ms(percentile(times, 95))}`,
      );
    }
    db.close();
  }
  if (sweeps.length > 0) console.log(`\ncandidate pool (index search only):\n${sweeps.join("\n")}`);
  fs.rmSync(dir, { recursive: true, force: true });
}

await main();
