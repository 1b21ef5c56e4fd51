import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { newTenantId, type TenantId } from "./id.ts";
import {
  EmbeddingMismatchError,
  hasVectorCopy,
  loadVectorExtension,
  migrate,
  openTenantDb,
  TenantFileMissingError,
  tenantFilePath,
  TenantPool,
} from "./store.ts";
import { tenantMigrations } from "./migrations.ts";

const spec = { model: "test:fake-8", dimension: 8 };
let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-store-"));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("openTenantDb", () => {
  it("creates a migrated database with FTS5, vec0 and WAL", () => {
    const id = newTenantId();
    const db = openTenantDb(dir, id, spec, { create: true });
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(db.pragma("foreign_keys", { simple: true })).toBe(1);
    expect(db.pragma("user_version", { simple: true })).toBe(tenantMigrations.length);
    const tables = (db.prepare("SELECT name FROM sqlite_master").all() as { name: string }[]).map(
      (r) => r.name,
    );
    expect(tables).toEqual(
      expect.arrayContaining(["documents", "chunks", "chunks_fts", "chunks_vec", "ingest_jobs"]),
    );
    const meta = db.prepare("SELECT key, value FROM meta ORDER BY key").all();
    expect(meta).toEqual([
      { key: "embedding_dimension", value: "8" },
      { key: "embedding_model", value: "test:fake-8" },
      // Bumped by each of the three rows around it (migration 3's triggers).
      { key: "kb_version", value: "3" },
      { key: "vector_copy", value: "1" },
    ]);
    db.close();
    expect(fs.existsSync(path.join(dir, `${id}.db`))).toBe(true);
  });

  it("copies the vectors of a file made before the plain copy existed, and drops chunks_bits", () => {
    const id = newTenantId();
    const spec = { model: "test:fake-8", dimension: 8 };
    const db = openTenantDb(dir, id, spec, { create: true });
    // What an older build left: float vectors in vec0 and their binary vec0 copy.
    db.exec(`DROP TABLE chunk_vectors; DELETE FROM meta WHERE key = 'vector_copy';
      CREATE VIRTUAL TABLE chunks_bits USING vec0(chunk_id INTEGER PRIMARY KEY, bits bit[8]);
      INSERT INTO meta (key, value) VALUES ('binary_index', '1');
      INSERT INTO documents (id, source_key, source_type, title, content_hash, bytes,
        chunk_count, created_at, updated_at) VALUES (1, 'k', 'text', 'T', 'h', 1, 1, 0, 0);
      INSERT INTO chunks (id, document_id, ord, heading_path, text, token_count)
        VALUES (7, 1, 0, '', 'x', 1);`);
    const vector = Float32Array.from([1, -1, 1, -1, 1, -1, 1, -1]);
    db.prepare("INSERT INTO chunks_vec (chunk_id, embedding) VALUES (?, ?)").run(7n, vector);
    db.close();
    const reopened = openTenantDb(dir, id, spec);
    const row = reopened.prepare("SELECT chunk_id, embedding FROM chunk_vectors").get() as {
      chunk_id: number;
      embedding: Buffer;
    };
    expect(row.chunk_id).toBe(7);
    expect(new Float32Array(new Uint8Array(row.embedding).buffer)).toEqual(vector);
    expect(hasVectorCopy(reopened)).toBe(true);
    const names = reopened.prepare("SELECT name FROM sqlite_master").pluck().all();
    expect(names).not.toContain("chunks_bits");
    expect(reopened.prepare("SELECT value FROM meta WHERE key = 'binary_index'").get()).toBe(
      undefined,
    );
    reopened.close();
  });

  it("keeps a new tenant's file small: vectors are allocated in blocks of 128 rows", () => {
    const id = newTenantId();
    const db = openTenantDb(dir, id, { model: "test:fake-512", dimension: 512 }, { create: true });
    const insert = db.prepare("INSERT INTO chunks_vec (chunk_id, embedding) VALUES (?, ?)");
    insert.run(1n, Buffer.from(new Float32Array(512).fill(0.5).buffer));
    db.pragma("wal_checkpoint(TRUNCATE)");
    db.close();
    // One block of 128 × 512 floats is 256 KB; vec0's default block of 1024 rows was 2 MB.
    expect(fs.statSync(tenantFilePath(dir, id)).size).toBeLessThan(600 * 1024);
  });

  it("refuses to create a file unless asked to", () => {
    const id = newTenantId();
    expect(() => openTenantDb(dir, id, spec)).toThrow(TenantFileMissingError);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it("is a clear error when the embedding model changed", () => {
    const id = newTenantId();
    openTenantDb(dir, id, spec, { create: true }).close();
    expect(() => openTenantDb(dir, id, { model: "other", dimension: 8 })).toThrow(
      EmbeddingMismatchError,
    );
    expect(() => openTenantDb(dir, id, { model: "test:fake-8", dimension: 16 })).toThrow(
      /8 dimensions/,
    );
    expect(() =>
      openTenantDb(dir, newTenantId(), { model: "x", dimension: 0 }, { create: true }),
    ).toThrow(/invalid embedding dimension/);
  });

  it("reopens an existing database without re-running migrations", () => {
    const id = newTenantId();
    const db = openTenantDb(dir, id, spec, { create: true });
    db.prepare(
      "INSERT INTO conversations (id, created_at, updated_at) VALUES ('cv_abcdefgh', 1, 1)",
    ).run();
    db.close();
    const again = openTenantDb(dir, id, spec);
    expect(again.prepare("SELECT count(*) AS n FROM conversations").get()).toEqual({ n: 1 });
    again.close();
  });

  it("refuses a schema newer than this build", () => {
    const db = new Database(":memory:");
    db.pragma("user_version = 99");
    expect(() => migrate(db, ["CREATE TABLE t (x)"])).toThrow(/newer than this build/);
  });

  it("builds paths only inside the data folder", () => {
    expect(tenantFilePath(dir, "trial" as TenantId)).toBe(path.join(dir, "trial.db"));
    expect(() => tenantFilePath(dir, "../../x" as TenantId)).toThrow();
  });
});

