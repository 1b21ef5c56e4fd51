// Offline helper for the retrieval lab (retrieval-lab.ts, experiment `sentences`): embeds every
// sentence of a tenant's chunks with the embedded encoder and writes <prefix>.f32 (the unit
// vectors, one after another) and <prefix>.json ([chunk id, sentence count][], same order).
// Measured in decision 039: SciFact's 11,854 chunks hold 49,051 sentences, 875 s of encoding.
// `npx tsx scripts/eval/embed-sentences.ts <tenant.db> <prefix>`
import os from "node:os";
import Database from "better-sqlite3";
import { createLocalEmbedder } from "../../app/server/embeddings/local.server.ts";
import { writeVectorFile } from "./vector-file.ts";

/** Sentences of a text; a fragment of a few words joins its neighbour. */
function sentencesOf(text: string): string[] {
  const merged: string[] = [];
  for (const sentence of text.split(/(?<=[.!?])\s+(?=[A-Z0-9(])/)) {
    const trimmed = sentence.trim();
    if (!trimmed) continue;
    const last = merged.at(-1);
    if (last !== undefined && (words(last) < 6 || words(trimmed) < 4)) {
      merged[merged.length - 1] = `${last} ${trimmed}`;
    } else merged.push(trimmed);
  }
  return merged;
}

function words(text: string): number {
  return text.split(/\s+/).length;
}

async function main(): Promise<void> {
  const [dbPath, prefix] = process.argv.slice(2);
  if (!dbPath || !prefix) throw new Error("usage: embed-sentences.ts <tenant.db> <prefix>");
  const db = new Database(dbPath, { readonly: true });
  const rows = db.prepare("SELECT id, text FROM chunks ORDER BY id").all() as {
    id: number;
    text: string;
  }[];
  const layout: [number, number][] = [];
  const texts: string[] = [];
  for (const row of rows) {
    const sentences = sentencesOf(row.text);
    layout.push([row.id, sentences.length]);
    texts.push(...sentences);
  }
  console.error(`${rows.length} chunks, ${texts.length} sentences`);
  const embedder = await createLocalEmbedder({
    documentWorkers: os.availableParallelism(),
    queryWorkers: 0,
  });
  await writeVectorFile(embedder, texts, layout, prefix, "sentences");
  await embedder.close?.();
}

void main();
