import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DEMO_TENANT_ID, newTenantId, type TenantId } from "#tenants/id.ts";
import { REGISTRY_META_KEY, readTenantCopy } from "#tenants/portable.ts";
import { TenantPool } from "#tenants/store.ts";
import { FakeEmbedder } from "../../../tests/support/fake-embedder.ts";
import { createAnswerCache } from "../ask/answer-cache.server.ts";
import { createRetrievalCache } from "../ask/retrieval-cache.server.ts";
import { listBackupRuns, runBackup } from "../backup/backup.server.ts";
import { parseConfig, type Config } from "../config.server.ts";
import {
  getMeta,
  getTenant,
  grantTenant,
  insertAdmin,
  listPlatformAudit,
  openControlDb,
  setMeta,
  setTenantModel,
  setWidgetSettingsJson,
  tenantsWithPendingJobs,
} from "../control-db.server.ts";
import { ApiError } from "../errors.server.ts";
import { IngestQueue } from "../ingest/queue.server.ts";
import { silentLogger } from "../logger.server.ts";
import { retrieve } from "../retrieval/retrieve.server.ts";
import { eraseTenant, exportTenant, importTenant } from "./data.server.ts";
import { onTenantErased } from "./tenants.server.ts";
import { createTenant, enqueueIngest } from "./tenants.server.ts";

const FACT = "The Zorblax 9000 espresso machine must be descaled every 42 days with citric acid.";

function makeRuntime(dataDir: string, extra: Record<string, string> = {}) {
  const embedder = new FakeEmbedder();
  const config: Config = parseConfig({ DATA_DIR: dataDir, ...extra });
  const control = openControlDb(dataDir);
  const tenants = new TenantPool(dataDir, embedder, 8);
  const queue = new IngestQueue({
    openTenant: (id: TenantId) => tenants.get(id),
    tenantsWithPendingJobs: () => tenantsWithPendingJobs(control),
    embedder,
    logger: silentLogger,
    concurrency: 1,
    leaseMs: 5000,
    pollMs: 20,
    retryBaseMs: 10,
    chunking: { maxTokens: 200, overlapTokens: 20 },
    fetchTimeoutMs: 1000,
    maxFetchBytes: 1 << 20,
  });
  return {
    config,
    control,
    tenants,
    embedder,
    queue,
    logger: silentLogger,
    retrievalCache: createRetrievalCache(config),
    answerCache: createAnswerCache(config),
  };
}
type TestRuntime = ReturnType<typeof makeRuntime>;

let dirs: string[] = [];
let runtimes: TestRuntime[] = [];
const tempDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-tenant-data-"));
  dirs.push(dir);
  return dir;
};
const runtimeIn = (dir: string, extra?: Record<string, string>) => {
  const runtime = makeRuntime(dir, extra);
  runtimes.push(runtime);
  return runtime;
};

async function tenantWithDocument(runtime: TestRuntime) {
  const tenant = createTenant(runtime, { name: "Espresso Co" });
  enqueueIngest(runtime, tenant.id, {
    sourceType: "text",
    title: "espresso-care.md",
    fileName: "espresso-care.md",
    payload: new TextEncoder().encode(`# Care\n\n## Descaling\n\n${FACT}\n`),
  });
  runtime.queue.start();
  await runtime.queue.drain(tenant.id);
  return tenant;
}

