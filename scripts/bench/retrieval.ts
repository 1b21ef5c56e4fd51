// Vector-stage benchmark at scale: builds tenants of 1k / 10k / 100k chunks through the
// product's own store and index code and prints, for each size, the latency of the exact scan
// and of the binary first pass with exact re-scoring (p50/p95), and the recall@10 of the
// latter against the exact scan.
//
//   npm run bench:retrieval -- [--sizes 1000,10000,100000] [--queries 200]
//                              [--vectors FILE.f32] [--real 3000]
//
// The vectors are real embeddings of real text: with --vectors, a file of float32 rows of the
// embedder's dimension (e.g. cached by an earlier run); otherwise the configured embedder
// embeds --real sentences of ../shared/eval (or this README) once and caches them under
// .cache/bench/ (gitignored), so reruns are fast. One row in ten is held out as queries. The
// embedded encoder makes about 10–100 sentences/s here, so tenants larger than the real set
// are filled with convex mixtures of two real vectors (kept in the span and anisotropy of
// real embeddings; random vectors would have no neighbour structure at all) — the figures
// say how many rows were real.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { newTenantId } from "#tenants/id.ts";
import { replaceDocument } from "#tenants/knowledge-base.ts";
import { openTenantDb } from "#tenants/store.ts";
import { parseConfig } from "#app/server/config.server.ts";
import { createEmbedder } from "#app/server/embeddings/index.server.ts";
import { l2Normalise } from "#app/server/embeddings/local.server.ts";
import { nearestChunks } from "#app/server/retrieval/vector-search.server.ts";

const { values } = parseArgs({
  options: {
    sizes: { type: "string", default: "1000,10000,100000" },
    queries: { type: "string", default: "200" },
    vectors: { type: "string" },
    real: { type: "string", default: "3000" },
    dimension: { type: "string", default: "512" },
  },
});
const sizes = values.sizes.split(",").map(Number);
const queryCount = Number(values.queries);

function realSentences(limit: number): string[] {
  const sentences: string[] = [];
  const sources = ["scifact", "xquad_en", "covid_faq"].map((set) =>
    path.resolve(`../shared/eval/${set}/corpus.jsonl`),
  );
  const segmenter = new Intl.Segmenter("en", { granularity: "sentence" });
  for (const file of sources.filter((f) => fs.existsSync(f))) {
    for (const line of fs.readFileSync(file, "utf8").split("\n")) {
      if (!line.trim()) continue;
      const doc = JSON.parse(line) as { text?: string };
      for (const { segment } of segmenter.segment(doc.text ?? "")) {
        if (segment.trim().split(/\s+/).length >= 6) sentences.push(segment.trim());
      }
    }
  }
  if (sentences.length === 0) sentences.push(...fs.readFileSync("README.md", "utf8").split(/\n+/));
  // Spread over the sources rather than the first abstracts only.
  const step = Math.max(1, Math.floor(sentences.length / limit));
  return sentences.filter((_, i) => i % step === 0).slice(0, limit);
}

async function loadRealVectors(): Promise<{ rows: Float32Array[]; dimension: number }> {
  if (values.vectors) {
    const dimension = Number(values.dimension);
    const bytes = fs.readFileSync(values.vectors);
    const flat = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    const rows: Float32Array[] = [];
    for (let i = 0; i + dimension <= flat.length; i += dimension) {
      rows.push(l2Normalise(flat.subarray(i, i + dimension)));
    }
    return { rows, dimension };
  }
  const config = parseConfig({ LOG_LEVEL: "warn", ...process.env });
  const embedder = await createEmbedder(config.embeddings, { timeoutMs: config.FETCH_TIMEOUT_MS });
  const limit = Number(values.real);
  const cacheFile = path.resolve(
    `.cache/bench/${embedder.model.replace(/[^\w.-]+/g, "_")}-${limit}.f32`,
  );
  if (!fs.existsSync(cacheFile)) {
    const texts = realSentences(limit);
    const flat = new Float32Array(texts.length * embedder.dimension);
    const started = performance.now();
    for (let offset = 0; offset < texts.length; offset += 64) {
      const vectors = await embedder.embed(texts.slice(offset, offset + 64), "document");
      vectors.forEach((v, i) => flat.set(v, (offset + i) * embedder.dimension));
      process.stderr.write(`\r  embedded ${offset + vectors.length}/${texts.length} sentences`);
    }
    const seconds = (performance.now() - started) / 1000;
    process.stderr.write(`\n  ${(texts.length / seconds).toFixed(1)} sentences/s\n`);
    fs.mkdirSync(path.dirname(cacheFile), { recursive: true });
    fs.writeFileSync(cacheFile, Buffer.from(flat.buffer));
  }
  await embedder.close?.();
  values.vectors = cacheFile;
  values.dimension = String(embedder.dimension);
  return loadRealVectors();
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

async function main() {
  const { rows, dimension } = await loadRealVectors();
  const queries = rows.filter((_, i) => i % 10 === 0).slice(0, queryCount);
  const base = rows.filter((_, i) => i % 10 !== 0);
  const next = random(42);
  const vectorAt = (i: number): Float32Array => {
    if (i < base.length) return base[i] as Float32Array;
    const a = base[Math.floor(next() * base.length)] as Float32Array;
    const b = base[Math.floor(next() * base.length)] as Float32Array;
    const t = 0.5 + next() * 0.5;
    return l2Normalise(a.map((x, k) => t * x + (1 - t) * (b[k] as number)));
  };
  console.log(
    `${rows.length} real vectors (${dimension} dims): ${base.length} indexed, ` +
      `${queries.length} queries; ${os.cpus().length} cores`,
  );
  console.log("chunks   real   exact p50  exact p95  binary p50  binary p95  recall@10");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-bench-"));
  const largest = Math.max(...sizes);
  const all: Float32Array[] = [];
  for (let i = 0; i < largest; i++) all.push(vectorAt(i));
  for (const size of sizes) {
    const db = openTenantDb(dir, newTenantId(), { model: "bench", dimension }, { create: true });
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
    const exactMs: number[] = [];
    const binaryMs: number[] = [];
    let found = 0;
    // One warm-up pass of each, so the page cache and mmap are settled as in a running server.
    nearestChunks(db, queries[0] as Float32Array, 10, "exact");
    nearestChunks(db, queries[0] as Float32Array, 10, "binary");
    for (const query of queries) {
      let started = performance.now();
      const exact = nearestChunks(db, query, 10, "exact");
      exactMs.push(performance.now() - started);
      started = performance.now();
      const binary = nearestChunks(db, query, 10, "binary");
      binaryMs.push(performance.now() - started);
      const truth = new Set(exact.map((hit) => hit.chunkId));
      found += binary.filter((hit) => truth.has(hit.chunkId)).length;
    }
    console.log(
      [
        String(size).padEnd(8),
        String(Math.min(size, base.length)).padStart(5),
        `${percentile(exactMs, 50).toFixed(2)} ms`.padStart(10),
        `${percentile(exactMs, 95).toFixed(2)} ms`.padStart(10),
        `${percentile(binaryMs, 50).toFixed(2)} ms`.padStart(11),
        `${percentile(binaryMs, 95).toFixed(2)} ms`.padStart(11),
        (found / (queries.length * 10)).toFixed(3).padStart(10),
      ].join(" "),
    );
    db.close();
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

await main();
