import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { deleteDocument, replaceDocument } from "#tenants/knowledge-base.ts";
import { newTenantId } from "#tenants/id.ts";
import { openTenantDb, type TenantDb } from "#tenants/store.ts";
import {
  DEFAULT_FAST_PATH_MIN_CHUNKS,
  DEFAULT_INDEX_BUDGET_BYTES,
  DEFAULT_REBUILD_INTERVAL_MS,
  buildVectorIndex,
  configureVectorIndex,
  fastPathMinChunks,
  indexBytes,
  vectorIndexUsage,
} from "./vector-index.server.ts";
import { nearestChunks, usesFastPath } from "./vector-search.server.ts";

let dir: string;
const open: TenantDb[] = [];

/** Deterministic pseudo-random numbers in [-1, 1). */
function random(seed: number): () => number {
  let state = seed;
  return () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
}

function vectors(count: number, dimension: number, seed: number): Float32Array[] {
  const next = random(seed);
  // Clustered like real embeddings: a shared direction plus noise, so neighbours exist.
  const centre = Float32Array.from({ length: dimension }, () => next());
  return Array.from({ length: count }, () =>
    Float32Array.from({ length: dimension }, (_, i) => 0.5 * (centre[i] as number) + next()),
  );
}

function tenant(dimension: number): TenantDb {
  const db = openTenantDb(dir, newTenantId(), { model: "t", dimension }, { create: true });
  open.push(db);
  return db;
}

function addDocument(db: TenantDb, key: string, embeddings: Float32Array[]): number {
  const { documentId } = replaceDocument(db, {
    sourceKey: key,
    sourceType: "text",
    title: key,
    contentHash: key,
    bytes: 1,
    chunks: embeddings.map((embedding, ord) => ({
      ord,
      headingPath: "",
      text: `${key} ${ord}`,
      tokenCount: 2,
      embedding,
    })),
  });
  return documentId;
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-vindex-"));
});

