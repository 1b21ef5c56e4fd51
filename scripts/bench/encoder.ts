// Throughput of the embedded encoder (USE-lite in worker threads) by worker count and batch
// size, on real text: SciFact abstracts cut like the product's chunks, or their sentences.
// The encoder runs on tfjs's WebAssembly backend (SIMD, single-threaded in Node: tfjs turns
// its threaded build off under Node), so worker threads are the only way to use more cores.
//
//   npx tsx scripts/bench/encoder.ts [--corpus ../shared/eval/scifact/corpus.jsonl]
//     [--texts 96] [--workers 1,2] [--batches 16,32,64] [--unit chunk|sentence]
import fs from "node:fs";
import os from "node:os";
import { parseArgs } from "node:util";
import { createLocalEmbedder } from "#app/server/embeddings/local.server.ts";

const { values } = parseArgs({
  options: {
    corpus: { type: "string", default: "../shared/eval/scifact/corpus.jsonl" },
    texts: { type: "string", default: "96" },
    workers: { type: "string", default: "1,2" },
    batches: { type: "string", default: "16,32,64" },
    unit: { type: "string", default: "chunk" },
  },
});
const list = (text: string) => text.split(",").map(Number).filter(Number.isFinite);
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
for (const workers of list(values.workers)) {
  for (const batchSize of list(values.batches)) {
    const embedder = await createLocalEmbedder({
      documentWorkers: workers,
      queryWorkers: 0,
      batchSize,
    });
    try {
      await embedder.embed(texts.slice(0, 2), "document"); // warm-up
      const started = performance.now();
      // The queue embeds a document's chunks one call at a time with several documents in
      // flight; one call of every text spread over the workers is the same load.
      await embedder.embed(texts, "document");
      const seconds = (performance.now() - started) / 1000;
      console.log(
        `workers ${workers} batch ${String(batchSize).padStart(3)}: ` +
          `${(texts.length / seconds).toFixed(1)} texts/s, ${Math.round(words / seconds)} words/s`,
      );
    } finally {
      await embedder.close?.();
    }
  }
}
