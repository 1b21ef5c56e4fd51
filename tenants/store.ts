// The tenant store: the only code that opens a tenant's SQLite file. It loads sqlite-vec,
// applies the numbered migrations, sets the pragmas, creates the vector index for the
// configured embedding dimension, and keeps open handles in a bounded LRU.
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { LRUCache } from "lru-cache";
import * as sqliteVec from "sqlite-vec";
import { tenantFileName, type TenantId } from "./id.ts";
import { tenantMigrations } from "./migrations.ts";
import { statement } from "./statements.ts";

export type TenantDb = Database.Database;

export interface EmbeddingSpec {
  /** Identifies the model, e.g. `local:use-lite` or `openai:nomic-embed-text`. */
  model: string;
  dimension: number;
}

export class EmbeddingMismatchError extends Error {
  override name = "EmbeddingMismatchError";
}

export class TenantFileMissingError extends Error {
  override name = "TenantFileMissingError";
}

/** Whether the tenant has the plain copy of its chunk vectors (see ensureVectorCopy). */
export function hasVectorCopy(db: TenantDb): boolean {
  return (
    statement(db, "SELECT 1 FROM sqlite_master WHERE name = 'chunk_vectors'").get() !== undefined
  );
}

export function tenantFilePath(dataDir: string, id: TenantId): string {
  return path.join(dataDir, tenantFileName(id));
}

