// The embedded encoder (USE-lite in worker threads) on each runtime, side by side in one run:
// ingestion throughput by worker count and batch size, on real text (SciFact abstracts cut
// like the product's chunks, or their sentences), and one question's latency on the query
// worker. ONNX Runtime runs each worker's session on `--threads` intra-op threads; tfjs's
// WebAssembly backend is single-threaded in Node, so worker threads are its only way to use
// more cores (decision 041).
//
//   npx tsx scripts/bench/encoder.ts [--corpus ../shared/eval/scifact/corpus.jsonl]
//     [--texts 96] [--workers 1,2] [--batches 16,32,64] [--unit chunk|sentence]
//     [--runtimes onnx,tfjs] [--threads 1] [--precision float32|int8]
//     [--questions 300] [--queries ../shared/eval/scifact/queries.jsonl]
import fs from "node:fs";
import os from "node:os";
import { parseArgs } from "node:util";
import { createLocalEmbedder, type LocalRuntime } from "#app/server/embeddings/local.server.ts";

const { values } = parseArgs({
  options: {
    corpus: { type: "string", default: "../shared/eval/scifact/corpus.jsonl" },
    texts: { type: "string", default: "96" },
    workers: { type: "string", default: "1,2" },
    batches: { type: "string", default: "16,32,64" },
    unit: { type: "string", default: "chunk" },
    runtimes: { type: "string", default: "onnx,tfjs" },
    threads: { type: "string", default: "1" },
    precision: { type: "string", default: "float32" },
    questions: { type: "string", default: "300" },
    queries: { type: "string", default: "../shared/eval/scifact/queries.jsonl" },
  },
});
const list = (text: string) => text.split(",").map(Number).filter(Number.isFinite);
const runtimes = values.runtimes
  .split(",")
  .filter((r): r is LocalRuntime => r === "onnx" || r === "tfjs");
const threads = Math.max(1, Number(values.threads) || 1);
const precision = values.precision === "int8" ? "int8" : "float32";
const wanted = Math.max(1, Number(values.texts));

function sampleTexts(): string[] {
  const texts: string[] = [];
  for (const line of fs.readFileSync(values.corpus, "utf8").split("\n")) {
    if (texts.length >= wanted || line.trim() === "") continue;
    const document = JSON.parse(line) as { title?: string; text: string };
    const body = `${document.title ?? ""}\n\n${document.text}`;
    if (values.unit === "sentence") {
      texts.push(...body.split(/(?<=[.!?])\s+/).filter((s) => s.trim() !== ""));
    } else {
      // About the product's chunk size: 220 tokens ≈ 165 words.
      const words = body.split(/\s+/);
      for (let i = 0; i < words.length; i += 165) texts.push(words.slice(i, i + 165).join(" "));
    }
  }
  return texts.slice(0, wanted);
}

const texts = sampleTexts();
const words = texts.reduce((sum, text) => sum + text.split(/\s+/).length, 0);
console.log(
  `${texts.length} ${values.unit}s, ${Math.round(words / texts.length)} words each on average; ` +
    `${os.availableParallelism()} cores, load average ${os.loadavg()[0]?.toFixed(1)}`,
);
function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] as number;
}

const questions = fs
  .readFileSync(values.queries, "utf8")
  .split("\n")
  .filter((line) => line.trim() !== "")
  .map((line) => (JSON.parse(line) as { text: string }).text);
const rate: Partial<Record<LocalRuntime, number>> = {};
for (const runtime of runtimes) {
  const name = runtime === "onnx" ? `onnx (${precision}, ${threads} thread(s)/worker)` : "tfjs";
  for (const workers of list(values.workers)) {
    for (const batchSize of list(values.batches)) {
      const embedder = await createLocalEmbedder({
        runtime,
        onnxThreads: threads,
        onnxPrecision: precision,
        documentWorkers: workers,
        queryWorkers: 0,
        batchSize,
        log: () => undefined,
      });
      try {
        if (embedder.runtime !== runtime) throw new Error(`${runtime} did not load`);
        await embedder.embed(texts.slice(0, 2), "document"); // warm-up
        const started = performance.now();
        const cpuBefore = process.cpuUsage();
        // The queue embeds a document's chunks one call at a time with several documents in
        // flight; one call of every text spread over the workers is the same load.
        await embedder.embed(texts, "document");
        const seconds = (performance.now() - started) / 1000;
        // CPU time of the whole process (the workers are its threads): unlike the wall time,
        // it does not depend on what else the machine runs.
        const cpu = process.cpuUsage(cpuBefore);
        const cpuSeconds = (cpu.user + cpu.system) / 1e6;
        const perSecond = texts.length / seconds;
        rate[runtime] = Math.max(rate[runtime] ?? 0, perSecond);
        console.log(
          `${name} workers ${workers} batch ${String(batchSize).padStart(3)}: ` +
            `${perSecond.toFixed(1)} chunks/s, ${Math.round(words / seconds)} words/s; ` +
            `CPU ${((cpuSeconds * 1000) / texts.length).toFixed(2)} ms/chunk ` +
            `(${(texts.length / cpuSeconds).toFixed(1)} chunks/s per free core)`,
        );
      } finally {
        await embedder.close?.();
      }
    }
  }
  // One question at a time on the query worker, as a visitor's uncached ask embeds it.
  const count = Math.max(1, Number(values.questions));
  const embedder = await createLocalEmbedder({
    runtime,
    onnxThreads: threads,
    onnxPrecision: precision,
    documentWorkers: 1,
    queryWorkers: 1,
    log: () => undefined,
  });
  try {
    const times: number[] = [];
    for (let i = 0; i < count + 50; i++) {
      const started = performance.now();
      await embedder.embed([questions[i % questions.length] as string], "query");
      if (i >= 50) times.push(performance.now() - started); // the first 50 warm up
    }
    times.sort((a, b) => a - b);
    console.log(
      `${name} question (${count} SciFact queries, one at a time): ` +
        `p50 ${percentile(times, 50).toFixed(1)} ms, p95 ${percentile(times, 95).toFixed(1)} ms`,
    );
  } finally {
    await embedder.close?.();
  }
}
if (rate.onnx && rate.tfjs) {
  console.log(`ingestion, best of each: onnx ${(rate.onnx / rate.tfjs).toFixed(1)}× tfjs`);
}
