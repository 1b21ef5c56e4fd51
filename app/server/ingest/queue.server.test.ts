import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import zlib from "node:zlib";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { fixtureFacts } from "../../../scripts/make-fixtures.ts";
import { FakeEmbedder } from "../../../tests/support/fake-embedder.ts";
import { newTenantId, type TenantId } from "#tenants/id.ts";
import {
  claimNextJob,
  countChunks,
  enqueueJob,
  getJob,
  listDocuments,
  type IngestJob,
} from "#tenants/knowledge-base.ts";
import { openTenantDb, type TenantDb } from "#tenants/store.ts";
import { silentLogger } from "../logger.server.ts";
import {
  contentHash,
  embeddingText,
  fetchSource,
  FetchError,
  IngestInputError,
  IngestQueue,
  isPrivateAddress,
  sourceKeyFor,
  type IngestProgressEvent,
  type IngestQueueDeps,
} from "./queue.server.ts";
import { metrics } from "../metrics.server.ts";

const fixtureDir = fileURLToPath(new URL("../../../tests/fixtures/", import.meta.url));
const fixture = (name: string) => new Uint8Array(fs.readFileSync(path.join(fixtureDir, name)));
const utf8 = (text: string) => new TextEncoder().encode(text);

// --- a local web server for URL jobs ------------------------------------------------------

const ARTICLE = `<html><head><title>Harbour notes</title></head><body><h1>Harbour</h1>
  <p>The lighthouse keeper rings the bell at noon.</p></body></html>`;
let server: http.Server;
let base: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    switch (req.url) {
      case "/page.html":
        res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(ARTICLE);
        return;
      case "/missing":
        res.writeHead(404, { "content-type": "text/plain" }).end("nope");
        return;
      case "/error":
        res.writeHead(500).end();
        return;
      case "/busy":
        res.writeHead(429).end();
        return;
      case "/redirect":
        res.writeHead(302, { location: "/page.html" }).end();
        return;
      case "/loop":
        res.writeHead(302, { location: "/loop" }).end();
        return;
      case "/ftp":
        res.writeHead(301, { location: "ftp://example.com/file.txt" }).end();
        return;
      case "/gzip":
        res
          .writeHead(200, { "content-type": "text/plain", "content-encoding": "gzip" })
          .end(zlib.gzipSync("Compressed fact: the tide turns at four."));
        return;
      case "/deflate":
        res
          .writeHead(200, { "content-encoding": "deflate" })
          .end(zlib.deflateSync("deflated words"));
        return;
      case "/brotli":
        res
          .writeHead(200, { "content-encoding": "br" })
          .end(zlib.brotliCompressSync("brotli words"));
        return;
      case "/big":
        res.writeHead(200, { "content-type": "text/plain" }).end("x".repeat(10_000));
        return;
      case "/streamed-big":
        res.writeHead(200, { "content-type": "text/plain" });
        res.write("y".repeat(3000));
        res.end("y".repeat(3000));
        return;
      case "/files/notes.md":
        res
          .writeHead(200, { "content-type": "application/octet-stream" })
          .end("# Notes\n\nOctet markdown body.");
        return;
      case "/hang":
        return; // never answers
      default:
        res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

// --- a queue over real tenant databases ---------------------------------------------------

let dir: string;
let handles: Map<TenantId, TenantDb>;
let idle: TenantId[];
let pending: TenantId[];
let embedder: FakeEmbedder;
let clock: number | undefined;
const queues: IngestQueue[] = [];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-queue-"));
  handles = new Map();
  idle = [];
  pending = [];
  embedder = new FakeEmbedder({ dimension: 8 });
  clock = undefined;
});

