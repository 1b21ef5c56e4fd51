import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeEmbedder } from "../tests/support/fake-embedder.ts";
import { newTenantId } from "./id.ts";
import {
  claimNextJob,
  completeJob,
  countChunks,
  deleteDocument,
  enqueueJob,
  failJob,
  findDocumentBySourceKey,
  getDocument,
  getJob,
  hasPendingJobs,
  hasRunnableJobs,
  listDocuments,
  listJobs,
  nextJobDueAt,
  renewLease,
  replaceDocument,
  updateJobProgress,
  type EnqueueJobInput,
  type ReplaceDocumentInput,
} from "./knowledge-base.ts";
import { openTenantDb, type TenantDb } from "./store.ts";

const embedder = new FakeEmbedder({ dimension: 8 });
let dir: string;
let db: TenantDb;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-kb-"));
  db = openTenantDb(
    dir,
    newTenantId(),
    { model: embedder.model, dimension: embedder.dimension },
    { create: true },
  );
});

afterEach(() => {
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const counts = () => ({
  chunks: countChunks(db),
  fts: (db.prepare("SELECT count(*) AS n FROM chunks_fts").get() as { n: number }).n,
  vec: (db.prepare("SELECT count(*) AS n FROM chunks_vec").get() as { n: number }).n,
});

const ftsHits = (query: string) =>
  db
    .prepare("SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY rowid")
    .pluck()
    .all(query) as number[];

const nearest = (text: string, k = 10) =>
  db
    .prepare("SELECT chunk_id FROM chunks_vec WHERE embedding MATCH ? AND k = ? ORDER BY distance")
    .pluck()
    .all(Buffer.from(embedder.vector(text).buffer), BigInt(k)) as number[];

function documentInput(
  texts: string[],
  overrides: Partial<ReplaceDocumentInput> = {},
): ReplaceDocumentInput {
  return {
    sourceKey: "file:guide.md",
    sourceType: "file",
    title: "Visitor guide",
    fileName: "guide.md",
    mimeType: "text/markdown",
    contentHash: texts.join("|"),
    bytes: texts.join("").length,
    chunks: texts.map((text, ord) => ({
      ord,
      headingPath: `Section ${ord}`,
      text,
      tokenCount: text.split(" ").length,
      embedding: embedder.vector(text),
    })),
    now: 1000,
    ...overrides,
  };
}

describe("documents", () => {
  it("creates a document with chunks in the table, the FTS index and the vector index", () => {
    const result = replaceDocument(
      db,
      documentInput(["The ferry leaves hourly", "Seals rest on the sandbank"]),
    );
    expect(result.outcome).toBe("created");
    expect(counts()).toEqual({ chunks: 2, fts: 2, vec: 2 });
    const chunkIds = db.prepare("SELECT id FROM chunks ORDER BY ord").pluck().all() as number[];
    expect(ftsHits("ferry")).toEqual([chunkIds[0]]);
    expect(ftsHits("title:visitor")).toEqual(chunkIds);
    expect(ftsHits("heading:1")).toEqual([chunkIds[1]]);
    expect(nearest("seals sandbank")[0]).toBe(chunkIds[1]);
    expect(getDocument(db, result.documentId)).toEqual({
      id: result.documentId,
      sourceKey: "file:guide.md",
      sourceType: "file",
      title: "Visitor guide",
      url: null,
      fileName: "guide.md",
      mimeType: "text/markdown",
      contentHash: "The ferry leaves hourly|Seals rest on the sandbank",
      bytes: 49,
      chunkCount: 2,
      createdAt: 1000,
      updatedAt: 1000,
    });
  });

  it("keeps one document-level keyword row per document, replaced and deleted with it", () => {
    const documentHits = (query: string) =>
      db
        .prepare("SELECT rowid FROM documents_fts WHERE documents_fts MATCH ? ORDER BY rowid")
        .pluck()
        .all(query) as number[];
    const first = replaceDocument(
      db,
      documentInput(["The ferry leaves hourly", "Seals rest on the sandbank"]),
    );
    // Words of both chunks and the title find the one document row; headings too.
    expect(documentHits("ferry AND seals AND title:visitor")).toEqual([first.documentId]);
    expect(documentHits("heading:section")).toEqual([first.documentId]);
    replaceDocument(db, documentInput(["Kayaks leave at dawn"], { contentHash: "v2" }));
    expect(documentHits("ferry")).toEqual([]);
    expect(documentHits("kayaks")).toEqual([first.documentId]);
    deleteDocument(db, first.documentId);
    expect(documentHits("kayaks")).toEqual([]);
  });

  it("leaves an unchanged document untouched", () => {
    const first = replaceDocument(db, documentInput(["alpha text"]));
    const chunkIds = db.prepare("SELECT id FROM chunks").pluck().all();
    const again = replaceDocument(
      db,
      documentInput(["alpha text"], { now: 5000, title: "Renamed" }),
    );
    expect(again).toEqual({ documentId: first.documentId, outcome: "unchanged" });
    expect(getDocument(db, first.documentId)).toMatchObject({
      updatedAt: 1000,
      title: "Visitor guide",
    });
    expect(db.prepare("SELECT id FROM chunks").pluck().all()).toEqual(chunkIds);
    expect(counts()).toEqual({ chunks: 1, fts: 1, vec: 1 });
  });

  it("replaces a changed document everywhere, keeping its id and creation time", () => {
    const first = replaceDocument(
      db,
      documentInput(["old kestrel text", "old puffin text", "old tern text"]),
    );
    const second = replaceDocument(
      db,
      documentInput(["new heron text"], {
        now: 2000,
        title: "Guide v2",
        url: "https://example.com/g",
      }),
    );
    expect(second).toEqual({ documentId: first.documentId, outcome: "replaced" });
    expect(counts()).toEqual({ chunks: 1, fts: 1, vec: 1 });
    expect(ftsHits("kestrel OR puffin OR tern")).toEqual([]);
    expect(ftsHits("heron")).toHaveLength(1);
    expect(nearest("anything")).toEqual(db.prepare("SELECT id FROM chunks").pluck().all());
    expect(getDocument(db, first.documentId)).toMatchObject({
      title: "Guide v2",
      url: "https://example.com/g",
      chunkCount: 1,
      createdAt: 1000,
      updatedAt: 2000,
    });
  });

  it("rolls back a failed replacement, keeping the old version whole", () => {
    replaceDocument(db, documentInput(["keep me"]));
    const broken = documentInput(["new one", "new two"]);
    (broken.chunks[1] as { embedding: Float32Array }).embedding = new Float32Array(3);
    expect(() => replaceDocument(db, broken)).toThrow();
    expect(counts()).toEqual({ chunks: 1, fts: 1, vec: 1 });
    expect(ftsHits("keep")).toHaveLength(1);
    expect(findDocumentBySourceKey(db, "file:guide.md")?.contentHash).toBe("keep me");
  });

  it("deletes a document from all three places and leaves others alone", () => {
    const a = replaceDocument(db, documentInput(["alpha one", "alpha two"]));
    const b = replaceDocument(
      db,
      documentInput(["beta one"], { sourceKey: "url:https://b.example/", now: 3000 }),
    );
    expect(listDocuments(db).map((d) => d.id)).toEqual([b.documentId, a.documentId]);
    expect(deleteDocument(db, a.documentId)).toBe(true);
    expect(deleteDocument(db, a.documentId)).toBe(false);
    expect(counts()).toEqual({ chunks: 1, fts: 1, vec: 1 });
    expect(ftsHits("alpha")).toEqual([]);
    expect(ftsHits("beta")).toHaveLength(1);
    expect(getDocument(db, a.documentId)).toBeUndefined();
    expect(findDocumentBySourceKey(db, "file:guide.md")).toBeUndefined();
    expect(listDocuments(db).map((d) => d.id)).toEqual([b.documentId]);
  });

  it("defaults timestamps to the current time", () => {
    const before = Date.now();
    const { documentId } = replaceDocument(db, { ...documentInput(["x"]), now: undefined });
    expect(getDocument(db, documentId)?.createdAt).toBeGreaterThanOrEqual(before);
  });
});

describe("ingestion jobs", () => {
  const job = (overrides: Partial<EnqueueJobInput> = {}) =>
    enqueueJob(db, {
      sourceType: "file",
      sourceKey: "file:a.txt",
      title: "a.txt",
      fileName: "a.txt",
      mimeType: "text/plain",
      payload: new TextEncoder().encode("hello"),
      maxAttempts: 3,
      now: 0,
      ...overrides,
    });
  const payloadOf = (id: number) =>
    (
      db.prepare("SELECT payload FROM ingest_jobs WHERE id = ?").get(id) as {
        payload: Buffer | null;
      }
    ).payload;

  it("rejects a job without attempts", () => {
    expect(() => job({ maxAttempts: 0 })).toThrow(RangeError);
  });

  it("claims a queued job with its payload and a lease, one claim at a time", () => {
    const id = job();
    expect(hasRunnableJobs(db, 0)).toBe(true);
    const claimed = claimNextJob(db, "A", 1000, 10);
    expect(claimed).toMatchObject({
      id,
      state: "running",
      attempts: 1,
      leaseOwner: "A",
      leaseUntil: 1010,
      sourceKey: "file:a.txt",
      fileName: "a.txt",
      mimeType: "text/plain",
      url: null,
    });
    expect(new TextDecoder().decode(claimed?.payload ?? undefined)).toBe("hello");
    expect(claimNextJob(db, "B", 1000, 20)).toBeUndefined();
    expect(hasRunnableJobs(db, 20)).toBe(false);
    expect(hasPendingJobs(db)).toBe(true);
  });

  it("claims due jobs oldest first and waits for jobs that are not due", () => {
    const later = job({ sourceKey: "k1", now: 500 });
    const first = job({ sourceKey: "k2", now: 100 });
    const urlJob = job({
      sourceKey: "k3",
      now: 200,
      sourceType: "url",
      url: "https://x.example/",
      payload: null,
    });
    expect(claimNextJob(db, "A", 1000, 50)).toBeUndefined();
    expect(nextJobDueAt(db)).toBe(100);
    expect(claimNextJob(db, "A", 1000, 600)?.id).toBe(first);
    const claimedUrl = claimNextJob(db, "A", 1000, 600);
    expect(claimedUrl).toMatchObject({ id: urlJob, payload: null, url: "https://x.example/" });
    expect(claimNextJob(db, "A", 1000, 600)?.id).toBe(later);
    expect(nextJobDueAt(db)).toBe(1600);
  });

  it("runs jobs for one source in submission order, never two at once", () => {
    const older = job({ now: 0 });
    const newer = job({ now: 1 });
    const other = job({ sourceKey: "file:b.txt", now: 2 });
    expect(claimNextJob(db, "A", 1000, 10)?.id).toBe(older);
    expect(claimNextJob(db, "B", 1000, 10)?.id).toBe(other);
    expect(claimNextJob(db, "B", 1000, 10)).toBeUndefined();
    expect(completeJob(db, older, "A", { documentId: 1, outcome: "created" }, 20)).toBe(true);
    expect(claimNextJob(db, "B", 1000, 30)?.id).toBe(newer);
  });

  it("reclaims a job whose owner died once its lease has expired", () => {
    const id = job();
    expect(claimNextJob(db, "A", 1000, 0)?.attempts).toBe(1);
    expect(claimNextJob(db, "B", 1000, 1000)).toBeUndefined(); // lease_until is 1000: still held
    const reclaimed = claimNextJob(db, "B", 1000, 1001);
    expect(reclaimed).toMatchObject({ id, attempts: 2, leaseOwner: "B", leaseUntil: 2001 });
    expect(reclaimed?.payload).not.toBeNull();
    // The old owner has lost the job: nothing it does is recorded.
    expect(renewLease(db, id, "A", 1000, 1002)).toBe(false);
    expect(updateJobProgress(db, id, "A", { stage: "embed", done: 1, total: 2 }, 1000, 1002)).toBe(
      false,
    );
    expect(completeJob(db, id, "A", { documentId: 1, outcome: "created" })).toBe(false);
    expect(failJob(db, id, "A", "boom", { retryAt: 5000 })).toBeUndefined();
    expect(getJob(db, id)).toMatchObject({ state: "running", leaseOwner: "B" });
  });

  it("fails a job whose workers keep dying instead of reclaiming it forever", () => {
    const id = job({ maxAttempts: 2 });
    const next = job({ sourceKey: "file:next.txt", now: 1 });
    claimNextJob(db, "A", 100, 0);
    expect(claimNextJob(db, "B", 100, 101)?.id).toBe(id);
    // The second worker dies too: the job has used both attempts.
    expect(claimNextJob(db, "C", 100, 300)?.id).toBe(next);
    expect(getJob(db, id)).toMatchObject({
      state: "failed",
      leaseOwner: null,
      error: expect.stringMatching(/2 time/),
    });
    expect(payloadOf(id)).toBeNull();
  });

  it("records progress and renews the lease of an owned job", () => {
    const id = job();
    claimNextJob(db, "A", 1000, 0);
    expect(updateJobProgress(db, id, "A", { stage: "embed", done: 3, total: 7 }, 1000, 500)).toBe(
      true,
    );
    expect(getJob(db, id)).toMatchObject({
      stage: "embed",
      progressDone: 3,
      progressTotal: 7,
      leaseUntil: 1500,
    });
    expect(renewLease(db, id, "A", 1000, 900)).toBe(true);
    expect(getJob(db, id)?.leaseUntil).toBe(1900);
  });

  it("completes a job, recording the document and dropping the payload", () => {
    const id = job();
    claimNextJob(db, "A", 1000, 0);
    expect(completeJob(db, id, "A", { documentId: 42, outcome: "replaced" }, 77)).toBe(true);
    expect(getJob(db, id)).toMatchObject({
      state: "done",
      documentId: 42,
      outcome: "replaced",
      leaseOwner: null,
      leaseUntil: null,
      error: null,
      updatedAt: 77,
    });
    expect(payloadOf(id)).toBeNull();
    expect(hasPendingJobs(db)).toBe(false);
    expect(nextJobDueAt(db)).toBeUndefined();
  });

  it("queues a failed attempt for retry until the attempts run out", () => {
    const id = job({ maxAttempts: 2 });
    claimNextJob(db, "A", 1000, 0);
    expect(failJob(db, id, "A", "embedder down", { retryAt: 2000 }, 10)).toBe("queued");
    expect(getJob(db, id)).toMatchObject({
      state: "queued",
      nextRunAt: 2000,
      error: "embedder down",
      leaseOwner: null,
    });
    expect(payloadOf(id)).not.toBeNull();
    expect(claimNextJob(db, "A", 1000, 1999)).toBeUndefined();
    expect(claimNextJob(db, "A", 1000, 2000)?.attempts).toBe(2);
    expect(failJob(db, id, "A", "still down", { retryAt: 9000 }, 2010)).toBe("failed");
    expect(getJob(db, id)).toMatchObject({ state: "failed", error: "still down", attempts: 2 });
    expect(payloadOf(id)).toBeNull();
  });

  it("fails a job at once on a permanent error", () => {
    const id = job();
    claimNextJob(db, "A", 1000, 0);
    expect(failJob(db, id, "A", "Unsupported document type")).toBe("failed");
    expect(getJob(db, id)).toMatchObject({
      state: "failed",
      attempts: 1,
      error: "Unsupported document type",
    });
  });

  it("lists jobs newest first without payloads", () => {
    const ids = [job({ sourceKey: "a" }), job({ sourceKey: "b" }), job({ sourceKey: "c" })];
    const listed = listJobs(db, { limit: 2 });
    expect(listed.map((j) => j.id)).toEqual([ids[2], ids[1]]);
    expect(listed[0]).not.toHaveProperty("payload");
    expect(getJob(db, ids[0] as number)).not.toHaveProperty("payload");
    expect(getJob(db, 999)).toBeUndefined();
    expect(listJobs(db, { limit: 0 })).toEqual([]);
  });
});
