// Real text for the vector benchmark, from the shared evaluation corpora (SciFact abstracts,
// COVID FAQ answers, XQuAD paragraphs) and their queries, deduplicated, in a fixed order so a
// cache of their embeddings can be resumed:
//   1. the sets' queries (the benchmark's queries: real questions, never indexed);
//   2. every title and sentence;
//   3. every pair of adjacent sentences, every triple, then every whole document.
// Sentences and windows of two or three sentences are the passages a sentence encoder sees
// when a product chunks documents finely; together they give over 100,000 real texts.
import fs from "node:fs";
import path from "node:path";
import { createLocalEmbedder } from "#app/server/embeddings/local.server.ts";

const SETS = ["scifact", "xquad_en", "covid_faq"];
const MIN_WORDS = 6;

function readJsonl(file: string): Record<string, unknown>[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

const words = (text: string) => text.trim().split(/\s+/).length;

export interface RealTexts {
  queries: string[];
  /** Texts to index, in the order they are cached. */
  passages: string[];
}

export function realTexts(evalDir = path.resolve("../shared/eval")): RealTexts {
  const segmenter = new Intl.Segmenter("en", { granularity: "sentence" });
  const queries: string[] = [];
  const first: string[] = [];
  const pairs: string[] = [];
  const triples: string[] = [];
  const documents: string[] = [];
  for (const set of SETS) {
    for (const query of readJsonl(path.join(evalDir, set, "queries.jsonl"))) {
      const text = String(query.text ?? "").trim();
      if (words(text) >= 3) queries.push(text);
    }
    for (const doc of readJsonl(path.join(evalDir, set, "corpus.jsonl"))) {
      const title = String(doc.title ?? "").trim();
      const text = String(doc.text ?? "").trim();
      if (words(title) >= 3) first.push(title);
      const sentences = [...segmenter.segment(text)]
        .map(({ segment }) => segment.trim())
        .filter((s) => words(s) >= MIN_WORDS);
      first.push(...sentences);
      if (sentences.length > 1) documents.push(text);
      for (let i = 0; i + 1 < sentences.length; i++) {
        pairs.push(`${sentences[i]} ${sentences[i + 1]}`);
        if (i + 2 < sentences.length) triples.push(`${pairs.at(-1)} ${sentences[i + 2]}`);
      }
    }
  }
  const uniqueQueries = [...new Set(queries)];
  const asked = new Set(uniqueQueries);
  const passages = [...new Set([...first, ...pairs, ...triples, ...documents])].filter(
    (t) => !asked.has(t),
  );
  return { queries: uniqueQueries, passages };
}

/**
 * Embeds the first `count` texts (queries, then passages) with the embedded encoder into
 * `file` (float32 rows, appended batch by batch, so an interrupted run resumes where it
 * stopped), on `workers` worker threads. Returns the number of rows the file holds.
 */
export async function cacheRealVectors(
  file: string,
  texts: string[],
  count: number,
  workers = 2,
): Promise<number> {
  const dimension = 512;
  const bytesPerRow = dimension * 4;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const size = fs.existsSync(file) ? fs.statSync(file).size : 0;
  let done = Math.floor(size / bytesPerRow);
  if (size !== done * bytesPerRow) fs.truncateSync(file, done * bytesPerRow);
  const wanted = Math.min(count, texts.length);
  if (done >= wanted) return done;
  const embedder = await createLocalEmbedder({ documentWorkers: workers, queryWorkers: 0 });
  const started = performance.now();
  const from = done;
  try {
    while (done < wanted) {
      const batch = texts.slice(done, Math.min(wanted, done + 256));
      const vectors = await embedder.embed(batch, "document");
      const flat = new Float32Array(vectors.length * dimension);
      vectors.forEach((v, i) => flat.set(v, i * dimension));
      fs.appendFileSync(file, Buffer.from(flat.buffer));
      done += vectors.length;
      const rate = (done - from) / ((performance.now() - started) / 1000);
      process.stderr.write(`\r  embedded ${done}/${wanted} texts, ${rate.toFixed(1)}/s   `);
    }
  } finally {
    process.stderr.write("\n");
    await embedder.close?.();
  }
  return done;
}
