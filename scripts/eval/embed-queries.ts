// Offline helper: embeds a BEIR folder's queries with the embedded encoder, once, and writes
// them to a cache file (JSON: id → vector) for the retrieval lab (retrieval-lab.ts).
// `npx tsx scripts/eval/embed-queries.ts <folder> <out.json>`
import fs from "node:fs";
import path from "node:path";
import { createLocalEmbedder } from "../../app/server/embeddings/local.server.ts";

async function main(): Promise<void> {
  const [folder, out] = process.argv.slice(2);
  if (!folder || !out) throw new Error("usage: embed-queries.ts <folder> <out.json>");
  const lines = fs
    .readFileSync(path.join(folder, "queries.jsonl"), "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "");
  const queries = lines.map((line) => JSON.parse(line) as { _id: string; text: string });
  const embedder = await createLocalEmbedder({ documentWorkers: 1, queryWorkers: 0 });
  const vectors = await embedder.embed(
    queries.map((query) => query.text),
    "query",
  );
  const cache: Record<string, number[]> = {};
  queries.forEach((query, i) => {
    cache[query._id] = Array.from(vectors[i] ?? []);
  });
  fs.writeFileSync(out, JSON.stringify(cache));
  await embedder.close?.();
}

void main();
