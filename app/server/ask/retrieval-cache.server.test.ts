import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { newTenantId, type TenantId } from "#tenants/id.ts";
import { deleteDocument, replaceDocument } from "#tenants/knowledge-base.ts";
import { TenantPool, type TenantDb } from "#tenants/store.ts";
import { FakeEmbedder } from "../../../tests/support/fake-embedder.ts";
import { parseConfig } from "../config.server.ts";
import { createRetrievalCache } from "./retrieval-cache.server.ts";
import { knowledgeBaseVersion } from "#tenants/knowledge-base.ts";

const embedder = new FakeEmbedder({ dimension: 16 });
let dir: string;
let pool: TenantPool;
let a: TenantId;
let b: TenantId;

function addText(db: TenantDb, title: string, text: string): number {
  return replaceDocument(db, {
    sourceKey: `text:${title}`,
    sourceType: "text",
    title,
    contentHash: text,
    bytes: text.length,
    chunks: [
      { ord: 0, headingPath: title, text, tokenCount: 10, embedding: embedder.vector(text) },
    ],
  }).documentId;
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-rcache-"));
  pool = new TenantPool(dir, { model: embedder.model, dimension: embedder.dimension }, 4);
  a = newTenantId();
  b = newTenantId();
  addText(pool.create(a), "Ferry", "The harbour ferry leaves every 40 minutes.");
  addText(pool.create(b), "Ferry", "The river ferry leaves every 2 hours.");
  embedder.calls = 0;
});
afterEach(() => {
  pool.closeAll();
  fs.rmSync(dir, { recursive: true, force: true });
});

const settings = (entries: number) => ({
  RETRIEVAL_CACHE_SIZE: entries,
  CACHE_TENANTS: 10,
  RETRIEVAL_CACHE_TTL_MS: 60_000,
});
const cache = (entries = 10) => createRetrievalCache(settings(entries));

describe("retrieval cache", () => {
  it("answers the same question again without embedding or searching", async () => {
    const lookups: boolean[] = [];
    const c = createRetrievalCache(settings(10), (hit) => lookups.push(hit));
    const first = await c.retrieve(a, pool.get(a), embedder, "How often does the ferry leave?", {
      topK: 3,
    });
    const again = await c.retrieve(a, pool.get(a), embedder, "  how often does the FERRY leave ", {
      topK: 3,
    });
    expect(first.cached).toBe(false);
    expect(again.cached).toBe(true);
    expect(again.chunks).toEqual(first.chunks);
    expect(again.stats.embedMs).toBe(0);
    expect(embedder.calls).toBe(1);
    expect(c.counts(a)).toEqual({ hits: 1, misses: 1 });
    expect(lookups).toEqual([false, true]);

    // Another topK is another result.
    expect((await c.retrieve(a, pool.get(a), embedder, "ferry", { topK: 1 })).cached).toBe(false);
  });

  it("never shares results between tenants", async () => {
    const c = cache();
    const fromA = await c.retrieve(a, pool.get(a), embedder, "ferry?", { topK: 3 });
    const fromB = await c.retrieve(b, pool.get(b), embedder, "ferry?", { topK: 3 });
    expect(fromB.cached).toBe(false);
    expect(fromA.chunks[0]?.text).toMatch(/40 minutes/);
    expect(fromB.chunks[0]?.text).toMatch(/2 hours/);
    expect(c.counts(b)).toEqual({ hits: 0, misses: 1 });
  });

  it("is invalidated by any change to the tenant's documents or retrieval settings", async () => {
    const c = cache();
    const db = pool.get(a);
    const ask = () => c.retrieve(a, db, embedder, "When does the bus leave?", { topK: 3 });
    const v0 = knowledgeBaseVersion(db);
    await ask();
    expect((await ask()).cached).toBe(true);

    const busId = addText(db, "Bus", "The bus leaves at noon.");
    expect(knowledgeBaseVersion(db)).not.toBe(v0);
    const afterAdd = await ask();
    expect(afterAdd.cached).toBe(false);
    expect(afterAdd.chunks.map((chunk) => chunk.title)).toContain("Bus");
    expect((await ask()).cached).toBe(true);

    deleteDocument(db, busId);
    const afterDelete = await ask();
    expect(afterDelete.cached).toBe(false);
    expect(afterDelete.chunks.map((chunk) => chunk.title)).not.toContain("Bus");

    db.prepare("INSERT INTO meta (key, value) VALUES ('fusion_weights', '1,1')").run();
    expect((await ask()).cached).toBe(false);

    // Another tenant's change leaves this tenant's entries alone.
    addText(pool.get(b), "Bus", "The bus leaves at dawn.");
    expect((await ask()).cached).toBe(true);
  });

  it("is off with zero entries, and forgets a tenant on request", async () => {
    const off = createRetrievalCache(parseConfig({ DATA_DIR: dir, RETRIEVAL_CACHE_SIZE: "0" }));
    expect(off.enabled).toBe(false);
    await off.retrieve(a, pool.get(a), embedder, "ferry", { topK: 3 });
    expect((await off.retrieve(a, pool.get(a), embedder, "ferry", { topK: 3 })).cached).toBe(false);
    expect(off.counts(a)).toEqual({ hits: 0, misses: 0 });

    const c = cache();
    await c.retrieve(a, pool.get(a), embedder, "ferry", { topK: 3 });
    c.forget(a);
    expect(c.counts(a)).toEqual({ hits: 0, misses: 0 });
    expect((await c.retrieve(a, pool.get(a), embedder, "ferry", { topK: 3 })).cached).toBe(false);
  });

  it("keeps a bounded number of entries per tenant", async () => {
    const c = cache(2);
    for (const q of ["one", "two", "three"])
      await c.retrieve(a, pool.get(a), embedder, q, { topK: 3 });
    expect((await c.retrieve(a, pool.get(a), embedder, "three", { topK: 3 })).cached).toBe(true);
    expect((await c.retrieve(a, pool.get(a), embedder, "one", { topK: 3 })).cached).toBe(false);
  });
});

describe("retrieval while asks to other tenants churn the handle pool", () => {
  it("reopens a handle the pool closed during the query embedding", async () => {
    const slow = new FakeEmbedder({ dimension: 16, delayMs: 30 });
    const small = new TenantPool(dir, { model: slow.model, dimension: slow.dimension }, 1);
    try {
      const pending = cache().retrieve(a, () => small.get(a), slow, "ferry", { topK: 1 });
      // Another tenant's ask takes the only handle slot: a's handle is closed mid-embedding.
      small.get(b);
      const { chunks } = await pending;
      expect(chunks[0]?.text).toBe("The harbour ferry leaves every 40 minutes.");
    } finally {
      small.closeAll();
    }
  });
});
