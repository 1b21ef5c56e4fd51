// The tenant store: the only code that opens a tenant's SQLite file. It loads sqlite-vec,
// applies the numbered migrations, sets the pragmas, creates the vector index for the
// configured embedding dimension, and keeps open handles in a bounded LRU. A tenant whose
// file cannot be opened or read is marked unavailable (TenantUnavailableError) until its file
// is restored; every other tenant goes on as before.
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

/** The tenant's file exists but is not its database (emptied, zeroed, overwritten). */
export class TenantFileDamagedError extends Error {
  override name = "TenantFileDamagedError";
}

/** The tenant's file failed to open or its checks; it stays so until the file changes. */
export class TenantUnavailableError extends Error {
  override name = "TenantUnavailableError";
  constructor(
    readonly tenantId: TenantId,
    readonly reason: string,
  ) {
    super(`tenant ${tenantId} is unavailable: ${reason}`);
  }
}

/**
 * Whether an error says a tenant's file itself is missing, damaged or unreadable — not a busy
 * lock, a constraint or a bad query.
 */
export function isStorageFailure(error: unknown): boolean {
  if (error instanceof TenantFileMissingError || error instanceof TenantFileDamagedError) {
    return true;
  }
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^SQLITE_(CORRUPT|NOTADB|IOERR|CANTOPEN)/.test(code);
}

const SQLITE_HEADER = Buffer.from("SQLite format 3\0", "latin1");

/** Why the file at this path is not a database file, or undefined when its header is one's. */
function headerProblem(file: string): string | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, "r");
  } catch {
    return "its file is missing";
  }
  try {
    const head = Buffer.alloc(SQLITE_HEADER.length);
    const read = fs.readSync(fd, head, 0, head.length, 0);
    if (read === 0) return "its file is empty";
    return read === head.length && head.equals(SQLITE_HEADER)
      ? undefined
      : "its file is not a database";
  } finally {
    fs.closeSync(fd);
  }
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
  // No mmap_size: a mapped file that shrinks under the process (truncated, restored, damaged)
  // delivers SIGBUS and kills it, every tenant with it; read() only fails the one tenant.
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
    // SQLite takes an emptied file for a new database: never silently start a tenant afresh
    // (checked before the pragmas, which would write to it).
    if (!options.create && (db.pragma("user_version", { simple: true }) as number) === 0) {
      throw new TenantFileDamagedError(`the database file of tenant ${id} is empty`);
    }
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

/** Told when a tenant becomes unavailable (once) and when it is available again. */
export interface TenantPoolObserver {
  unavailable?(id: TenantId, reason: string): void;
  available?(id: TenantId): void;
}

/** How often an open handle's file header, and an unavailable tenant's file, are looked at. */
export const TENANT_FILE_CHECK_MS = 1000;

