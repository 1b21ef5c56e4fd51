import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLocalEmbedder, LOCAL_MAX_TOKENS, type LocalEmbedder } from "../local.server.ts";
import { REFERENCE_TEXTS } from "./reference-texts.ts";
import { onnxModelFile } from "./use-lite.server.ts";
import { cosine } from "../../retrieval/vector-search.server.ts";

const fixture = JSON.parse(
  fs.readFileSync(new URL("./reference-vectors.json", import.meta.url), "utf8"),
) as { maxTokens: number; vectors: string[] };
const reference = fixture.vectors.map((base64) => {
  const bytes = Buffer.from(base64, "base64");
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
});

describe("USE-lite on ONNX Runtime (the graph built from the package's tfjs weights)", () => {
  let cacheFolder: string;
  let embedder: LocalEmbedder;

  beforeAll(async () => {
    // An empty cache folder: the graph is built by this test's code, not taken from a cache.
    cacheFolder = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-onnx-test-"));
    embedder = await createLocalEmbedder({
      documentWorkers: 1,
      queryWorkers: 0,
      onnxCacheFolder: cacheFolder,
      log: () => undefined,
    });
  }, 60_000);

  afterAll(async () => {
    await embedder.close?.();
    fs.rmSync(cacheFolder, { recursive: true, force: true });
  });

  it("gives the stored tfjs vectors (cosine ≥ 0.9999) on every reference text", async () => {
    expect(embedder.runtime).toBe("onnx");
    expect(fixture.maxTokens).toBe(LOCAL_MAX_TOKENS);
    expect(reference).toHaveLength(REFERENCE_TEXTS.length);
    // Once in one batch (padded to the longest text) and once a text per call.
    const together = await embedder.embed([...REFERENCE_TEXTS], "document");
    const alone = await Promise.all(
      REFERENCE_TEXTS.map(async (text) => (await embedder.embed([text], "query")).at(0)),
    );
    REFERENCE_TEXTS.forEach((text, i) => {
      const expected = reference[i] as Float32Array;
      expect(cosine(together[i] as Float32Array, expected), text).toBeGreaterThanOrEqual(0.9999);
      expect(cosine(alone[i] as Float32Array, expected), text).toBeGreaterThanOrEqual(0.9999);
    });
  });

  it("caches the built file by the weights' hash and reuses it", () => {
    const first = onnxModelFile({ cacheFolder });
    expect(first.built).toBe(false); // built when the embedder started
    expect(path.basename(first.path)).toMatch(/^use-lite-[0-9a-f]{32}-g\d+-float32\.onnx$/);
    expect(fs.readdirSync(cacheFolder).filter((name) => name.endsWith(".partial"))).toEqual([]);
    const other = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-onnx-test-"));
    try {
      const built = onnxModelFile({ cacheFolder: other });
      expect(built.built).toBe(true);
      expect(path.basename(built.path)).toBe(path.basename(first.path));
      expect(fs.readFileSync(built.path).equals(fs.readFileSync(first.path))).toBe(true);
    } finally {
      fs.rmSync(other, { recursive: true, force: true });
    }
  });
});
