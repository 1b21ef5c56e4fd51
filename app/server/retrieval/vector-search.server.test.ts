import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { replaceDocument } from "#tenants/knowledge-base.ts";
import { DEMO_TENANT_ID, type TenantId } from "#tenants/id.ts";
import { openTenantDb, type TenantDb } from "#tenants/store.ts";
import { cosine, nearestChunks, scoreChunks } from "./vector-search.server.ts";

let dir: string;
let db: TenantDb;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-vector-"));
  db = openTenantDb(
    dir,
    DEMO_TENANT_ID as TenantId,
    { model: "t", dimension: 8 },
    { create: true },
  );
  const vectors = [
    [1, 0, 0, 0, 0, 0, 0, 0],
    [0.9, 0.1, 0, 0, 0, 0, 0, 0],
    [0, 1, 0, 0, 0, 0, 0, 0],
    [0, 0, 1, 0, 0, 0, 0, 0],
    [-1, 0, 0, 0, 0, 0, 0, 0],
  ];
  replaceDocument(db, {
    sourceKey: "k",
    sourceType: "text",
    title: "Doc",
    contentHash: "h",
    bytes: 1,
    chunks: vectors.map((v, ord) => ({
      ord,
      headingPath: "",
      text: `chunk ${ord}`,
      tokenCount: 2,
      embedding: Float32Array.from(v),
      contextEmbedding: ord === 3 ? Float32Array.from([1, 0, 0, 0, 0, 0, 0, 0]) : undefined,
    })),
  });
});

afterEach(() => {
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("nearestChunks", () => {
  it("finds the same neighbours by exact scan and by binary pass with re-scoring", () => {
    const query = Float32Array.from([1, 0.05, 0, 0, 0, 0, 0, 0]);
    const exact = nearestChunks(db, query, 2);
    expect(exact.map((hit) => hit.chunkId)).toEqual([1, 2]);
    expect(exact[0]?.similarity).toBeCloseTo(
      cosine(query, Float32Array.from([1, 0, 0, 0, 0, 0, 0, 0])),
      5,
    );
    const binary = nearestChunks(db, query, 2, "binary");
    expect(binary.map((hit) => hit.chunkId)).toEqual([1, 2]);
    expect(binary[0]?.similarity).toBeCloseTo(exact[0]?.similarity ?? 0, 5);
    expect(nearestChunks(db, query, 0)).toEqual([]);
  });
});

describe("scoreChunks", () => {
  it("scores text and context vectors, null where a chunk has none", () => {
    const scores = scoreChunks(db, Float32Array.from([1, 0, 0, 0, 0, 0, 0, 0]), [4, 5, 99]);
    expect(scores.get(4)?.text).toBeCloseTo(0);
    expect(scores.get(4)?.context).toBeCloseTo(1);
    expect(scores.get(5)).toEqual({ text: -1, context: null });
    expect(scores.get(99)).toEqual({ text: null, context: null });
    expect(cosine(new Float32Array(8), Float32Array.from([1, 0, 0, 0, 0, 0, 0, 0]))).toBe(0);
  });
});
