import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DEMO_TENANT_ID, type TenantId } from "#tenants/id.ts";
import { openTenantDb, type TenantDb } from "#tenants/store.ts";
import type { EmbeddingProvider } from "../embeddings/provider.server.ts";
import {
  CALIBRATION_KEY,
  CalibrationScheduler,
  MIN_PSEUDO_QUERIES,
  VECTOR_WEIGHT_KEY,
  calibrateTenant,
  chooseWeight,
  calibratedVectorWeight,
  pseudoQueries,
  readCalibration,
} from "./calibrate.server.ts";
import { fusedScores } from "./fusion.server.ts";
import { KEYWORD_WEIGHT, VECTOR_WEIGHT, fusionWeights } from "./retrieve.server.ts";

const DIMENSION = 16;
const TOPICS = [
  "harbour ferries",
  "mountain railways",
  "desert caravans",
  "river barges",
  "arctic sledges",
  "city trams",
  "canal locks",
  "airship hangars",
  "bicycle couriers",
  "cable cars",
  "night buses",
  "cargo drones",
];

function unit(index: number): Float32Array {
  const vector = new Float32Array(DIMENSION);
  vector[index % DIMENSION] = 1;
  return vector;
}

/** Embeds a known text as the vector the test chose for it; anything else as the last axis. */
function embedderOf(vectors: Map<string, Float32Array>): EmbeddingProvider & { calls: number } {
  return {
    model: "test:fake",
    dimension: DIMENSION,
    calls: 0,
    async embed(texts) {
      this.calls++;
      return texts.map((text) => vectors.get(text) ?? unit(DIMENSION - 1));
    },
  };
}

let dir: string;
let db: TenantDb;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-calibrate-"));
  db = openTenantDb(
    dir,
    DEMO_TENANT_ID as TenantId,
    { model: "test:fake", dimension: DIMENSION },
    { create: true },
  );
});

