import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { newTenantId, type TenantId } from "#tenants/id.ts";
import { TenantPool } from "#tenants/store.ts";
import { FakeEmbedder } from "../../../tests/support/fake-embedder.ts";
import { startFakeS3, type FakeS3 } from "../../../tests/support/fake-s3.ts";
import { runBackup } from "./backup.server.ts";
import { S3Backups } from "./s3.server.ts";
import { parseConfig } from "../config.server.ts";
import { insertTenant, openControlDb, type ControlDb } from "../control-db.server.ts";
import { silentLogger } from "../logger.server.ts";
import { eraseTenantEverywhere } from "../tenancy/data.server.ts";
import { createAnswerCache } from "../ask/answer-cache.server.ts";
import { createRetrievalCache } from "../ask/retrieval-cache.server.ts";
import type { Runtime } from "../runtime/runtime.server.ts";

let s3: FakeS3;
let dataDir: string;
let backupDir: string;
let control: ControlDb;
let tenants: TenantPool;

beforeEach(async () => {
  s3 = await startFakeS3({ accessKeyId: "AKIDTEST", pageSize: 2 });
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-s3-data-"));
  backupDir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-s3-backup-"));
  control = openControlDb(dataDir);
  tenants = new TenantPool(dataDir, new FakeEmbedder(), 4);
});
afterEach(async () => {
  await s3.close();
  tenants.close();
  control.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.rmSync(backupDir, { recursive: true, force: true });
});

const bucket = (prefix = "/bitb") =>
  new S3Backups(
    {
      url: `${s3.url}/backups${prefix}`,
      region: "eu-west-1",
      accessKeyId: "AKIDTEST",
      secretAccessKey: "secret",
    },
    { retries: 3, initRetryMs: 5 },
  );

function addTenant(): TenantId {
  const id = newTenantId();
  tenants.create(id);
  insertTenant(control, { id, name: `tenant ${id}` });
  return id;
}

describe("backups to an S3-compatible bucket", () => {
  it("uploads each run (manifest last), keeps the newest runs, and survives a failing request", async () => {
    const a = addTenant();
    const runtime = { control, tenants, logger: silentLogger };
    s3.failNext(1);
    const first = await runBackup(runtime, {
      dir: backupDir,
      keep: 2,
      s3: bucket(),
      now: () => new Date(1_000_000),
    });
    expect(first.uploaded).toBe(3);
    const run = path.basename(first.dir);
    expect([...s3.objects.keys()].sort()).toEqual(
      [
        `backups/bitb/${run}/${a}.db`,
        `backups/bitb/${run}/control.db`,
        `backups/bitb/${run}/manifest.json`,
      ].sort(),
    );
    const puts = s3.requests.filter((r) => r.startsWith("PUT"));
    expect(puts.at(-1)).toContain("manifest.json");
    expect(s3.objects.get(`backups/bitb/${run}/${a}.db`)).toEqual(
      fs.readFileSync(path.join(first.dir, `${a}.db`)),
    );
    for (const at of [2_000_000, 3_000_000]) {
      await runBackup(runtime, { dir: backupDir, keep: 2, s3: bucket(), now: () => new Date(at) });
    }
    const runs = new Set([...s3.objects.keys()].map((k) => k.split("/")[2]));
    expect(runs.size).toBe(2);
    expect(runs.has(run)).toBe(false);
  });

  it("deletes an erased tenant's copies from the bucket", async () => {
    const a = addTenant();
    const b = addTenant();
    const runtime = { control, tenants, logger: silentLogger };
    const backupBucket = bucket("");
    await runBackup(runtime, { dir: backupDir, keep: 3, s3: backupBucket });
    const config = parseConfig({ DATA_DIR: dataDir, BACKUP_DIR: backupDir });
    const parts = {
      config,
      control,
      tenants,
      embedder: new FakeEmbedder(),
      queue: { forgetTenant: () => {} } as unknown as Runtime["queue"],
      retrievalCache: createRetrievalCache(config),
      answerCache: createAnswerCache(config),
      backupBucket,
    };
    const report = await eraseTenantEverywhere(parts, a, "cli");
    expect(report.remoteBackupsRemoved).toBe(1);
    const keys = [...s3.objects.keys()];
    expect(keys.some((k) => k.includes(a))).toBe(false);
    expect(keys.some((k) => k.includes(b))).toBe(true);
    // Erased already: nothing left anywhere is still "not found".
    await expect(eraseTenantEverywhere(parts, a, "cli")).rejects.toThrow(/No such tenant/);
  });

  it("refuses a URL without a bucket and reports failures with the status", async () => {
    expect(
      () => new S3Backups({ url: s3.url, region: "r", accessKeyId: "k", secretAccessKey: "s" }),
    ).toThrow(/bucket/);
    const wrongKey = new S3Backups(
      { url: `${s3.url}/backups`, region: "r", accessKeyId: "OTHER", secretAccessKey: "s" },
      { retries: 0 },
    );
    await expect(wrongKey.listKeys()).rejects.toThrow(/403/);
    expect(() =>
      parseConfig({ BACKUP_S3_URL: "http://127.0.0.1:9/b", BACKUP_DIR: "/tmp/b" }),
    ).toThrow(/BACKUP_S3_ACCESS_KEY_ID/);
    expect(() =>
      parseConfig({
        BACKUP_S3_URL: "http://127.0.0.1:9/",
        BACKUP_DIR: "/tmp/b",
        BACKUP_S3_ACCESS_KEY_ID: "k",
        BACKUP_S3_SECRET_ACCESS_KEY: "s",
      }),
    ).toThrow(/bucket/);
  });
});