/** Applies pragmas and pending migrations; safe to call on every open. */
export function migrate(db: TenantDb, migrations: readonly string[] = tenantMigrations): void {
  const current = db.pragma("user_version", { simple: true }) as number;
  if (current > migrations.length) {
    throw new Error(
      `database schema version ${current} is newer than this build knows (${migrations.length})`,
    );
  }
  for (let version = current; version < migrations.length; version++) {
    db.transaction(() => {
      db.exec(migrations[version] as string);
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
}

function applyPragmas(db: TenantDb): void {
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("foreign_keys = ON");
  db.pragma("busy_timeout = 5000");
  db.pragma("mmap_size = 268435456");
  db.pragma("temp_store = MEMORY");
}

/** Rows per vec0 storage block of a new tenant's vector index. */
export const VECTOR_CHUNK_ROWS = 128;

function ensureVectorIndex(db: TenantDb, spec: EmbeddingSpec): void {
  const row = db.prepare("SELECT value FROM meta WHERE key = 'embedding_dimension'").get() as
    { value: string } | undefined;
  const model = db.prepare("SELECT value FROM meta WHERE key = 'embedding_model'").get() as
    { value: string } | undefined;
  if (row) {
    if (Number(row.value) !== spec.dimension || (model && model.value !== spec.model)) {
      throw new EmbeddingMismatchError(
        `this tenant's vectors were made by ${model?.value ?? "an unknown model"} ` +
          `(${row.value} dimensions) but the configured embedding model is ${spec.model} ` +
          `(${spec.dimension} dimensions); re-ingest the tenant or configure the original model`,
      );
    }
    ensureVectorCopy(db);
    return;
  }
  if (!Number.isInteger(spec.dimension) || spec.dimension < 1 || spec.dimension > 8192) {
    throw new EmbeddingMismatchError(`invalid embedding dimension ${spec.dimension}`);
  }
  db.transaction(() => {
    // vec0 allocates its vectors in blocks of chunk_size rows, zero-filled up front. The
    // default (1024) gives every new tenant a 2 MB file (512 dimensions) before its first
    // document; 128 makes it about 300 KB, and a search is no slower (decision 020).
    db.exec(
      `CREATE VIRTUAL TABLE chunks_vec USING vec0(
         chunk_id INTEGER PRIMARY KEY,
         embedding float[${spec.dimension}] distance_metric=cosine,
         chunk_size=${VECTOR_CHUNK_ROWS}
       )`,
    );
    const put = db.prepare("INSERT INTO meta (key, value) VALUES (?, ?)");
    put.run("embedding_dimension", String(spec.dimension));
    put.run("embedding_model", spec.model);
  })();
  ensureVectorCopy(db);
}

/**
 * A plain rowid table of the chunks' float vectors beside the vec0 index (decision 011): vec0
 * reads one vector by rowid in about 0.4 ms (it walks a block of 128 vectors), this table in
 * microseconds. The in-memory index of large tenants is built from it and re-scores its final
 * candidates exactly from it, and retrieval scores candidates from it. Files made by older
 * builds get it on open, filled from `chunks_vec`; the binary vec0 copy (`chunks_bits`) those
 * builds kept is dropped (the in-memory index replaced it).
 */
function ensureVectorCopy(db: TenantDb): void {
  const done = db.prepare("SELECT value FROM meta WHERE key = 'vector_copy'").pluck().get();
  if (done === "1") return;
  db.transaction(() => {
    db.exec(`CREATE TABLE IF NOT EXISTS chunk_vectors (
         chunk_id INTEGER PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
         embedding BLOB NOT NULL
       ) STRICT`);
    db.exec(`INSERT OR IGNORE INTO chunk_vectors (chunk_id, embedding)
         SELECT chunk_id, embedding FROM chunks_vec WHERE chunk_id IN (SELECT id FROM chunks)`);
    db.exec("DROP TABLE IF EXISTS chunks_bits");
    db.prepare("DELETE FROM meta WHERE key = 'binary_index'").run();
    db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('vector_copy', '1')").run();
  })();
}

let vectorExtension: string | undefined;

/**
 * Loads sqlite-vec into a connection. Its library's path is resolved once: sqlite-vec's own
 * `load` resolves it (import.meta.resolve) on every call, which cost more than the loading
 * itself (0.7 ms of a 1.9 ms cold open under node, 4 ms under tsx; decision 036).
 */
export function loadVectorExtension(db: TenantDb): void {
  vectorExtension ??= sqliteVec.getLoadablePath();
  db.loadExtension(vectorExtension);
}

/**
 * Opens (and with `create`, creates) one tenant's database. Without `create` a missing file
 * is an error, so a request can never create a database as a side effect.
 */
export function openTenantDb(
  dataDir: string,
  id: TenantId,
  spec: EmbeddingSpec,
  options: { create?: boolean } = {},
): TenantDb {
  const file = tenantFilePath(dataDir, id);
  if (!options.create && !fs.existsSync(file)) {
    throw new TenantFileMissingError(`no database file for tenant ${id}`);
  }
  fs.mkdirSync(dataDir, { recursive: true });
  const db = new Database(file, { fileMustExist: !options.create });
  try {
    loadVectorExtension(db);
    applyPragmas(db);
    migrate(db);
    ensureVectorIndex(db, spec);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

/**
 * Open tenant handles, least recently used closed first. Callers take a handle for a
 * synchronous unit of work (`pool.get(id)`) and do not keep it across long awaits.
 */
export class TenantPool {
  private readonly handles: LRUCache<string, TenantDb>;
  private closed = false;

  constructor(
    private readonly dataDir: string,
    private readonly spec: EmbeddingSpec,
    max: number,
  ) {
    this.handles = new LRUCache<string, TenantDb>({
      max,
      dispose: (db) => {
        if (db.open) db.close();
      },
    });
  }

  get size(): number {
    return this.handles.size;
  }

  /** The open handle of a tenant that exists on disk (callers check the registry first). */
  get(id: TenantId): TenantDb {
    if (this.closed) throw new Error("the tenant pool is closed (the server is stopping)");
    let db = this.handles.get(id);
    if (!db || !db.open) {
      db = openTenantDb(this.dataDir, id, this.spec);
      this.handles.set(id, db);
    }
    return db;
  }

  /** Creates the tenant's file and keeps its handle open. */
  create(id: TenantId): TenantDb {
    const db = openTenantDb(this.dataDir, id, this.spec, { create: true });
    this.handles.set(id, db);
    return db;
  }

  /** Closes a tenant's handle (before deleting or replacing its file). */
  evict(id: TenantId): void {
    this.handles.delete(id);
  }

  closeAll(): void {
    this.handles.clear();
  }

  /**
   * Closes every handle for good: at shutdown, work still running (an abandoned ingestion
   * step) must not reopen a database after it was closed.
   */
  close(): void {
    this.closed = true;
    this.handles.clear();
  }
}
