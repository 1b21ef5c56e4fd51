// A tenant's database as one portable file: written with `VACUUM INTO` (a consistent,
// compacted copy taken inside one read transaction, while the server keeps serving), checked
// before it is let into a data folder, and removed with its -wal/-shm companions. The copy
// carries the tenant's registry entry (name, plan, settings) in its `meta` table, so another
// server can import it. Works on files only; the store (store.ts) still opens live tenants.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { isTenantId, tenantFileName, type TenantId } from "./id.ts";
import { tenantMigrations } from "./migrations.ts";
import type { TenantDb } from "./store.ts";

/** The `meta` key under which an exported copy carries its registry entry (JSON). */
export const REGISTRY_META_KEY = "export:registry";
/** The files SQLite may keep beside a database. */
const COMPANIONS = ["", "-wal", "-shm", "-journal"] as const;

export class InvalidTenantCopyError extends Error {
  override name = "InvalidTenantCopyError";
}

export interface TenantCopyInfo {
  /** The tenant id recorded in the copy (from its registry entry). */
  tenantId: TenantId | undefined;
  registry: Record<string, unknown> | undefined;
  schemaVersion: number;
  embeddingModel: string | undefined;
  embeddingDimension: number | undefined;
  documents: number;
  chunks: number;
  bytes: number;
}

function tempPathBeside(file: string): string {
  return path.join(
    path.dirname(file),
    `.${path.basename(file)}.${randomBytes(6).toString("hex")}.tmp`,
  );
}

/**
 * Writes a consistent copy of an open tenant database to `destFile` (replacing it), with
 * `registry` recorded in the copy. The copy is a single self-contained file (rollback journal
 * mode), written beside the destination and renamed into place, so a reader never sees half
 * of it. Returns its size in bytes.
 */
export function writeTenantCopy(
  db: TenantDb,
  destFile: string,
  registry?: Record<string, unknown>,
): number {
  fs.mkdirSync(path.dirname(destFile), { recursive: true });
  const temp = tempPathBeside(destFile);
  try {
    db.prepare("VACUUM INTO ?").run(temp);
    const copy = new Database(temp);
    try {
      copy.pragma("journal_mode = DELETE");
      if (registry) {
        copy
          .prepare(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
          )
          .run(REGISTRY_META_KEY, JSON.stringify(registry));
      }
    } finally {
      copy.close();
    }
    fs.renameSync(temp, destFile);
    return fs.statSync(destFile).size;
  } catch (error) {
    for (const suffix of COMPANIONS) fs.rmSync(temp + suffix, { force: true });
    throw error;
  }
}

/** Reads and checks a copy without changing it: an intact SQLite file with a tenant schema. */
export function readTenantCopy(file: string): TenantCopyInfo {
  if (!fs.existsSync(file)) throw new InvalidTenantCopyError(`no such file: ${file}`);
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch (error) {
    throw new InvalidTenantCopyError(`not a SQLite database: ${(error as Error).message}`);
  }
  try {
    let check: string;
    try {
      check = db.pragma("quick_check", { simple: true }) as string;
    } catch (error) {
      throw new InvalidTenantCopyError(`not a SQLite database: ${(error as Error).message}`);
    }
    if (check !== "ok") throw new InvalidTenantCopyError(`the file is damaged: ${check}`);
    const schemaVersion = db.pragma("user_version", { simple: true }) as number;
    const hasTable = (name: string) =>
      db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !==
      undefined;
    if (schemaVersion < 1 || !["meta", "documents", "chunks"].every(hasTable)) {
      throw new InvalidTenantCopyError("the file is not a BiTB tenant database");
    }
    if (schemaVersion > tenantMigrations.length) {
      throw new InvalidTenantCopyError(
        `the file's schema version ${schemaVersion} is newer than this server knows (${tenantMigrations.length}); upgrade this server first`,
      );
    }
    const meta = (key: string) =>
      (db.prepare("SELECT value FROM meta WHERE key = ?").get(key) as { value: string } | undefined)
        ?.value;
    let registry: Record<string, unknown> | undefined;
    const rawRegistry = meta(REGISTRY_META_KEY);
    if (rawRegistry !== undefined) {
      try {
        registry = JSON.parse(rawRegistry) as Record<string, unknown>;
      } catch {
        throw new InvalidTenantCopyError("the file's registry entry is not valid JSON");
      }
    }
    const dimension = meta("embedding_dimension");
    const count = (table: string) =>
      (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    return {
      tenantId: isTenantId(registry?.id) ? registry.id : undefined,
      registry,
      schemaVersion,
      embeddingModel: meta("embedding_model"),
      embeddingDimension: dimension === undefined ? undefined : Number(dimension),
      documents: count("documents"),
      chunks: count("chunks"),
      bytes: fs.statSync(file).size,
    };
  } finally {
    db.close();
  }
}

/**
 * Puts a checked copy into the data folder as tenant `id`'s database, stripped of its
 * export-only registry entry. Written through SQLite's backup API rather than a file copy and
 * rename, so it also works on a LiteFS mount (which replicates only what SQLite writes).
 * Refuses to replace an existing tenant file; on failure nothing is left behind.
 */
export async function installTenantCopy(
  file: string,
  dataDir: string,
  id: TenantId,
): Promise<string> {
  const target = path.join(dataDir, tenantFileName(id));
  if (fs.existsSync(target)) {
    throw new InvalidTenantCopyError(`a database for tenant ${id} already exists`);
  }
  fs.mkdirSync(dataDir, { recursive: true });
  // Left-overs of an earlier tenant with this id would be replayed into the new file.
  for (const suffix of COMPANIONS.slice(1)) fs.rmSync(target + suffix, { force: true });
  const source = new Database(file, { readonly: true, fileMustExist: true });
  try {
    await source.backup(target);
    const copy = new Database(target, { fileMustExist: true });
    try {
      copy.prepare("DELETE FROM meta WHERE key = ?").run(REGISTRY_META_KEY);
    } finally {
      copy.close();
    }
    return target;
  } catch (error) {
    for (const suffix of COMPANIONS) fs.rmSync(target + suffix, { force: true });
    throw error;
  } finally {
    source.close();
  }
}

/** Deletes a tenant's database file and its companions; returns the names removed. */
export function removeTenantFiles(dataDir: string, id: TenantId): string[] {
  const base = path.join(dataDir, tenantFileName(id));
  const removed: string[] = [];
  for (const suffix of COMPANIONS) {
    if (fs.existsSync(base + suffix)) {
      fs.rmSync(base + suffix);
      removed.push(path.basename(base + suffix));
    }
  }
  return removed;
}
