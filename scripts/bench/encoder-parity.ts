// The ONNX Runtime path of the embedded encoder against the tfjs path, text by text: the cosine of
// their vectors (decision 041). Both run in the product's workers with the same tokenizer and
// the same 96 tokens.
//
//   npx tsx scripts/bench/encoder-parity.ts [--sets ../shared/eval] [--limit N] [--precision int8]
//     every document (title and text) and query of each shared set: min / mean cosine per set,
//     against tfjs (or, for int8, against ONNX Runtime in float32, which gives tfjs's vectors)
//   npx tsx scripts/bench/encoder-parity.ts --fixture
//     rewrites app/server/embeddings/onnx/reference-vectors.json: the tfjs vectors of the texts
//     in reference-texts.ts, the fixture the unit test compares ONNX Runtime with
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { createLocalEmbedder, LOCAL_MAX_TOKENS } from "#app/server/embeddings/local.server.ts";
import { REFERENCE_TEXTS } from "#app/server/embeddings/onnx/reference-texts.ts";
import { cosine } from "#app/server/retrieval/vector-search.server.ts";

const { values } = parseArgs({
  options: {
    sets: { type: "string", default: "../shared/eval" },
    limit: { type: "string", default: "0" },
    precision: { type: "string", default: "float32" },
    fixture: { type: "boolean", default: false },
  },
});
const precision = values.precision === "int8" ? "int8" : "float32";
const workers = Math.max(1, os.availableParallelism());

async function embedAll(
  runtime: "onnx" | "tfjs",
  texts: string[],
  onnxPrecision: "float32" | "int8" = precision,
): Promise<Float32Array[]> {
  const embedder = await createLocalEmbedder({
    runtime,
    onnxPrecision,
    documentWorkers: workers,
    queryWorkers: 0,
    log: () => undefined,
  });
  try {
    if (embedder.runtime !== runtime) throw new Error(`${runtime} did not load`);
    const vectors: Float32Array[] = [];
    for (let i = 0; i < texts.length; i += 256) {
      vectors.push(...(await embedder.embed(texts.slice(i, i + 256), "document")));
    }
    return vectors;
  } finally {
    await embedder.close?.();
  }
}

if (values.fixture) {
  const vectors = await embedAll("tfjs", [...REFERENCE_TEXTS]);
  const file = path.join("app/server/embeddings/onnx/reference-vectors.json");
  const fixture = {
    note: "tfjs (WebAssembly) vectors of REFERENCE_TEXTS, written by scripts/bench/encoder-parity.ts --fixture",
    model: "local:use-lite-512",
    maxTokens: LOCAL_MAX_TOKENS,
    vectors: vectors.map((vector) => Buffer.from(vector.buffer).toString("base64")),
  };
  fs.writeFileSync(file, JSON.stringify(fixture, null, 2) + "\n");
  console.log(`wrote ${vectors.length} vectors to ${file}`);
} else {
  const limit = Number(values.limit) || Infinity;
  const readLines = (file: string) =>
    fs
      .readFileSync(file, "utf8")
      .split("\n")
      .filter((line) => line.trim() !== "")
      .slice(0, limit)
      .map((line) => JSON.parse(line) as { title?: string; text: string });
  const baseline = precision === "int8" ? "ONNX Runtime float32" : "tfjs";
  console.log(`ONNX Runtime (${precision}) against ${baseline}, ${workers} workers each`);
  let worst = 1;
  for (const set of fs.readdirSync(values.sets).sort()) {
    const folder = path.join(values.sets, set);
    if (!fs.existsSync(path.join(folder, "corpus.jsonl"))) continue;
    const documents = readLines(path.join(folder, "corpus.jsonl")).map((d) =>
      d.title ? `${d.title}\n\n${d.text}` : d.text,
    );
    const queries = readLines(path.join(folder, "queries.jsonl")).map((q) => q.text);
    for (const [kind, texts] of [
      ["documents", documents],
      ["queries", queries],
    ] as const) {
      const started = performance.now();
      const onnx = await embedAll("onnx", texts);
      const onnxSeconds = (performance.now() - started) / 1000;
      const tfjs =
        precision === "int8"
          ? await embedAll("onnx", texts, "float32")
          : await embedAll("tfjs", texts);
      const tfjsSeconds = (performance.now() - started) / 1000 - onnxSeconds;
      const cosines = onnx.map((vector, i) => cosine(vector, tfjs[i] as Float32Array));
      const min = Math.min(...cosines);
      worst = Math.min(worst, min);
      const mean = cosines.reduce((a, b) => a + b, 0) / cosines.length;
      console.log(
        `${set} ${kind}: ${texts.length} texts, cosine min ${min.toFixed(7)} ` +
          `(1 − min ${(1 - min).toExponential(1)}), mean ${mean.toFixed(7)}` +
          ` (${precision} ${onnxSeconds.toFixed(1)} s, ${baseline} ${tfjsSeconds.toFixed(1)} s)`,
      );
    }
  }
  console.log(
    `lowest cosine over every set: ${worst.toFixed(7)} (1 − ${(1 - worst).toExponential(1)})`,
  );
}
