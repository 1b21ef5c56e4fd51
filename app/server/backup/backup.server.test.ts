import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { newTenantId, type TenantId } from "#tenants/id.ts";
import { readTenantCopy } from "#tenants/portable.ts";
import { TenantPool } from "#tenants/store.ts";
import { FakeEmbedder } from "../../../tests/support/fake-embedder.ts";
import {
  listBackupRuns,
  removeTenantFromBackups,
  rotateBackups,
  runBackup,
  runName,
  scheduleBackups,
} from "./backup.server.ts";
import { insertTenant, openControlDb, type ControlDb } from "../control-db.server.ts";
import { silentLogger } from "../logger.server.ts";

let dataDir: string;
let backupDir: string;
let control: ControlDb;
let tenants: TenantPool;
let runtime: { control: ControlDb; tenants: TenantPool; logger: typeof silentLogger };

function addTenant(): TenantId {
  const id = newTenantId();
  tenants.create(id);
  insertTenant(control, { id, name: `tenant ${id}` });
  return id;
}

beforeEach(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-backup-data-"));
  backupDir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-backup-"));
  control = openControlDb(dataDir);
  tenants = new TenantPool(dataDir, new FakeEmbedder(), 4);
  runtime = { control, tenants, logger: silentLogger };
});
afterEach(() => {
  tenants.close();
  control.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.rmSync(backupDir, { recursive: true, force: true });
});

describe("backups", () => {
  it("copies the control database and every tenant into one folder per run", async () => {
    const a = addTenant();
    const b = addTenant();
    const at = new Date("2026-11-22T05:30:00.000Z");
    const run = await runBackup(runtime, { dir: backupDir, keep: 7, now: () => at });
    expect(path.basename(run.dir)).toBe("2026-11-22T05-30-00-000Z");
    expect(fs.readdirSync(run.dir).sort()).toEqual(
      ["control.db", `${a}.db`, `${b}.db`, "manifest.json"].sort(),
    );
    expect(run.manifest.tenants.map((t) => t.id).sort()).toEqual([a, b].sort());
    expect(run.manifest.failed).toEqual([]);
    expect(readTenantCopy(path.join(run.dir, `${a}.db`)).documents).toBe(0);
  });

  it("keeps the newest runs, and names them so they sort by time", async () => {
    addTenant();
    let t = Date.parse("2026-01-01T00:00:00Z");
    for (let i = 0; i < 4; i++) {
      t += 3_600_000;
      const stamp = new Date(t);
      await runBackup(runtime, { dir: backupDir, keep: 2, now: () => stamp });
    }
    expect(listBackupRuns(backupDir)).toEqual([
      runName(new Date("2026-01-01T03:00:00Z")),
      runName(new Date("2026-01-01T04:00:00Z")),
    ]);
    expect(rotateBackups(backupDir, 1)).toEqual([runName(new Date("2026-01-01T03:00:00Z"))]);
  });

  it("records a tenant it cannot copy and carries on; removes stale partial runs", async () => {
    const ok = addTenant();
    const broken = addTenant();
    tenants.evict(broken);
    fs.rmSync(path.join(dataDir, `${broken}.db`));
    const stale = path.join(backupDir, ".partial-2000-01-01T00-00-00-000Z");
    fs.mkdirSync(stale);
    fs.utimesSync(stale, new Date(0), new Date(0));
    const run = await runBackup(runtime, { dir: backupDir, keep: 3 });
    expect(run.manifest.tenants.map((t) => t.id)).toEqual([ok]);
    expect(run.manifest.failed).toEqual([{ id: broken, error: expect.any(String) }]);
    expect(fs.existsSync(stale)).toBe(false);
  });

  it("forgets an erased tenant in every run", async () => {
    const gone = addTenant();
    const kept = addTenant();
    await runBackup(runtime, { dir: backupDir, keep: 3, now: () => new Date(1_000_000) });
    await runBackup(runtime, { dir: backupDir, keep: 3, now: () => new Date(2_000_000) });
    expect(removeTenantFromBackups(backupDir, gone)).toBe(2);
    for (const run of listBackupRuns(backupDir)) {
      const files = fs.readdirSync(path.join(backupDir, run));
      expect(files).not.toContain(`${gone}.db`);
      expect(files).toContain(`${kept}.db`);
    }
    expect(removeTenantFromBackups(path.join(backupDir, "missing"), gone)).toBe(0);
  });

  it("runs on a schedule until stopped", async () => {
    addTenant();
    const schedule = scheduleBackups(runtime, { dir: backupDir, keep: 5, intervalMs: 30 });
    const deadline = Date.now() + 5000;
    while (listBackupRuns(backupDir).length < 2 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    schedule.stop();
    const count = listBackupRuns(backupDir).length;
    expect(count).toBeGreaterThanOrEqual(2);
    await new Promise((r) => setTimeout(r, 120));
    expect(listBackupRuns(backupDir).length).toBe(count);
  });
});