afterEach(() => {
  for (const db of open.splice(0)) if (db.open) db.close();
  configureVectorIndex({
    budgetBytes: DEFAULT_INDEX_BUDGET_BYTES,
    minChunks: DEFAULT_FAST_PATH_MIN_CHUNKS,
    rebuildIntervalMs: DEFAULT_REBUILD_INTERVAL_MS,
  });
  vi.useRealTimers();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("the in-memory vector index", () => {
  it.each([64, 40, 1056])("finds the exact scan's neighbours (%i dimensions)", (dimension) => {
    const db = tenant(dimension);
    addDocument(db, "a", vectors(300, dimension, dimension));
    for (const query of vectors(20, dimension, dimension + 1)) {
      const exact = nearestChunks(db, query, 10, "exact");
      const fast = nearestChunks(db, query, 10, "binary");
      expect(fast.map((hit) => hit.chunkId)).toEqual(exact.map((hit) => hit.chunkId));
      fast.forEach((hit, i) => expect(hit.similarity).toBeCloseTo(exact[i]?.similarity ?? 0, 2));
    }
  });

  it("re-scores only the candidate pool of the Hamming scan, nearest first", () => {
    const db = tenant(64);
    const rows = vectors(500, 64, 7);
    addDocument(db, "a", rows);
    const { index } = buildVectorIndex(db);
    expect(index.count).toBe(500);
    expect(index.bytes).toBe(indexBytes(500, 64));
    const query = rows[42] as Float32Array;
    // A pool of one still finds an identical vector: its Hamming distance is 0.
    const [hit] = index.search(query, 1, 1);
    expect(hit?.similarity).toBeCloseTo(1, 2);
    const hits = index.search(query, 5, 50);
    expect(hits).toHaveLength(5);
    for (let i = 1; i < hits.length; i++) {
      expect(hits[i - 1]?.similarity).toBeGreaterThanOrEqual(hits[i]?.similarity ?? 0);
    }
    expect(index.search(new Float32Array(64), 3)).toHaveLength(3);
  });

  it("is rebuilt after every change to the knowledge base", () => {
    const db = tenant(16);
    addDocument(db, "a", vectors(50, 16, 1));
    const query = Float32Array.from({ length: 16 }, (_, i) => (i % 3 === 0 ? 1 : -0.5));
    expect(nearestChunks(db, query, 1, "binary")[0]?.similarity).toBeLessThan(0.99);
    const added = addDocument(db, "b", [query]);
    const [top] = nearestChunks(db, query, 1, "binary");
    expect(top?.similarity).toBeCloseTo(1, 2);
    expect(nearestChunks(db, query, 1, "exact")[0]?.chunkId).toBe(top?.chunkId);
    deleteDocument(db, added);
    const after = nearestChunks(db, query, 3, "binary");
    expect(after.map((hit) => hit.chunkId)).not.toContain(top?.chunkId);
    expect(after.map((hit) => hit.chunkId)).toEqual(
      nearestChunks(db, query, 3, "exact").map((hit) => hit.chunkId),
    );
  });

  it("is taken by default from the configured size, within the memory budget", () => {
    expect(fastPathMinChunks()).toBe(DEFAULT_FAST_PATH_MIN_CHUNKS);
    configureVectorIndex({ minChunks: 100 });
    const small = tenant(32);
    addDocument(small, "a", vectors(99, 32, 3));
    const large = tenant(32);
    addDocument(large, "a", vectors(150, 32, 4));
    expect(usesFastPath(small)).toBe(false);
    expect(usesFastPath(large)).toBe(true);
    expect(vectorIndexUsage()).toEqual({ indexes: 1, bytes: indexBytes(150, 32) });
    const empty = tenant(32);
    expect(nearestChunks(empty, new Float32Array(32), 5, "binary")).toEqual([]);

    // Room for one index: the least recently used is dropped; too big for it: exact scan.
    configureVectorIndex({ minChunks: 100, budgetBytes: indexBytes(160, 32) });
    const other = tenant(32);
    addDocument(other, "a", vectors(120, 32, 5));
    expect(usesFastPath(large)).toBe(true);
    expect(usesFastPath(other)).toBe(true);
    expect(vectorIndexUsage()).toEqual({ indexes: 1, bytes: indexBytes(120, 32) });
    addDocument(other, "b", vectors(60, 32, 6));
    expect(usesFastPath(other)).toBe(false);
    const query = vectors(1, 32, 9)[0] as Float32Array;
    expect(nearestChunks(other, query, 4)).toEqual(nearestChunks(other, query, 4, "exact"));

    // A closed handle's index gives its memory back when another is built.
    expect(usesFastPath(large)).toBe(true);
    large.close();
    expect(usesFastPath(small)).toBe(false);
    configureVectorIndex({ minChunks: 50 });
    expect(usesFastPath(small)).toBe(true);
    expect(vectorIndexUsage()).toEqual({ indexes: 1, bytes: indexBytes(99, 32) });
  });

  it("waits for the rebuild interval after a change, with the exact scan meanwhile", () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    configureVectorIndex({ minChunks: 10, rebuildIntervalMs: 60_000 });
    const db = tenant(32);
    addDocument(db, "a", vectors(40, 32, 11));
    expect(usesFastPath(db)).toBe(true);
    const query = vectors(1, 32, 12)[0] as Float32Array;
    addDocument(db, "b", [query]);
    expect(usesFastPath(db)).toBe(false);
    const [top] = nearestChunks(db, query, 1);
    expect(top?.similarity).toBeCloseTo(1, 5);
    // A forced search rebuilds at once; so does the default one once the interval is over.
    expect(nearestChunks(db, query, 1, "binary")[0]?.chunkId).toBe(top?.chunkId);
    addDocument(db, "c", vectors(5, 32, 13));
    expect(usesFastPath(db)).toBe(false);
    vi.setSystemTime(Date.now() + 60_001);
    expect(usesFastPath(db)).toBe(true);
    expect(nearestChunks(db, query, 1)).toEqual(nearestChunks(db, query, 1, "binary"));
  });

  it("reads the vectors from vec0 when a file has no plain copy", () => {
    const db = tenant(16);
    addDocument(db, "a", vectors(60, 16, 21));
    db.exec("DROP TABLE chunk_vectors");
    const { index } = buildVectorIndex(db);
    expect(index.count).toBe(60);
    for (const query of vectors(5, 16, 22)) {
      const exact = nearestChunks(db, query, 5, "exact");
      expect(nearestChunks(db, query, 5, "binary")).toEqual(
        exact.map((hit) => ({
          chunkId: hit.chunkId,
          similarity: expect.closeTo(hit.similarity, 5),
        })),
      );
    }
  });
});
