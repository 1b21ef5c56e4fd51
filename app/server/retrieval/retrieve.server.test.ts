import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DEMO_TENANT_ID, type TenantId } from "#tenants/id.ts";
import { openTenantDb, type TenantDb } from "#tenants/store.ts";
import { FakeEmbedder } from "../../../tests/support/fake-embedder.ts";
import type { EmbeddingProvider } from "../embeddings/provider.server.ts";
import { KEYWORD_WEIGHT, VECTOR_WEIGHT, retrieve, retrieveWithStats } from "./retrieve.server.ts";

const DIMENSION = 4;

/**
 * A deterministic embedder whose query vectors the test chooses, so each case controls
 * exactly what the vector stage ranks first (the shared word-hashing FakeEmbedder cannot
 * make the two stages disagree on purpose). Unknown texts map to a fixed direction.
 */
function fakeEmbedder(queries: Record<string, number[]>): EmbeddingProvider & { calls: number } {
  return {
    model: "test:fake",
    dimension: DIMENSION,
    calls: 0,
    async embed(texts) {
      this.calls++;
      return texts.map((text) => Float32Array.from(queries[text] ?? [0, 0, 0, 1]));
    },
  };
}

let dir: string;
let db: TenantDb;
let nextDocument = 1;

beforeEach(() => {
  nextDocument = 1;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-retrieve-"));
  db = openTenantDb(
    dir,
    DEMO_TENANT_ID as TenantId,
    { model: "test:fake", dimension: DIMENSION },
    {
      create: true,
    },
  );
});