describe("loadVectorExtension", () => {
  it("loads sqlite-vec into every connection it is given", () => {
    for (let i = 0; i < 2; i++) {
      const db = new Database(":memory:");
      loadVectorExtension(db);
      expect(db.prepare("SELECT vec_version() AS v").get()).toEqual({
        v: expect.stringMatching(/^v\d/),
      });
      db.close();
    }
  });
});

describe("TenantPool", () => {
  it("keeps at most `max` handles open and closes the least recently used", () => {
    const pool = new TenantPool(dir, spec, 2);
    const ids: TenantId[] = [newTenantId(), newTenantId(), newTenantId()];
    const handles = ids.map((id) => pool.create(id));
    expect(pool.size).toBe(2);
    expect(handles[0]!.open).toBe(false);
    expect(handles[2]!.open).toBe(true);
    // Reopening an evicted tenant works transparently.
    const reopened = pool.get(ids[0]!);
    expect(reopened.open).toBe(true);
    pool.evict(ids[0]!);
    expect(reopened.open).toBe(false);
    pool.closeAll();
    expect(pool.size).toBe(0);
    expect(handles[2]!.open).toBe(false);
  });

  it("returns the same open handle while cached", () => {
    const pool = new TenantPool(dir, spec, 4);
    const id = newTenantId();
    const created = pool.create(id);
    expect(pool.get(id)).toBe(created);
    pool.closeAll();
  });
});

describe("tenant migration 12 (documents_fts)", () => {
  it("fills the document-level keyword index from the chunks of existing documents", () => {
    const db = new Database(":memory:");
    migrate(db, tenantMigrations.slice(0, -1));
    db.exec(`INSERT INTO documents (id, source_key, source_type, title, content_hash, bytes,
        created_at, updated_at) VALUES (1, 'a', 'text', 'Ferry guide', 'h', 1, 0, 0),
        (2, 'b', 'text', 'Empty page', 'h', 1, 0, 0);
      INSERT INTO chunks (id, document_id, ord, heading_path, text, token_count) VALUES
        (1, 1, 0, 'Timetable', 'The ferry leaves hourly', 4),
        (2, 1, 1, 'Wildlife', 'Seals rest on the sandbank', 5),
        (3, 1, 2, 'Wildlife', 'Puffins nest in May', 4);`);
    migrate(db);
    const hits = (query: string) =>
      db
        .prepare("SELECT rowid FROM documents_fts WHERE documents_fts MATCH ? ORDER BY rowid")
        .pluck()
        .all(query);
    expect(hits("hourly AND seals AND puffins AND title:ferry")).toEqual([1]);
    expect(hits("heading:timetable AND heading:wildlife")).toEqual([1]);
    // A document without chunks still has its title row.
    expect(hits("title:empty")).toEqual([2]);
    db.close();
  });
});
