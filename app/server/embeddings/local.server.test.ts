import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createLocalEmbedder,
  l2Normalise,
  LOCAL_EMBEDDING_DIMENSION,
  LOCAL_EMBEDDING_MODEL,
  truncateWords,
} from "./local.server.ts";
import type { EmbeddingProvider } from "./provider.server.ts";

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += (a[i] as number) * (b[i] as number);
  return dot;
}

function norm(vector: Float32Array): number {
  return Math.sqrt(cosine(vector, vector));
}

describe("l2Normalise and truncateWords", () => {
  it("scales to unit length and leaves a zero vector alone", () => {
    expect(Array.from(l2Normalise([3, 4]))).toEqual([0.6, 0.8].map((v) => Math.fround(v)));
    expect(Array.from(l2Normalise([0, 0]))).toEqual([0, 0]);
  });

  it("keeps the first words of a long text", () => {
    expect(truncateWords("one two  three four", 2)).toBe("one two");
    expect(truncateWords("short text", 5)).toBe("short text");
  });
});

describe("createLocalEmbedder (the real Universal Sentence Encoder Lite)", () => {
  let embedder: EmbeddingProvider;

  beforeAll(async () => {
    // A batch of 2 makes the 5-sentence call below cross batch boundaries.
    embedder = await createLocalEmbedder({ batchSize: 2 });
  }, 60_000);

  afterAll(async () => {
    await embedder.close?.();
  });

  it("embeds offline into normalised 512-dimension vectors, closer for similar meaning", async () => {
    expect(embedder.model).toBe(LOCAL_EMBEDDING_MODEL);
    expect(embedder.dimension).toBe(LOCAL_EMBEDDING_DIMENSION);
    const [refund, moneyBack, weather, refundAgain, empty] = await embedder.embed(
      [
        "How do I get a refund for my order?",
        "We return your money within 14 days if you send the item back.",
        "Tomorrow it will rain heavily in the mountains.",
        "How do I get a refund for my order?",
        "",
      ],
      "document",
    );
    for (const vector of [refund, moneyBack, weather, refundAgain, empty]) {
      expect(vector).toBeInstanceOf(Float32Array);
      expect(vector).toHaveLength(512);
      expect(norm(vector!)).toBeCloseTo(1, 4);
    }
    expect(cosine(refund!, moneyBack!)).toBeGreaterThan(cosine(refund!, weather!) + 0.1);
    // Batching must not change a text's vector.
    expect(cosine(refund!, refundAgain!)).toBeCloseTo(1, 4);
  });

  it("serialises concurrent calls and keeps each call's order", async () => {
    const texts = ["alpha beta", "shipping to Europe", "refund policy"];
    const [one, two, three] = await Promise.all([
      embedder.embed([texts[0]!], "query"),
      embedder.embed([texts[1]!, texts[2]!], "query"),
      embedder.embed([], "query"),
    ]);
    const together = await embedder.embed(texts, "query");
    expect(three).toEqual([]);
    expect(cosine(one![0]!, together[0]!)).toBeCloseTo(1, 4);
    expect(cosine(two![1]!, together[2]!)).toBeCloseTo(1, 4);
  });

  it("embeds a very long text without failing", async () => {
    const long = "The refund policy covers damaged items. ".repeat(400);
    const [vector] = await embedder.embed([long], "document");
    expect(norm(vector!)).toBeCloseTo(1, 4);
  });

  it("refuses to embed after close", async () => {
    const closing = await createLocalEmbedder();
    await closing.close?.();
    await expect(closing.embed(["hello"], "query")).rejects.toThrow(/closed/);
  }, 60_000);
});
