// Writes texts' vectors for the retrieval lab: <prefix>.f32 (the unit vectors, one after
// another) and <prefix>.json (the layout the caller gives: [chunk id, how many vectors][]).
// Shared by embed-sentences.ts and embed-windows.ts.
import fs from "node:fs";
import type { EmbeddingProvider } from "../../app/server/embeddings/provider.server.ts";
import { l2Normalise } from "../../app/server/embeddings/local.server.ts";

const BATCH = 512;

export async function writeVectorFile(
  embedder: EmbeddingProvider,
  texts: readonly string[],
  layout: readonly [number, number][],
  prefix: string,
  what: string,
): Promise<void> {
  const started = performance.now();
  const file = fs.openSync(`${prefix}.f32`, "w");
  try {
    for (let offset = 0; offset < texts.length; offset += BATCH) {
      const vectors = await embedder.embed(texts.slice(offset, offset + BATCH), "document");
      for (const vector of vectors) fs.writeSync(file, Buffer.from(l2Normalise(vector).buffer));
      const seconds = ((performance.now() - started) / 1000).toFixed(0);
      console.error(`${offset + vectors.length}/${texts.length} ${what} in ${seconds} s`);
    }
  } finally {
    fs.closeSync(file);
  }
  fs.writeFileSync(`${prefix}.json`, JSON.stringify(layout));
}