const apiError = async (fn: () => unknown): Promise<ApiError> => {
  try {
    await fn();
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error("expected an ApiError");
};

beforeEach(() => {
  dirs = [];
  runtimes = [];
});
afterEach(async () => {
  for (const runtime of runtimes) {
    await runtime.queue.stop();
    runtime.tenants.close();
    if (runtime.control.open) runtime.control.close();
  }
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

describe("export and import", () => {
  it("moves a tenant, its settings and its answers to another data folder", async () => {
    const source = runtimeIn(tempDir());
    const tenant = await tenantWithDocument(source);
    setTenantModel(source.control, tenant.id, "llama-3.1-8b-instant");
    setWidgetSettingsJson(source.control, tenant.id, '{"title":"Ask Espresso Co"}');
    const file = path.join(tempDir(), "export", "espresso.db");

    const { bytes } = exportTenant(source, tenant.id, file, "cli");
    expect(bytes).toBe(fs.statSync(file).size);
    const info = readTenantCopy(file);
    expect(info).toMatchObject({ tenantId: tenant.id, documents: 1 });
    expect(info.registry).toMatchObject({ name: "Espresso Co", format: "bitb-tenant-export" });
    // One self-contained file: nothing beside it.
    expect(fs.readdirSync(path.dirname(file))).toEqual(["espresso.db"]);

    const target = runtimeIn(tempDir());
    const imported = await importTenant(target, file, { actor: "cli" });
    expect(imported).toMatchObject({
      id: tenant.id,
      name: "Espresso Co",
      llmModel: "llama-3.1-8b-instant",
    });
    const question = "How often must the Zorblax 9000 be descaled?";
    const before = await retrieve(source.tenants.get(tenant.id), source.embedder, question, {
      topK: 3,
    });
    const after = await retrieve(target.tenants.get(tenant.id), target.embedder, question, {
      topK: 3,
    });
    expect(after.map((c) => c.text)).toEqual(before.map((c) => c.text));
    expect(after[0]?.text).toContain("42 days");
    // The export-only registry entry is not kept in the live database.
    const row = target.tenants
      .get(tenant.id)
      .prepare("SELECT value FROM meta WHERE key = ?")
      .get(REGISTRY_META_KEY);
    expect(row).toBeUndefined();
    expect(listPlatformAudit(source.control).map((e) => e.action)).toEqual(["tenant.export"]);
    expect(listPlatformAudit(target.control)[0]).toMatchObject({
      action: "tenant.import",
      tenantId: tenant.id,
      detail: { documents: 1 },
    });
    expect(target.control.prepare("SELECT widget_settings FROM tenants").get()).toEqual({
      widget_settings: '{"title":"Ask Espresso Co"}',
    });
  });

  it("refuses to import over an existing tenant unless asked for a new id", async () => {
    const runtime = runtimeIn(tempDir());
    const tenant = await tenantWithDocument(runtime);
    const file = path.join(tempDir(), "copy.db");
    exportTenant(runtime, tenant.id, file, "cli");

    const conflict = await apiError(() => importTenant(runtime, file, { actor: "cli" }));
    expect(conflict.code).toBe("conflict");

    const copy = await importTenant(runtime, file, { actor: "cli", newId: true, name: "Copy" });
    expect(copy.id).not.toBe(tenant.id);
    expect(copy.name).toBe("Copy");
    const chunks = await retrieve(runtime.tenants.get(copy.id), runtime.embedder, "descaled", {
      topK: 1,
    });
    expect(chunks[0]?.text).toContain("42 days");
  });

  it("rejects files that are not tenant databases, or made by another embedding model", async () => {
    const runtime = runtimeIn(tempDir());
    const junk = path.join(tempDir(), "junk.db");
    fs.writeFileSync(junk, "not a database at all, just text that is long enough to look odd");
    expect((await apiError(() => importTenant(runtime, junk, { actor: "cli" }))).code).toBe(
      "bad_request",
    );
    const foreign = path.join(tempDir(), "foreign.db");
    const db = new Database(foreign);
    db.exec("CREATE TABLE t (x)");
    db.close();
    expect(
      (await apiError(() => importTenant(runtime, foreign, { actor: "cli" }))).message,
    ).toMatch(/not a BiTB tenant database/);

    const other = runtimeIn(tempDir());
    const tenant = await tenantWithDocument(other);
    const file = path.join(tempDir(), "other.db");
    exportTenant(other, tenant.id, file, "cli");
    const elsewhere = runtimeIn(tempDir());
    Object.assign(elsewhere, { embedder: new FakeEmbedder({ dimension: 16, model: "fake:16" }) });
    const mismatch = await apiError(() => importTenant(elsewhere, file, { actor: "cli" }));
    expect(mismatch.message).toMatch(/configure the same embedding model/);
    expect(fs.readdirSync(elsewhere.config.dataDir).filter((f) => f.startsWith("tn_"))).toEqual([]);
  });

  it("exports only registered tenants", async () => {
    const runtime = runtimeIn(tempDir());
    const error = await apiError(() =>
      exportTenant(runtime, newTenantId(), path.join(tempDir(), "x.db"), "cli"),
    );
    expect(error.code).toBe("not_found");
    expect((await apiError(() => exportTenant(runtime, "../control", "x.db", "cli"))).code).toBe(
      "not_found",
    );
  });
});

describe("erasure", () => {
  it("leaves nothing of the tenant: file, companions, rows, links, handles, backups", async () => {
    const dataDir = tempDir();
    const backupDir = tempDir();
    const runtime = runtimeIn(dataDir, { BACKUP_DIR: backupDir });
    const tenant = await tenantWithDocument(runtime);
    const other = await tenantWithDocument(runtime);
    const admin = insertAdmin(runtime.control, {
      email: "t@example.com",
      passwordHash: "x",
      role: "tenant",
    });
    grantTenant(runtime.control, admin.id, tenant.id);
    await runBackup(runtime, { dir: backupDir, keep: 3 });
    const erasedByHook: string[] = [];
    const unregister = onTenantErased((id) => erasedByHook.push(id));
    expect(fs.existsSync(path.join(dataDir, `${tenant.id}.db-wal`))).toBe(true);

    const report = eraseTenant(runtime, tenant.id, "admin:1");
    unregister();

    expect(report).toMatchObject({ tenantId: tenant.id, registered: true, backupsRemoved: 1 });
    expect(report.filesRemoved).toContain(`${tenant.id}.db`);
    expect(fs.readdirSync(dataDir).filter((f) => f.includes(tenant.id))).toEqual([]);
    expect(getTenant(runtime.control, tenant.id)).toBeUndefined();
    expect(runtime.control.prepare("SELECT count(*) AS n FROM admin_tenants").get()).toEqual({
      n: 0,
    });
    expect(() => runtime.tenants.get(tenant.id)).toThrow(/no database file/);
    const run = listBackupRuns(backupDir)[0] as string;
    expect(fs.readdirSync(path.join(backupDir, run)).some((f) => f.includes(tenant.id))).toBe(
      false,
    );
    const manifest = fs.readFileSync(path.join(backupDir, run, "manifest.json"), "utf8");
    expect(manifest).not.toContain(tenant.id);
    expect(manifest).toContain(other.id);
    expect(erasedByHook).toEqual([tenant.id]);
    expect(listPlatformAudit(runtime.control, { tenantId: tenant.id })[0]).toMatchObject({
      actor: "admin:1",
      action: "tenant.erase",
      detail: { registered: true, documents: 1 },
    });
    // The other tenant is untouched.
    expect(getTenant(runtime.control, other.id)).toBeDefined();
    expect(
      (await retrieve(runtime.tenants.get(other.id), runtime.embedder, "descaled", { topK: 1 }))[0]
        ?.text,
    ).toContain("42 days");
  });

  it("finishes an erasure that stopped after the registry, and 404s on unknown tenants", async () => {
    const dataDir = tempDir();
    const runtime = runtimeIn(dataDir);
    const orphan = newTenantId();
    runtime.tenants.create(orphan);
    runtime.tenants.evict(orphan);
    expect(eraseTenant(runtime, orphan, "cli")).toMatchObject({ registered: false });
    expect(fs.readdirSync(dataDir).filter((f) => f.includes(orphan))).toEqual([]);
    expect((await apiError(() => eraseTenant(runtime, orphan, "cli"))).code).toBe("not_found");
    expect((await apiError(() => eraseTenant(runtime, "../../etc", "cli"))).code).toBe("not_found");
  });

  it("lets the demo tenant be loaded again on the next start", async () => {
    const runtime = runtimeIn(tempDir());
    createTenant(runtime, { id: DEMO_TENANT_ID as TenantId, name: "demo" });
    setMeta(runtime.control, "demo-file:README.md", "hash");
    eraseTenant(runtime, DEMO_TENANT_ID, "cli");
    expect(getMeta(runtime.control, "demo-file:README.md")).toBeUndefined();
  });
});