/** Identifies one version of a file: a restore (copy or rename) changes it. */
function fileStamp(file: string): string {
  try {
    const stat = fs.statSync(file);
    return `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
  } catch {
    return "missing";
  }
}

/**
 * Open tenant handles, least recently used closed first. Callers take a handle for a
 * synchronous unit of work (`pool.get(id)`) and do not keep it across long awaits.
 *
 * A tenant whose file fails to open, fails `PRAGMA quick_check` after a storage error, or
 * whose open file stops looking like a database (looked at once a second: SQLite's page cache
 * would go on serving a truncated or overwritten file) is unavailable: `get` throws
 * TenantUnavailableError without touching the file, until the file changes and opens cleanly.
 */
export class TenantPool {
  private readonly handles: LRUCache<string, TenantDb>;
  private closed = false;
  /** When each open handle's file was last looked at, and its inode then. */
  private readonly looked = new Map<string, { at: number; ino: number }>();
  private readonly down = new Map<string, { reason: string; stamp: string; at: number }>();

  constructor(
    private readonly dataDir: string,
    private readonly spec: EmbeddingSpec,
    max: number,
    private readonly observer: TenantPoolObserver = {},
  ) {
    this.handles = new LRUCache<string, TenantDb>({
      max,
      dispose: (db, id) => {
        this.looked.delete(id);
        if (db.open) db.close();
      },
    });
  }

  get size(): number {
    return this.handles.size;
  }

  /** How many tenants are unavailable now. */
  get unavailableCount(): number {
    return this.down.size;
  }

  /** The open handle of a tenant that exists on disk (callers check the registry first). */
  get(id: TenantId): TenantDb {
    if (this.closed) throw new Error("the tenant pool is closed (the server is stopping)");
    const down = this.down.get(id);
    if (down) return this.recover(id, down);
    let db = this.handles.get(id);
    if (db?.open) {
      const problem = this.lookAtFile(id);
      if (problem === undefined) return db;
      if (problem !== "replaced") throw this.markUnavailable(id, problem);
    }
    try {
      db = this.open(id);
    } catch (error) {
      if (isStorageFailure(error)) throw this.markUnavailable(id, messageOf(error));
      throw error;
    }
    return db;
  }

  /** Creates the tenant's file and keeps its handle open. */
  create(id: TenantId): TenantDb {
    this.down.delete(id);
    const db = openTenantDb(this.dataDir, id, this.spec, { create: true });
    this.keep(id, db);
    return db;
  }

  /** Closes a tenant's handle (before deleting or replacing its file). */
  evict(id: TenantId): void {
    this.handles.delete(id);
    this.down.delete(id);
  }

  /**
   * A storage error (isStorageFailure) met while using a tenant's handle: the handle is closed
   * and the file opened afresh and quick-checked. Returns whether the tenant is now
   * unavailable (false: the file is sound, or the error was not about storage).
   */
  reportFailure(id: TenantId, error: unknown): boolean {
    if (this.closed || !isStorageFailure(error)) return false;
    if (this.down.has(id)) return true;
    this.handles.delete(id);
    try {
      this.open(id, { check: true });
      return false;
    } catch (reopenError) {
      this.markUnavailable(id, messageOf(isStorageFailure(reopenError) ? reopenError : error));
      return true;
    }
  }

  private open(id: TenantId, options: { check?: boolean } = {}): TenantDb {
    const db = openTenantDb(this.dataDir, id, this.spec);
    if (options.check) {
      const result = db.pragma("quick_check", { simple: true });
      if (result !== "ok") {
        db.close();
        throw new TenantFileDamagedError(`quick_check: ${String(result)}`);
      }
    }
    this.keep(id, db);
    return db;
  }

  private keep(id: TenantId, db: TenantDb): void {
    this.handles.set(id, db);
    let ino = 0;
    try {
      ino = fs.statSync(tenantFilePath(this.dataDir, id)).ino;
    } catch {
      // Gone already: the next look finds it missing.
    }
    this.looked.set(id, { at: Date.now(), ino });
  }

  /** At most once a second: what is wrong with an open handle's file, if anything. */
  private lookAtFile(id: TenantId): string | undefined {
    const last = this.looked.get(id);
    const now = Date.now();
    if (last && now - last.at < TENANT_FILE_CHECK_MS) return undefined;
    const file = tenantFilePath(this.dataDir, id);
    const problem = headerProblem(file);
    if (problem) return problem;
    const ino = fs.statSync(file).ino;
    if (last && last.ino !== ino) {
      // Replaced by another file (a restore by rename): reopen it, checked as any other open.
      this.handles.delete(id);
      return "replaced";
    }
    this.looked.set(id, { at: now, ino });
    return undefined;
  }

  private markUnavailable(id: TenantId, reason: string): TenantUnavailableError {
    this.handles.delete(id);
    if (!this.down.has(id)) {
      const stamp = fileStamp(tenantFilePath(this.dataDir, id));
      this.down.set(id, { reason, stamp, at: Date.now() });
      this.observer.unavailable?.(id, reason);
    }
    return new TenantUnavailableError(id, this.down.get(id)?.reason ?? reason);
  }

  /** An unavailable tenant comes back once its file has changed and opens and checks clean. */
  private recover(id: TenantId, down: { reason: string; stamp: string; at: number }): TenantDb {
    const now = Date.now();
    const stamp = fileStamp(tenantFilePath(this.dataDir, id));
    if (now - down.at < TENANT_FILE_CHECK_MS || stamp === down.stamp) {
      throw new TenantUnavailableError(id, down.reason);
    }
    down.at = now;
    down.stamp = stamp;
    try {
      const db = this.open(id, { check: true });
      this.down.delete(id);
      this.observer.available?.(id);
      return db;
    } catch (error) {
      if (!isStorageFailure(error)) throw error;
      down.reason = messageOf(error);
      throw new TenantUnavailableError(id, down.reason);
    }
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

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