afterEach(() => {
  if (db.open) db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function addDocument(id: number, title: string, text: string, vector: Float32Array): void {
  db.prepare(
    `INSERT INTO documents (id, source_key, source_type, title, content_hash, bytes,
       chunk_count, created_at, updated_at) VALUES (?, ?, 'text', ?, 'hash', 10, 1, 0, 0)`,
  ).run(id, `key-${id}`, title);
  db.prepare(
    "INSERT INTO chunks (id, document_id, ord, heading_path, text, token_count) VALUES (?, ?, 0, ?, ?, 10)",
  ).run(id, id, title, text);
  db.prepare("INSERT INTO chunks_fts (rowid, title, heading, body) VALUES (?, ?, ?, ?)").run(
    id,
    title,
    title,
    text,
  );
  db.prepare("INSERT INTO documents_fts (rowid, title, heading, body) VALUES (?, ?, ?, ?)").run(
    id,
    title,
    title,
    text,
  );
  db.prepare("INSERT INTO chunks_vec (chunk_id, embedding) VALUES (?, ?)").run(BigInt(id), vector);
  // The context vector is the embedded title: calibration must not use it (it is the query).
  db.prepare("INSERT INTO chunk_context_vectors (chunk_id, embedding) VALUES (?, ?)").run(
    id,
    Buffer.from(unit(id).buffer),
  );
}

const filler = "schedules depend upon weather, staffing and seasonal demand";

describe("per-tenant fusion calibration", () => {
  it("trusts the encoder when titles are paraphrased in the bodies and only vectors find them", async () => {
    const vectors = new Map<string, Float32Array>();
    TOPICS.forEach((topic, i) => {
      // The body never repeats the title's words; its vector is the title's.
      addDocument(i + 1, topic, `Item ${i}: ${filler}.`, unit(i + 1));
      vectors.set(topic, unit(i + 1));
    });
    const calibration = await calibrateTenant(() => db, embedderOf(vectors));
    expect(calibration?.pseudoQueries).toBe(TOPICS.length);
    // Any vector weight ranks every title's document first: the smallest one is enough.
    expect(calibration?.vectorWeight).toBe(0.1);
    expect(calibration?.mrrByWeight["0.00"]).toBeLessThan(calibration?.mrrByWeight["0.50"] ?? 0);
    expect(calibratedVectorWeight(db)).toBe(calibration?.vectorWeight);
    expect(readCalibration(db)).toEqual(calibration);
    // Calibrating again to the same weight leaves the knowledge-base version (and caches) be.
    const version = () =>
      db.prepare("SELECT value FROM meta WHERE key = 'kb_version'").pluck().get();
    const before = version();
    await calibrateTenant(() => db, embedderOf(vectors));
    expect(version()).toBe(before);
    expect(readCalibration(db)).toEqual(calibration);
  });

  it("trusts BM25 when the bodies repeat the titles and the encoder points elsewhere", async () => {
    const vectors = new Map<string, Float32Array>();
    TOPICS.forEach((topic, i) => {
      addDocument(i + 1, topic, `All about ${topic}: ${filler}.`, unit(i + 1));
      // A misleading encoder: each title's vector is its neighbour's chunk.
      vectors.set(topic, unit(i + 2));
    });
    const calibration = await calibrateTenant(() => db, embedderOf(vectors));
    expect(calibration?.vectorWeight).toBeLessThanOrEqual(0.2);
    expect(calibration?.mrrByWeight["0.00"]).toBe(1);
  });

  it("keeps the default weights when there are too few distinct titles, and drops a stale calibration", async () => {
    db.prepare("INSERT INTO meta (key, value) VALUES (?, '0.9'), (?, '{}')").run(
      VECTOR_WEIGHT_KEY,
      CALIBRATION_KEY,
    );
    TOPICS.slice(0, MIN_PSEUDO_QUERIES - 1).forEach((topic, i) =>
      addDocument(i + 1, topic, `All about ${topic}.`, unit(i + 1)),
    );
    const embedder = embedderOf(new Map());
    expect(await calibrateTenant(() => db, embedder)).toBeNull();
    expect(embedder.calls).toBe(0);
    expect(calibratedVectorWeight(db)).toBeNull();
    expect(readCalibration(db)).toBeNull();
    expect(fusionWeights(db)).toEqual({
      keywordWeight: KEYWORD_WEIGHT,
      vectorWeight: VECTOR_WEIGHT,
    });
  });

  it("samples informative titles only: one-word titles and titles shared by everything are skipped", () => {
    addDocument(1, "Overview", "Short.", unit(1));
    addDocument(2, "Super_Bowl_50", "The game.", unit(2));
    addDocument(3, "Super_Bowl_50", "The halftime show.", unit(3));
    for (let id = 4; id <= 14; id++) addDocument(id, "Untitled document", "Text.", unit(id));
    const queries = pseudoQueries(db);
    expect(queries.map((query) => query.text)).toEqual(["Super Bowl 50"]);
    expect([...(queries[0]?.documents ?? [])]).toEqual([2, 3]);
  });

  it("lets a caller's weights win over the tenant's, and ignores a malformed stored value", () => {
    db.prepare("INSERT INTO meta (key, value) VALUES (?, '0.2')").run(VECTOR_WEIGHT_KEY);
    expect(fusionWeights(db)).toEqual({ keywordWeight: 0.8, vectorWeight: 0.2 });
    expect(fusionWeights(db, { vectorWeight: 0.6 })).toEqual({
      keywordWeight: 0.4,
      vectorWeight: 0.6,
    });
    expect(fusionWeights(db, { keywordWeight: 1, vectorWeight: 0 })).toEqual({
      keywordWeight: 1,
      vectorWeight: 0,
    });
    db.prepare("UPDATE meta SET value = 'lots' WHERE key = ?").run(VECTOR_WEIGHT_KEY);
    expect(calibratedVectorWeight(db)).toBeNull();
    db.prepare("INSERT INTO meta (key, value) VALUES (?, 'not json')").run(CALIBRATION_KEY);
    expect(readCalibration(db)).toBeNull();
  });
});

describe("chooseWeight", () => {
  it("gives the encoder weight only where it buys MRR on the tenant's titles", () => {
    // Measured (decision 024): an FAQ whose answers paraphrase their questions …
    expect(chooseWeight([0.511, 0.556, 0.626, 0.7, 0.779, 0.865, 0.89, 0.922])).toBe(0.7);
    // … and scientific abstracts whose titles BM25 already finds.
    expect(chooseWeight([0.964, 0.984, 0.984, 0.984, 0.987, 0.99, 1, 1])).toBe(0.1);
    expect(chooseWeight([1, 1, 1, 1, 1, 1, 1, 1])).toBe(0);
  });
});

describe("fusedScores", () => {
  it("scales BM25 by the best match and cosine between the best candidate and the last neighbour", () => {
    const scores = fusedScores(
      [
        { keywordScore: 4, similarity: 0.5 },
        { keywordScore: 2, similarity: 0.9 },
        { keywordScore: 0, similarity: null },
      ],
      [{ similarity: 0.9 }, { similarity: 0.5 }],
      0.5,
      0.5,
    );
    expect(scores).toEqual([0.5, 0.75, 0]);
  });
});

describe("CalibrationScheduler", () => {
  const quietLogger = { info: () => undefined, warn: () => undefined };

  function seedParaphrases(): EmbeddingProvider & { calls: number } {
    const vectors = new Map<string, Float32Array>();
    TOPICS.forEach((topic, i) => {
      addDocument(i + 1, topic, `Item ${i}: ${filler}.`, unit(i + 1));
      vectors.set(topic, unit(i + 1));
    });
    return embedderOf(vectors);
  }

  it("calibrates once the knowledge base is quiet and no ingestion is pending", async () => {
    const embedder = seedParaphrases();
    let busy = true;
    const scheduler = new CalibrationScheduler({
      openTenant: () => db,
      embedder,
      logger: quietLogger,
      busy: () => busy,
      delayMs: 5,
    });
    const id = DEMO_TENANT_ID as TenantId;
    scheduler.schedule(id);
    scheduler.schedule(id);
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(embedder.calls).toBe(0);
    expect(calibratedVectorWeight(db)).toBeNull();
    busy = false;
    await expect.poll(() => calibratedVectorWeight(db), { timeout: 2000 }).not.toBeNull();
    expect(embedder.calls).toBe(1);
    await scheduler.close();
  });

  it("runs on demand, cancels what is pending, and survives a failing embedder", async () => {
    seedParaphrases();
    const warnings: unknown[] = [];
    const failing: EmbeddingProvider = {
      model: "test:fake",
      dimension: DIMENSION,
      embed: () => Promise.reject(new Error("encoder down")),
    };
    const scheduler = new CalibrationScheduler({
      openTenant: () => db,
      embedder: failing,
      logger: { info: () => undefined, warn: (entry: unknown) => warnings.push(entry) },
      busy: () => false,
      delayMs: 60_000,
    });
    const id = DEMO_TENANT_ID as TenantId;
    scheduler.schedule(id);
    expect(await scheduler.run(id)).toBeNull();
    expect(warnings).toHaveLength(1);
    await scheduler.close();
    // Closed: nothing more is scheduled or run.
    scheduler.schedule(id);
    expect(await scheduler.run(id)).toBeNull();
    expect(warnings).toHaveLength(1);
  });
});
