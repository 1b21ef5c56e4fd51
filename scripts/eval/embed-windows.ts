// Offline helper for the retrieval lab (retrieval-lab.ts, experiments `windows`, `stopwords`):
// embeds what the stored chunk vector does not cover. The stored text vector holds a chunk's
// "Title > heading" prefix and its first ~60 words (96 tokens, decision 039); this writes a
// vector for each further window of WINDOW_WORDS words of the chunk's text (no prefix), in the
// layout of embed-sentences.ts: <prefix>.f32 (unit vectors) and <prefix>.json
// ([chunk id, window count][]). It also writes <prefix>.titles.json: the calibration's title
// pseudo-queries (calibrate.server.ts) with their vectors and documents, and
// <prefix>.queries-nostop.json: the set's queries embedded without their stop words.
// `npx tsx scripts/eval/embed-windows.ts <tenant.db> <beir folder> <prefix> [window words]`
// Measured in decision 045.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import type { TenantDb } from "#tenants/store.ts";
import { createLocalEmbedder } from "../../app/server/embeddings/local.server.ts";
import { writeVectorFile } from "./vector-file.ts";
import { pseudoQueries } from "../../app/server/retrieval/calibrate.server.ts";
import { STOP_WORDS } from "../../app/server/retrieval/fts-query.server.ts";

/** Windows of `size` words after the first `size` (a tail under a quarter joins the last). */
function laterWindows(text: string, size: number): string[] {
  const words = text.split(/\s+/).filter(Boolean);
  const windows: string[] = [];
  for (let start = size; start < words.length; start += size) {
    const window = words.slice(start, start + size);
    if (window.length < size / 4 && windows.length > 0) {
      windows[windows.length - 1] += ` ${window.join(" ")}`;
    } else windows.push(window.join(" "));
  }
  return windows;
}

/** A query without its stop words (as the keyword stage drops them); all stop words: as is. */
function withoutStopWords(text: string): string {
  const kept = text
    .split(/\s+/)
    .filter((word) => !STOP_WORDS.has(word.toLowerCase().replace(/[^\p{L}\p{N}]/gu, "")));
  return kept.length > 0 ? kept.join(" ") : text;
}

async function main(): Promise<void> {
  const [dbPath, folder, prefix, size = "56"] = process.argv.slice(2);
  if (!dbPath || !folder || !prefix)
    throw new Error("usage: embed-windows.ts <tenant.db> <beir folder> <prefix> [window words]");
  const db = new Database(dbPath, { readonly: true });
  const embedder = await createLocalEmbedder({
    documentWorkers: os.availableParallelism(),
    queryWorkers: 0,
  });

  const titles = pseudoQueries(db as unknown as TenantDb);
  const titleVectors = await embedder.embed(
    titles.map((q) => q.text),
    "query",
  );
  const strippedTitles = await embedder.embed(
    titles.map((q) => withoutStopWords(q.text)),
    "query",
  );
  fs.writeFileSync(
    `${prefix}.titles.json`,
    JSON.stringify(
      titles.map((q, i) => ({
        text: q.text,
        ftsQuery: q.ftsQuery,
        documents: [...q.documents],
        vector: Array.from(titleVectors[i] ?? []),
        vectorNoStop: Array.from(strippedTitles[i] ?? []),
      })),
    ),
  );
  const queries = fs
    .readFileSync(path.join(folder, "queries.jsonl"), "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as { _id: string; text: string });
  const stripped = await embedder.embed(
    queries.map((q) => withoutStopWords(q.text)),
    "query",
  );
  fs.writeFileSync(
    `${prefix}.queries-nostop.json`,
    JSON.stringify(Object.fromEntries(queries.map((q, i) => [q._id, Array.from(stripped[i]!)]))),
  );

  const rows = db.prepare("SELECT id, text FROM chunks ORDER BY id").all() as {
    id: number;
    text: string;
  }[];
  const layout: [number, number][] = [];
  const texts: string[] = [];
  for (const row of rows) {
    const windows = laterWindows(row.text, Number(size));
    layout.push([row.id, windows.length]);
    texts.push(...windows);
  }
  console.error(`${rows.length} chunks, ${texts.length} later windows of ${size} words`);
  await writeVectorFile(embedder, texts, layout, prefix, "windows");
  await embedder.close?.();
}

void main();
