import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { newTenantId } from "./id.ts";
import { tenantMigrations } from "./migrations.ts";
import {
  InvalidTenantCopyError,
  REGISTRY_META_KEY,
  installTenantCopy,
  readTenantCopy,
  removeTenantFiles,
  writeTenantCopy,
} from "./portable.ts";
import { TenantPool } from "./store.ts";

const spec = { model: "fake:8", dimension: 8 };
let dir: string;
let pool: TenantPool;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-portable-"));
  pool = new TenantPool(path.join(dir, "data"), spec, 4);
});
afterEach(() => {
  pool.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("portable tenant copies", () => {
  it("writes one self-contained file with the registry entry, and installs it elsewhere", async () => {
    const id = newTenantId();
    pool.create(id);
    const file = path.join(dir, "out", "copy.db");
    const bytes = writeTenantCopy(pool.get(id), file, { id, name: "Acme" });
    expect(bytes).toBeGreaterThan(0);
    expect(fs.readdirSync(path.dirname(file))).toEqual(["copy.db"]);
    const info = readTenantCopy(file);
    expect(info).toMatchObject({
      tenantId: id,
      registry: { id, name: "Acme" },
      schemaVersion: tenantMigrations.length,
      embeddingModel: "fake:8",
      embeddingDimension: 8,
      documents: 0,
    });

    const other = path.join(dir, "other");
    const target = await installTenantCopy(file, other, id);
    const db = new Database(target, { readonly: true });
    expect(db.prepare("SELECT 1 FROM meta WHERE key = ?").get(REGISTRY_META_KEY)).toBeUndefined();
    db.close();
    await expect(installTenantCopy(file, other, id)).rejects.toBeInstanceOf(InvalidTenantCopyError);
    expect(removeTenantFiles(other, id)).toEqual([`${id}.db`]);
    expect(removeTenantFiles(other, id)).toEqual([]);
  });

  it("refuses missing, damaged, foreign and too-new files", () => {
    expect(() => readTenantCopy(path.join(dir, "none.db"))).toThrow(/no such file/);
    const junk = path.join(dir, "junk.db");
    fs.writeFileSync(junk, Buffer.alloc(8192, 7));
    expect(() => readTenantCopy(junk)).toThrow(InvalidTenantCopyError);

    const id = newTenantId();
    pool.create(id);
    const newer = path.join(dir, "newer.db");
    writeTenantCopy(pool.get(id), newer);
    const db = new Database(newer);
    db.pragma(`user_version = ${tenantMigrations.length + 1}`);
    db.prepare("INSERT INTO meta (key, value) VALUES (?, ?)").run(REGISTRY_META_KEY, "{oops");
    db.close();
    expect(() => readTenantCopy(newer)).toThrow(/newer than this server knows/);
    const bad = new Database(newer);
    bad.pragma(`user_version = ${tenantMigrations.length}`);
    bad.close();
    expect(() => readTenantCopy(newer)).toThrow(/not valid JSON/);
  });

  it("leaves nothing behind when the copy cannot be written", () => {
    const id = newTenantId();
    pool.create(id);
    const blocked = path.join(dir, "blocked");
    fs.writeFileSync(blocked, "a file where a folder should be");
    expect(() => writeTenantCopy(pool.get(id), path.join(blocked, "x.db"))).toThrow();
    expect(fs.readdirSync(dir).sort()).toEqual(["blocked", "data"]);
  });

  it("a closed pool does not reopen a tenant (shutdown)", () => {
    const id = newTenantId();
    pool.create(id);
    pool.close();
    expect(() => pool.get(id)).toThrow(/closed/);
  });
});