afterEach(async () => {
  await Promise.all(queues.splice(0).map((queue) => queue.stop()));
  for (const db of handles.values()) db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function openTenant(id: TenantId): TenantDb {
  let db = handles.get(id);
  if (!db) {
    db = openTenantDb(
      dir,
      id,
      { model: embedder.model, dimension: embedder.dimension },
      { create: true },
    );
    handles.set(id, db);
  }
  return db;
}

function makeQueue(overrides: Partial<IngestQueueDeps> = {}): IngestQueue {
  const queue = new IngestQueue({
    openTenant,
    tenantsWithPendingJobs: () => pending,
    markTenantIdle: (id) => idle.push(id),
    embedder,
    logger: silentLogger,
    concurrency: 2,
    leaseMs: 2000,
    pollMs: 50,
    retryBaseMs: 20,
    chunking: { maxTokens: 80, overlapTokens: 10 },
    fetchTimeoutMs: 1000,
    maxFetchBytes: 1_000_000,
    allowPrivateNetwork: true,
    random: () => 0.5,
    now: () => clock ?? Date.now(),
    ...overrides,
  });
  queues.push(queue);
  return queue;
}

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const jobOf = (tenant: TenantId, id: number) => getJob(openTenant(tenant), id) as IngestJob;

function consistentCounts(db: TenantDb) {
  const fts = (db.prepare("SELECT count(*) AS n FROM chunks_fts").get() as { n: number }).n;
  const vec = (db.prepare("SELECT count(*) AS n FROM chunks_vec").get() as { n: number }).n;
  const chunks = countChunks(db);
  expect(fts).toBe(chunks);
  expect(vec).toBe(chunks);
  return chunks;
}

describe("IngestQueue end to end", () => {
  it("ingests every fixture type into a searchable document", async () => {
    const tenant = newTenantId();
    const queue = makeQueue();
    const events: IngestProgressEvent[] = [];
    queue.onProgress((event) => events.push(event));
    queue.start();
    const ids = fixtureFacts.map(({ file }) =>
      queue.enqueue(tenant, {
        sourceType: "file",
        fileName: file,
        title: file,
        payload: fixture(file),
      }),
    );
    await queue.drain(tenant);

    const db = openTenant(tenant);
    for (const [index, { file, fact }] of fixtureFacts.entries()) {
      const job = jobOf(tenant, ids[index] as number);
      expect(job, file).toMatchObject({
        state: "done",
        outcome: "created",
        attempts: 1,
        error: null,
      });
      const text = db
        .prepare("SELECT group_concat(text, ' ') FROM chunks WHERE document_id = ?")
        .pluck()
        .get(job.documentId) as string;
      expect(text.replace(/\s+/g, " "), file).toContain(fact);
    }
    expect(
      listDocuments(db)
        .map((d) => d.sourceKey)
        .sort(),
    ).toEqual(fixtureFacts.map((f) => `file:${f.file}`).sort());
    expect(consistentCounts(db)).toBeGreaterThanOrEqual(fixtureFacts.length);
    const aurora = db
      .prepare("SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH 'aurora AND mondays'")
      .all();
    expect(aurora).toHaveLength(1);

    const stages = events
      .filter((e) => e.jobId === ids[0])
      .map((e) => (e.state === "running" ? e.stage : e.state));
    expect(stages).toEqual([
      "queued",
      "fetch",
      "parse",
      "chunk",
      "embed",
      "embed",
      "index",
      "done",
    ]);
    expect(events.at(-1)).toMatchObject({ state: "done" });
    // With nothing left to do, the tenant is reported idle on the worker's next pass.
    await waitFor(() => idle.includes(tenant));
  });

  it("skips an unchanged document before embedding and replaces a changed one", async () => {
    const tenant = newTenantId();
    const queue = makeQueue();
    queue.start();
    const upload = (text: string) =>
      queue.enqueue(tenant, { sourceType: "file", fileName: "faq.md", payload: utf8(text) });
    const first = upload("# FAQ\n\nParking is free after six.");
    await queue.drain(tenant);
    const callsAfterFirst = embedder.calls;
    const second = upload("# FAQ\n\nParking is free after six.");
    await queue.drain(tenant);
    expect(jobOf(tenant, second)).toMatchObject({ state: "done", outcome: "unchanged" });
    expect(jobOf(tenant, second).documentId).toBe(jobOf(tenant, first).documentId);
    expect(embedder.calls).toBe(callsAfterFirst);

    const third = upload("# FAQ\n\nParking costs two euros after six.");
    await queue.drain(tenant);
    expect(jobOf(tenant, third)).toMatchObject({ state: "done", outcome: "replaced" });
    const db = openTenant(tenant);
    expect(listDocuments(db)).toHaveLength(1);
    expect(consistentCounts(db)).toBe(1);
    expect(db.prepare("SELECT text FROM chunks").pluck().get()).toBe(
      "Parking costs two euros after six.",
    );
  });

  it("titles pasted text by the given title and keys it by that title", async () => {
    const tenant = newTenantId();
    const queue = makeQueue();
    queue.start();
    const id = queue.enqueue(tenant, {
      sourceType: "text",
      title: "House rules",
      payload: utf8("No pets."),
    });
    await queue.drain(tenant);
    const [doc] = listDocuments(openTenant(tenant));
    expect(doc).toMatchObject({
      title: "House rules",
      sourceKey: "text:House rules",
      sourceType: "text",
    });
    expect(jobOf(tenant, id).state).toBe("done");
  });

  it("fails an unsupported or empty document at once", async () => {
    const tenant = newTenantId();
    const queue = makeQueue();
    queue.start();
    const png = queue.enqueue(tenant, {
      sourceType: "file",
      fileName: "photo.png",
      payload: new Uint8Array([1, 2, 3]),
    });
    const empty = queue.enqueue(tenant, {
      sourceType: "file",
      fileName: "empty.txt",
      payload: utf8("   \n"),
    });
    await queue.drain(tenant);
    expect(jobOf(tenant, png)).toMatchObject({
      state: "failed",
      attempts: 1,
      error: expect.stringMatching(/Unsupported/),
    });
    expect(jobOf(tenant, empty)).toMatchObject({
      state: "failed",
      attempts: 1,
      error: expect.stringMatching(/no text/),
    });
    expect(listDocuments(openTenant(tenant))).toEqual([]);
  });

  it("retries a transient failure with exponential backoff", async () => {
    clock = 1000;
    const tenant = newTenantId();
    const queue = makeQueue();
    const failures: IngestProgressEvent[] = [];
    queue.onProgress((event) => event.error && failures.push(event));
    queue.start();
    embedder.failNext(2);
    const id = queue.enqueue(tenant, {
      sourceType: "text",
      title: "Note",
      payload: utf8("Retry me."),
      maxAttempts: 3,
    });
    await queue.drain(tenant);
    expect(jobOf(tenant, id)).toMatchObject({ state: "queued", attempts: 1, nextRunAt: 1020 });
    expect(jobOf(tenant, id).error).toMatch(/embedding service unavailable/);
    clock = 1020;
    await queue.drain(tenant);
    expect(jobOf(tenant, id)).toMatchObject({ state: "queued", attempts: 2, nextRunAt: 1060 });
    clock = 1060;
    await queue.drain(tenant);
    expect(jobOf(tenant, id)).toMatchObject({
      state: "done",
      attempts: 3,
      error: null,
      outcome: "created",
    });
    expect(failures.map((e) => e.state)).toEqual(["queued", "queued"]);
  });

  it("fails a job for good when its retries run out", async () => {
    const failedBefore = await jobsCounted("failed");
    const retriedBefore = await jobsCounted("retry");
    const tenant = newTenantId();
    const queue = makeQueue({ maxAttempts: 2 });
    queue.start();
    embedder.failNext(5);
    const id = queue.enqueue(tenant, {
      sourceType: "text",
      title: "Note",
      payload: utf8("Never works."),
    });
    await waitFor(() => jobOf(tenant, id).state === "failed");
    expect(jobOf(tenant, id)).toMatchObject({
      attempts: 2,
      error: "embedding service unavailable",
    });
    expect(await jobsCounted("failed")).toBe(failedBefore + 1);
    expect(await jobsCounted("retry")).toBe(retriedBefore + 1);
  });

  it("retries when the embedder returns the wrong number of vectors", async () => {
    const tenant = newTenantId();
    const queue = makeQueue({
      embedder: { model: embedder.model, dimension: 8, embed: async () => [] },
      maxAttempts: 1,
    });
    queue.start();
    const id = queue.enqueue(tenant, { sourceType: "text", title: "Note", payload: utf8("Text.") });
    await queue.drain(tenant);
    expect(jobOf(tenant, id)).toMatchObject({
      state: "failed",
      error: expect.stringMatching(/returned 0 vector/),
    });
  });
});

describe("IngestQueue kill safety", () => {
  it("reclaims a job whose worker died once its lease expires, indexing it once", async () => {
    clock = 0;
    const tenant = newTenantId();
    const db = openTenant(tenant);
    const id = enqueueJob(db, {
      sourceType: "file",
      sourceKey: "file:sample.md",
      title: "sample.md",
      fileName: "sample.md",
      payload: fixture("sample.md"),
      maxAttempts: 3,
      now: 0,
    });
    // A worker claimed it and died without a trace.
    expect(claimNextJob(db, "dead-worker", 2000, 0)?.id).toBe(id);
    pending = [tenant]; // what the control database lists after a restart
    const queue = makeQueue({ owner: "new-worker" });
    queue.start();
    await queue.drain(tenant);
    expect(jobOf(tenant, id)).toMatchObject({ state: "running", leaseOwner: "dead-worker" });
    clock = 2001;
    await queue.drain(tenant);
    expect(jobOf(tenant, id)).toMatchObject({ state: "done", attempts: 2, outcome: "created" });
    expect(listDocuments(db)).toHaveLength(1);
    consistentCounts(db);
  });

  it("abandons a job at shutdown without writing a partial document, and a new worker redoes it", async () => {
    clock = 0;
    const tenant = newTenantId();
    const slow = new FakeEmbedder({ dimension: 8, delayMs: 100 });
    const first = makeQueue({ owner: "A", embedder: slow, embedBatchSize: 1, stopTimeoutMs: 50 });
    first.start();
    const id = first.enqueue(tenant, {
      sourceType: "file",
      fileName: "sample.html",
      payload: fixture("sample.html"),
    });
    await waitFor(() => jobOf(tenant, id).stage === "embed");
    await first.stop();
    await waitFor(() => first.activeJobs === 0);
    expect(jobOf(tenant, id)).toMatchObject({ state: "running", leaseOwner: "A" });
    expect(listDocuments(openTenant(tenant))).toEqual([]);
    expect(countChunks(openTenant(tenant))).toBe(0);

    clock = 5000; // after A's lease
    const second = makeQueue({ owner: "B" });
    second.start();
    second.enqueue(newTenantId(), { sourceType: "text", title: "other", payload: utf8("x") });
    pending = [tenant];
    await waitFor(() => jobOf(tenant, id).state === "done");
    expect(jobOf(tenant, id)).toMatchObject({ attempts: 2, outcome: "created" });
    expect(listDocuments(openTenant(tenant))).toHaveLength(1);
    consistentCounts(openTenant(tenant));
  });

  it("drops its work when another worker has taken the job over", async () => {
    const tenant = newTenantId();
    const slow = new FakeEmbedder({ dimension: 8, delayMs: 50 });
    const queue = makeQueue({ owner: "A", embedder: slow, embedBatchSize: 1 });
    queue.start();
    const id = queue.enqueue(tenant, {
      sourceType: "file",
      fileName: "sample.txt",
      payload: fixture("sample.txt"),
    });
    await waitFor(() => jobOf(tenant, id).stage === "embed");
    openTenant(tenant).prepare("UPDATE ingest_jobs SET lease_owner = 'B' WHERE id = ?").run(id);
    await waitFor(() => queue.activeJobs === 0);
    expect(jobOf(tenant, id)).toMatchObject({ state: "running", leaseOwner: "B" });
    expect(listDocuments(openTenant(tenant))).toEqual([]);
  });

  it("finishes running jobs within the stop bound", async () => {
    const tenant = newTenantId();
    const queue = makeQueue({ embedder: new FakeEmbedder({ dimension: 8, delayMs: 30 }) });
    queue.start();
    const id = queue.enqueue(tenant, { sourceType: "text", title: "t", payload: utf8("Quick.") });
    await waitFor(() => queue.activeJobs === 1);
    await queue.stop();
    expect(jobOf(tenant, id).state).toBe("done");
    await queue.stop(); // stopping twice is harmless
  });
});

describe("IngestQueue URL jobs", () => {
  it("fetches a page and titles it by its <title>", async () => {
    const tenant = newTenantId();
    const queue = makeQueue();
    queue.start();
    const id = queue.enqueue(tenant, { sourceType: "url", url: `${base}/redirect#section` });
    await queue.drain(tenant);
    expect(jobOf(tenant, id)).toMatchObject({ state: "done", sourceKey: `url:${base}/redirect` });
    const [doc] = listDocuments(openTenant(tenant));
    expect(doc).toMatchObject({
      title: "Harbour notes",
      url: `${base}/redirect#section`,
      mimeType: "text/html",
    });
  });

  it("fails permanently on a 404 and retries a 500", async () => {
    const tenant = newTenantId();
    const queue = makeQueue({ retryBaseMs: 60_000 });
    queue.start();
    const missing = queue.enqueue(tenant, { sourceType: "url", url: `${base}/missing` });
    const broken = queue.enqueue(tenant, { sourceType: "url", url: `${base}/error` });
    await queue.drain(tenant);
    expect(jobOf(tenant, missing)).toMatchObject({
      state: "failed",
      attempts: 1,
      error: expect.stringMatching(/HTTP 404 Not Found/),
    });
    expect(jobOf(tenant, broken)).toMatchObject({
      state: "queued",
      attempts: 1,
      error: expect.stringMatching(/HTTP 500/),
    });
  });

  it("retries a page that does not answer in time", async () => {
    const tenant = newTenantId();
    const queue = makeQueue({ fetchTimeoutMs: 150, retryBaseMs: 60_000 });
    queue.start();
    const id = queue.enqueue(tenant, { sourceType: "url", url: `${base}/hang` });
    await queue.drain(tenant);
    expect(jobOf(tenant, id)).toMatchObject({
      state: "queued",
      attempts: 1,
      error: expect.stringMatching(/did not answer within 150 ms/),
    });
  });

  it("uses the URL's file name when the Content-Type says nothing", async () => {
    const tenant = newTenantId();
    const queue = makeQueue();
    queue.start();
    const id = queue.enqueue(tenant, { sourceType: "url", url: `${base}/files/notes.md` });
    await queue.drain(tenant);
    expect(jobOf(tenant, id).state).toBe("done");
    expect(listDocuments(openTenant(tenant))[0]).toMatchObject({
      title: "Notes",
      mimeType: "application/octet-stream",
    });
  });

  it("refuses private addresses unless allowed", async () => {
    const tenant = newTenantId();
    const queue = makeQueue({ allowPrivateNetwork: false });
    queue.start();
    const literal = queue.enqueue(tenant, { sourceType: "url", url: `${base}/page.html` });
    const named = queue.enqueue(tenant, {
      sourceType: "url",
      url: `${base.replace("127.0.0.1", "localhost")}/page.html`,
    });
    await queue.drain(tenant);
    expect(jobOf(tenant, literal)).toMatchObject({
      state: "failed",
      error: expect.stringMatching(/private network/),
    });
    expect(jobOf(tenant, named)).toMatchObject({
      state: "failed",
      error: expect.stringMatching(/private network/),
    });
  });
});

describe("fetchSource", () => {
  const options = { timeoutMs: 1000, maxBytes: 5000, allowPrivateNetwork: true };

  it("decodes compressed bodies", async () => {
    expect(new TextDecoder().decode((await fetchSource(`${base}/gzip`, options)).bytes)).toMatch(
      /tide turns/,
    );
    expect(new TextDecoder().decode((await fetchSource(`${base}/deflate`, options)).bytes)).toBe(
      "deflated words",
    );
    expect(new TextDecoder().decode((await fetchSource(`${base}/brotli`, options)).bytes)).toBe(
      "brotli words",
    );
  });

  it("classifies failures as permanent or transient", async () => {
    const failure = (url: string, opts = options) =>
      fetchSource(url, opts).catch((error: unknown) => error as FetchError);
    expect(await failure(`${base}/busy`)).toMatchObject({ permanent: false, status: 429 });
    expect(await failure(`${base}/loop`)).toMatchObject({
      permanent: true,
      message: expect.stringMatching(/too many/),
    });
    expect(await failure(`${base}/ftp`)).toMatchObject({
      permanent: true,
      message: expect.stringMatching(/non-http/),
    });
    expect(await failure(`${base}/big`)).toMatchObject({
      permanent: true,
      message: expect.stringMatching(/5000-byte/),
    });
    expect(await failure(`${base}/streamed-big`)).toMatchObject({ permanent: true });
    const refused = await failure("http://127.0.0.1:1/");
    expect(refused).toBeInstanceOf(FetchError);
    expect(refused).toMatchObject({
      permanent: false,
      message: expect.stringMatching(/Could not fetch/),
    });
    expect(
      await failure("http://[::1]:1/", { ...options, allowPrivateNetwork: false }),
    ).toMatchObject({
      permanent: true,
    });
  });
});

describe("IngestQueue bookkeeping", () => {
  it("validates what is enqueued", () => {
    const queue = makeQueue();
    const tenant = newTenantId();
    expect(() => queue.enqueue(tenant, { sourceType: "url" })).toThrow(IngestInputError);
    expect(() => queue.enqueue(tenant, { sourceType: "url", url: "ftp://x.example/" })).toThrow(
      /http and https/,
    );
    expect(() => queue.enqueue(tenant, { sourceType: "url", url: "not a url" })).toThrow(
      /Not a valid URL/,
    );
    expect(() => queue.enqueue(tenant, { sourceType: "file", fileName: "a.txt" })).toThrow(
      /needs its content/,
    );
    expect(() => queue.enqueue(tenant, { sourceType: "file", payload: utf8("x") })).toThrow(
      /file name/,
    );
    expect(() => makeQueue({ concurrency: 0 })).toThrow(RangeError);
  });

  it("refuses to drain before start", async () => {
    await expect(makeQueue().drain()).rejects.toThrow(/start\(\)/);
  });

  it("processes tenants listed as pending at start, and forgets tenants it cannot open", async () => {
    const ready = newTenantId();
    const gone = newTenantId();
    enqueueJob(openTenant(ready), {
      sourceType: "text",
      sourceKey: "text:n",
      title: "n",
      payload: utf8("Left over from before a restart."),
      maxAttempts: 3,
      now: 0,
    });
    pending = [gone, ready];
    const queue = makeQueue({
      openTenant: (id) => {
        if (id === gone) throw new Error("tenant deleted");
        return openTenant(id);
      },
    });
    queue.start();
    await waitFor(() => listDocuments(openTenant(ready)).length === 1);
    await waitFor(() => idle.includes(gone) && idle.includes(ready));
  });

  it("shares the workers fairly between tenants and keeps listener errors contained", async () => {
    const a = newTenantId();
    const b = newTenantId();
    const queue = makeQueue({ concurrency: 1 });
    const order: TenantId[] = [];
    queue.onProgress(() => {
      throw new Error("listener bug");
    });
    const unsubscribe = queue.onProgress(
      (event) => event.state === "done" && order.push(event.tenantId),
    );
    for (let i = 0; i < 3; i++) {
      queue.enqueue(a, { sourceType: "text", title: `a${i}`, payload: utf8(`A text ${i}.`) });
      queue.enqueue(b, { sourceType: "text", title: `b${i}`, payload: utf8(`B text ${i}.`) });
    }
    queue.start();
    await queue.drain();
    expect(order).toHaveLength(6);
    // Round robin: neither tenant runs three in a row.
    expect(order.join(",")).not.toMatch(new RegExp(`(${a},){2}${a}|(${b},){2}${b}`));
    unsubscribe();
    queue.enqueue(a, { sourceType: "text", title: "late", payload: utf8("Late.") });
    await queue.drain(a);
    expect(order).toHaveLength(6);
  });

  it("stops draining with an error when the queue stops", async () => {
    const tenant = newTenantId();
    const queue = makeQueue({ embedder: new FakeEmbedder({ dimension: 8, delayMs: 100 }) });
    queue.start();
    queue.enqueue(tenant, { sourceType: "text", title: "t", payload: utf8("Slow.") });
    const draining = queue.drain(tenant).catch((error: unknown) => error);
    await waitFor(() => queue.activeJobs === 1);
    await queue.stop();
    expect(await draining).toMatchObject({ message: expect.stringMatching(/stopped/) });
  });
});

describe("helpers", () => {
  it("derives source keys", () => {
    expect(sourceKeyFor({ sourceType: "url", url: "https://Example.com/a?b=1#frag" })).toBe(
      "url:https://example.com/a?b=1",
    );
    expect(sourceKeyFor({ sourceType: "file", fileName: "Guide.pdf" })).toBe("file:Guide.pdf");
    expect(sourceKeyFor({ sourceType: "text", title: " Rules " })).toBe("text:Rules");
    expect(sourceKeyFor({ sourceType: "text", payload: utf8("abc") })).toBe(
      "text:ba7816bf8f01cfea",
    );
  });

  it("hashes title, structure and chunking settings", () => {
    const doc = {
      title: "T",
      blocks: [{ kind: "paragraph" as const, headingPath: ["H"], text: "x" }],
    };
    const chunking = { maxTokens: 100, overlapTokens: 10 };
    const hash = contentHash("T", doc, chunking);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(contentHash("T", structuredClone(doc), chunking)).toBe(hash);
    expect(contentHash("U", doc, chunking)).not.toBe(hash);
    expect(contentHash("T", doc, { maxTokens: 120, overlapTokens: 10 })).not.toBe(hash);
    expect(
      contentHash("T", { ...doc, blocks: [{ ...doc.blocks[0]!, headingPath: ["G"] }] }, chunking),
    ).not.toBe(hash);
  });

  it("puts the title and headings in front of the text to embed", () => {
    expect(embeddingText("Guide", { headingPath: "Guide > Hours", text: "Nine." })).toBe(
      "Guide > Hours\n\nNine.",
    );
    expect(embeddingText("Guide", { headingPath: "Page 1 > Hours", text: "Nine." })).toBe(
      "Guide > Page 1 > Hours\n\nNine.",
    );
    expect(embeddingText("Guide", { headingPath: "", text: "Nine." })).toBe("Guide\n\nNine.");
    expect(embeddingText("", { headingPath: "", text: "Nine." })).toBe("Nine.");
  });

  it("recognises private addresses", () => {
    for (const address of [
      "127.0.0.1",
      "10.1.2.3",
      "172.20.0.1",
      "192.168.1.1",
      "169.254.169.254",
      "::1",
      "fd00::1",
      "fe80::1",
      "::ffff:127.0.0.1",
      "0.0.0.0",
    ]) {
      expect(isPrivateAddress(address), address).toBe(true);
    }
    for (const address of ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "example.com"]) {
      expect(isPrivateAddress(address), address).toBe(false);
    }
  });
});

/** bitb_ingest_jobs_total for one state (metrics.server.ts). */
async function jobsCounted(state: string): Promise<number> {
  const counter = await metrics.ingestJobs.get();
  return counter.values.find((v) => v.labels.state === state)?.value ?? 0;
}
