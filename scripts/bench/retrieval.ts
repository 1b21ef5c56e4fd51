// Retrieval benchmark: builds tenants of 1k / 10k / 100k chunks through the product's own
// embedder and index, then prints ingestion throughput and retrieval latency (vector stage
// and total, p50/p95) for each size.
//
//   npm run bench:retrieval -- [--sizes 1000,10000,100000] [--queries 200]
//                              [--corpus FILE.jsonl] [--real-limit 2000]
//
// Chunk texts are windows of sentences from a real corpus: by default the SciFact abstracts
// in ../shared/eval (if present), else this repository's README. Embeddings are real: the
// configured embedder embeds up to --real-limit distinct chunks (the embedded encoder does
// about 10-20 chunks/s on 2 cores, so 100,000 would take hours); larger tenants reuse those
// real vectors for further chunk texts, which keeps the scan cost of the vector stage exact.
// "ingest/s" combines the measured embedding rate with each size's measured index time.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { newTenantId } from "#tenants/id.ts";
import { replaceDocument } from "#tenants/knowledge-base.ts";
import { openTenantDb } from "#tenants/store.ts";
import { parseConfig } from "#app/server/config.server.ts";
import { createEmbedder } from "#app/server/embeddings/index.server.ts";
import { countTokens } from "#app/server/ingest/chunk.server.ts";
import { retrieveWithStats } from "#app/server/retrieval/retrieve.server.ts";

const { values } = parseArgs({
  options: {
    sizes: { type: "string", default: "1000,10000,100000" },
    queries: { type: "string", default: "200" },
    corpus: { type: "string" },
    "real-limit": { type: "string", default: "2000" },
  },
});
const realLimit = Math.max(1, Number(values["real-limit"]));
const sizes = values.sizes.split(",").map(Number);
const queryCount = Number(values.queries);

function corpusSentences(): string[] {
  const candidates = [values.corpus, path.resolve("../shared/eval/scifact/corpus.jsonl")].filter(
    (f): f is string => Boolean(f && fs.existsSync(f)),
  );
  const text: string[] = [];
  if (candidates[0]) {
    for (const line of fs.readFileSync(candidates[0], "utf8").split("\n")) {
      if (!line.trim()) continue;
      const doc = JSON.parse(line) as { title?: string; text?: string };
      text.push(`${doc.title ?? ""}. ${doc.text ?? ""}`);
    }
  } else {
    text.push(fs.readFileSync("README.md", "utf8"));
  }
  return text
    .join(" ")
    .split(/(?<=[.!?])\s+/)
    .map((s) => s.trim())
    .filter((s) => s.split(/\s+/).length >= 5);
}

/** N distinct chunk texts: windows of 3–6 consecutive sentences at shifting offsets. */
function makeChunks(sentences: string[], n: number): string[] {
  const chunks: string[] = [];
  for (let i = 0; chunks.length < n; i++) {
    const start = (i * 7) % sentences.length;
    const len = 3 + (i % 4);
    chunks.push(
      Array.from({ length: len }, (_, k) => sentences[(start + k) % sentences.length]).join(" "),
    );
  }
  return chunks;
}

const percentile = (xs: number[], p: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
};

async function main() {
  const config = parseConfig({ LOG_LEVEL: "warn", ...process.env });
  const embedder = await createEmbedder(config.embeddings, { timeoutMs: config.FETCH_TIMEOUT_MS });
  const sentences = corpusSentences();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-bench-"));
  const largest = Math.max(...sizes);
  const texts = makeChunks(sentences, largest);
  console.log(
    `embedder ${embedder.model} (${embedder.dimension} dims), ${sentences.length} source sentences, ` +
      `${os.cpus().length} cores`,
  );

  // Embed up to --real-limit distinct chunk texts for real, timing the embedder.
  const realCount = Math.min(largest, realLimit);
  const vectors: Float32Array[] = [];
  const embedStarted = performance.now();
  for (let offset = 0; offset < realCount; offset += 256) {
    const batch = texts.slice(offset, Math.min(realCount, offset + 256));
    vectors.push(...(await embedder.embed(batch, "document")));
    process.stderr.write(`\r  embedded ${vectors.length}/${realCount} chunks`);
  }
  process.stderr.write("\n");
  const embedPerChunkMs = (performance.now() - embedStarted) / realCount;
  console.log(
    `embedding: ${(1000 / embedPerChunkMs).toFixed(1)} chunks/s (${realCount} real chunks)` +
      (largest > realCount
        ? `; tenants above ${realCount} chunks reuse those real vectors for further chunk texts`
        : ""),
  );
  console.log("size      index/s  ingest/s  vector p50  vector p95  total p50  total p95");
  for (const size of sizes) {
    const db = openTenantDb(
      dir,
      newTenantId(),
      { model: embedder.model, dimension: embedder.dimension },
      { create: true },
    );
    const perDoc = 100;
    const indexStarted = performance.now();
    for (let d = 0; d * perDoc < size; d++) {
      const docTexts = texts.slice(d * perDoc, Math.min(size, (d + 1) * perDoc));
      replaceDocument(db, {
        sourceKey: `bench:${d}`,
        sourceType: "text",
        title: `Bench document ${d}`,
        contentHash: `${size}-${d}`,
        bytes: docTexts.join("\n").length,
        chunks: docTexts.map((text, i) => ({
          ord: i,
          headingPath: "",
          text,
          tokenCount: countTokens(text),
          embedding: vectors[(d * perDoc + i) % realCount] as Float32Array,
        })),
      });
    }
    const indexMs = performance.now() - indexStarted;
    const vector: number[] = [];
    const total: number[] = [];
    for (let q = 0; q < queryCount; q++) {
      const sentence = sentences[(q * 13) % sentences.length] as string;
      const query = sentence.split(/\s+/).slice(0, 10).join(" ");
      const { stats } = await retrieveWithStats(db, embedder, query, { topK: 10 });
      vector.push(stats.vectorMs);
      total.push(stats.totalMs);
    }
    const ingestPerSecond = size / ((embedPerChunkMs * size + indexMs) / 1000);
    console.log(
      [
        String(size).padEnd(8),
        ((size / indexMs) * 1000).toFixed(0).padStart(8),
        ingestPerSecond.toFixed(1).padStart(9),
        `${percentile(vector, 50).toFixed(2)} ms`.padStart(11),
        `${percentile(vector, 95).toFixed(2)} ms`.padStart(11),
        `${percentile(total, 50).toFixed(2)} ms`.padStart(10),
        `${percentile(total, 95).toFixed(2)} ms`.padStart(10),
      ].join(" "),
    );
    db.close();
  }
  await embedder.close?.();
  fs.rmSync(dir, { recursive: true, force: true });
}

await main();