afterEach(() => {
  if (db.open) db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Inserts a document with one chunk into all three tables, as ingestion would. */
function addChunk(chunk: {
  id: number;
  title: string;
  heading?: string;
  text: string;
  vector: number[];
  url?: string;
  fileName?: string;
}): void {
  const documentId = nextDocument++;
  db.prepare(
    `INSERT INTO documents (id, source_key, source_type, title, url, file_name, content_hash, bytes,
       chunk_count, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, 'hash', 10, 1, 0, 0)`,
  ).run(
    documentId,
    `key-${documentId}`,
    chunk.url ? "url" : "file",
    chunk.title,
    chunk.url ?? null,
    chunk.fileName ?? null,
  );
  db.prepare(
    "INSERT INTO chunks (id, document_id, ord, heading_path, text, token_count) VALUES (?, ?, 0, ?, ?, 10)",
  ).run(chunk.id, documentId, chunk.heading ?? "", chunk.text);
  db.prepare("INSERT INTO chunks_fts (rowid, title, heading, body) VALUES (?, ?, ?, ?)").run(
    chunk.id,
    chunk.title,
    chunk.heading ?? "",
    chunk.text,
  );
  db.prepare("INSERT INTO documents_fts (rowid, title, heading, body) VALUES (?, ?, ?, ?)").run(
    documentId,
    chunk.title,
    chunk.heading ?? "",
    chunk.text,
  );
  db.prepare("INSERT INTO chunks_vec (chunk_id, embedding) VALUES (?, ?)").run(
    BigInt(chunk.id),
    Float32Array.from(chunk.vector),
  );
}

function seedShop(): void {
  addChunk({
    id: 1,
    title: "Refund policy",
    heading: "Returns",
    text: "Refunds are paid within 14 days.",
    vector: [1, 0, 0, 0],
    url: "https://shop.example/refunds",
  });
  addChunk({
    id: 2,
    title: "Shipping",
    heading: "Europe",
    text: "Parcels take 3 days to arrive.",
    vector: [0, 1, 0, 0],
    fileName: "shipping.md",
  });
  addChunk({
    id: 3,
    title: "Billing",
    heading: "Invoices",
    text: "Invoices list every refund we paid.",
    vector: [0.8, 0.2, 0, 0],
  });
  addChunk({
    id: 4,
    title: "About us",
    text: "We are a small company from Lisbon.",
    vector: [0, 0, 1, 0],
  });
}

describe("retrieve", () => {
  it("returns nothing for an empty knowledge base without embedding the question", async () => {
    const embedder = new FakeEmbedder({ dimension: DIMENSION });
    const result = await retrieveWithStats(db, embedder, "refund", { topK: 5 });
    expect(result.chunks).toEqual([]);
    expect(embedder.calls).toBe(0);
    expect(result.stats.totalMs).toBeGreaterThanOrEqual(0);
  });

  it("returns nothing for a blank question or topK 0", async () => {
    seedShop();
    const embedder = fakeEmbedder({});
    expect(await retrieve(db, embedder, "   ", { topK: 5 })).toEqual([]);
    expect(await retrieve(db, embedder, "refund", { topK: 0 })).toEqual([]);
    expect(embedder.calls).toBe(0);
  });

  it("ranks the chunk both stages agree on first and loads its document", async () => {
    seedShop();
    const embedder = fakeEmbedder({ "How do refunds work?": [1, 0.05, 0, 0] });
    const { chunks, stats } = await retrieveWithStats(db, embedder, "How do refunds work?", {
      topK: 2,
    });
    expect(chunks.map((c) => c.chunkId)).toEqual([1, 3]);
    const [first] = chunks;
    expect(first).toMatchObject({
      chunkId: 1,
      documentId: 1,
      title: "Refund policy",
      url: "https://shop.example/refunds",
      fileName: null,
      headingPath: "Returns",
      text: "Refunds are paid within 14 days.",
      keywordRank: 1,
      vectorRank: 1,
    });
    // The best BM25 score and the best cosine both normalise to 1.
    expect(first?.score).toBeCloseTo(KEYWORD_WEIGHT + VECTOR_WEIGHT);
    expect(first?.similarity).toBeCloseTo(0.9988, 3);
    expect(chunks[0]!.score).toBeGreaterThan(chunks[1]!.score);
    expect(stats.keywordHits).toBe(2);
    expect(stats.vectorHits).toBe(4);
    for (const ms of [stats.keywordMs, stats.embedMs, stats.vectorMs, stats.totalMs]) {
      expect(ms).toBeGreaterThanOrEqual(0);
    }
    expect(stats.totalMs).toBeGreaterThanOrEqual(stats.embedMs);
  });

  it("finds the right chunk end to end with the shared word-hashing embedder", async () => {
    const embedder = new FakeEmbedder({ dimension: DIMENSION });
    const texts = [
      "Refunds are paid within 14 days.",
      "Parcels take 3 days to arrive.",
      "We are a small company from Lisbon.",
    ];
    texts.forEach((text, i) =>
      addChunk({
        id: i + 1,
        title: `Page ${i + 1}`,
        text,
        vector: Array.from(embedder.vector(text)),
      }),
    );
    const chunks = await retrieve(db, embedder, "Which company is from Lisbon?", { topK: 2 });
    expect(chunks[0]).toMatchObject({ chunkId: 3, title: "Page 3", keywordRank: 1 });
    expect(embedder.calls).toBe(1);
  });

  it("embeds the question as a query", async () => {
    seedShop();
    const kinds: string[] = [];
    const embedder: EmbeddingProvider = {
      model: "test:fake",
      dimension: DIMENSION,
      async embed(texts, kind) {
        kinds.push(kind);
        return texts.map(() => Float32Array.from([1, 0, 0, 0]));
      },
    };
    await retrieve(db, embedder, "refund", { topK: 1 });
    expect(kinds).toEqual(["query"]);
  });

  it("fuses keyword and vector ranks, with weights that tilt the balance", async () => {
    seedShop();
    // "invoices" is a keyword hit on chunk 3 only; its vector points at chunk 4.
    const embedder = fakeEmbedder({ invoices: [0, 0, 1, 0] });
    const balanced = await retrieve(db, embedder, "invoices", { topK: 4 });
    expect(balanced[0]).toMatchObject({ chunkId: 3, keywordRank: 1 });
    expect(balanced[1]).toMatchObject({ chunkId: 4, keywordRank: null, vectorRank: 1 });

    const vectorOnly = await retrieve(db, embedder, "invoices", { topK: 4, keywordWeight: 0 });
    expect(vectorOnly[0]?.chunkId).toBe(4);

    const keywordOnly = await retrieve(db, embedder, "invoices", { topK: 4, vectorWeight: 0 });
    expect(keywordOnly[0]?.chunkId).toBe(3);
    expect(keywordOnly.map((c) => c.score)).toEqual(
      [...keywordOnly.map((c) => c.score)].sort((a, b) => b - a),
    );
  });

  it("weights a word in the title above the same word in a heading above the body", async () => {
    addChunk({
      id: 10,
      title: "Care guide",
      text: "The warranty covers parts.",
      vector: [0, 1, 0, 0],
    });
    addChunk({ id: 11, title: "Warranty", text: "It covers parts.", vector: [0, 1, 0, 0] });
    addChunk({
      id: 12,
      title: "Repairs",
      heading: "Warranty",
      text: "It covers parts.",
      vector: [0, 1, 0, 0],
    });
    const chunks = await retrieve(db, fakeEmbedder({}), "warranty", { topK: 3, vectorWeight: 0 });
    expect(chunks.map((c) => [c.chunkId, c.keywordRank])).toEqual([
      [11, 1],
      [12, 2],
      [10, 3],
    ]);
  });

  it("falls back to vectors alone when the question has no words", async () => {
    seedShop();
    const embedder = fakeEmbedder({ "¿?": [0, 1, 0, 0] });
    const { chunks, stats } = await retrieveWithStats(db, embedder, "¿?", { topK: 1 });
    expect(chunks).toEqual([
      expect.objectContaining({
        chunkId: 2,
        keywordRank: null,
        vectorRank: 1,
        fileName: "shipping.md",
      }),
    ]);
    expect(stats.keywordHits).toBe(0);
  });

  it("limits each stage to the candidate count", async () => {
    seedShop();
    const embedder = fakeEmbedder({});
    const { chunks, stats } = await retrieveWithStats(db, embedder, "refund", {
      topK: 1,
      candidates: 1,
    });
    expect(stats.vectorHits).toBe(1);
    expect(stats.keywordHits).toBe(1);
    expect(chunks).toHaveLength(1);
  });

  it("skips index rows whose chunk is gone and still fills topK", async () => {
    seedShop();
    // A stale vector row with no chunk behind it, closest to the question of all.
    db.prepare("INSERT INTO chunks_vec (chunk_id, embedding) VALUES (?, ?)").run(
      99n,
      Float32Array.from([1, 0, 0, 0]),
    );
    const chunks = await retrieve(db, fakeEmbedder({ refund: [1, 0, 0, 0] }), "refund", {
      topK: 2,
    });
    expect(chunks.map((c) => c.chunkId)).toEqual([1, 3]);
  });

  it("fails clearly when the handle was closed while the question was embedded", async () => {
    seedShop();
    const embedder: EmbeddingProvider = {
      model: "test:fake",
      dimension: DIMENSION,
      async embed(texts) {
        // Closed after the keyword stage, which runs while the question is embedded.
        await Promise.resolve();
        db.close();
        return texts.map(() => Float32Array.from([1, 0, 0, 0]));
      },
    };
    await expect(retrieve(db, embedder, "refund", { topK: 1 })).rejects.toThrow(/closed/);
  });

  it("runs the keyword stage while the question is embedded, and fails cleanly if it throws", async () => {
    seedShop();
    const order: string[] = [];
    let rejectEmbedding: (error: Error) => void = () => undefined;
    const embedder: EmbeddingProvider = {
      model: "test:slow",
      dimension: DIMENSION,
      embed: () => {
        order.push("embed called");
        return new Promise((_resolve, reject) => {
          rejectEmbedding = reject;
        });
      },
    };
    // The handle is gone before the keyword stage: its error is the ask's, and the embedding,
    // which fails later, is not left as an unhandled rejection.
    const pending = retrieveWithStats(
      () => {
        order.push("handle taken");
        if (order.length > 2) db.close();
        return db;
      },
      embedder,
      "refund",
      { topK: 1 },
    );
    await expect(pending).rejects.toThrow(/not open/);
    expect(order).toEqual(["handle taken", "embed called", "handle taken"]);
    rejectEmbedding(new Error("worker gone"));
    await new Promise((resolve) => setImmediate(resolve));
  });

  it("fails clearly when the embedder returns no vector", async () => {
    seedShop();
    const embedder: EmbeddingProvider = {
      model: "test:empty",
      dimension: DIMENSION,
      embed: async () => [],
    };
    await expect(retrieve(db, embedder, "refund", { topK: 1 })).rejects.toThrow(/no vector/);
  });
});
