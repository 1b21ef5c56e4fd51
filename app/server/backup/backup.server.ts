// Scheduled backups for self-hosters: every BACKUP_INTERVAL_MS, a consistent copy of the
// control database and of every tenant database (VACUUM INTO) goes into a new folder of
// BACKUP_DIR, named by its UTC start time; the newest BACKUP_KEEP runs are kept. A run is
// written under a `.partial-` name and renamed when complete, so every folder that looks like
// a backup is one: restoring is copying its files into an empty DATA_DIR.
// Touches the databases only through the runtime's handles, and files only inside BACKUP_DIR.
import fs from "node:fs";
import path from "node:path";
import { isTenantId, tenantFileName, type TenantId } from "#tenants/id.ts";
import { writeTenantCopy } from "#tenants/portable.ts";
import { CONTROL_FILE, listTenants } from "../control-db.server.ts";
import type { CoreParts } from "../parts.server.ts";
import { MANIFEST_FILE, type S3Backups } from "./s3.server.ts";

type Parts = Pick<CoreParts, "control" | "tenants" | "logger">;

const RUN_NAME = /^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$/;
const PARTIAL_PREFIX = ".partial-";
/** A partial run older than this was left by a crash: it is removed. */
const STALE_PARTIAL_MS = 6 * 3_600_000;

export interface BackupManifest {
  startedAt: string;
  finishedAt: string;
  control: { file: string; bytes: number };
  tenants: Array<{ id: string; file: string; bytes: number }>;
  failed: Array<{ id: string; error: string }>;
}

export interface BackupRun {
  dir: string;
  manifest: BackupManifest;
  /** Older runs deleted by rotation. */
  removed: string[];
  /** With a bucket: objects uploaded, and older runs deleted there. */
  uploaded?: number;
  removedRemote?: string[];
}

/** A folder name that sorts by time: 2026-11-22T05-30-00-000Z. */
export function runName(at: Date): string {
  return at.toISOString().replace(/[:.]/g, "-");
}

/** The complete runs in a backup folder, oldest first. */
export function listBackupRuns(backupDir: string): string[] {
  if (!fs.existsSync(backupDir)) return [];
  return fs
    .readdirSync(backupDir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && RUN_NAME.test(e.name))
    .map((e) => e.name)
    .sort();
}

const yieldToRequests = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * One backup run. Each database is copied in one synchronous VACUUM INTO (the server's event
 * loop waits for one file at a time; other requests run between files).
 */
export async function runBackup(
  runtime: Parts,
  options: { dir: string; keep: number; now?: () => Date; s3?: S3Backups },
): Promise<BackupRun> {
  const run = await runLocalBackup(runtime, options);
  if (!options.s3) return run;
  // The local run stands even when the upload fails: the error says so, the next run retries.
  const uploaded = await options.s3.uploadRun(run.dir);
  const removedRemote = await options.s3.rotate(options.keep);
  return { ...run, uploaded, removedRemote };
}

async function runLocalBackup(
  runtime: Parts,
  options: { dir: string; keep: number; now?: () => Date },
): Promise<BackupRun> {
  const now = options.now ?? (() => new Date());
  const started = now();
  const name = runName(started);
  fs.mkdirSync(options.dir, { recursive: true });
  removeStalePartials(options.dir, started.getTime());
  const partial = path.join(options.dir, `${PARTIAL_PREFIX}${name}`);
  fs.rmSync(partial, { recursive: true, force: true });
  fs.mkdirSync(partial);
  try {
    const controlBytes = writeTenantCopy(runtime.control, path.join(partial, CONTROL_FILE));
    const manifest: BackupManifest = {
      startedAt: started.toISOString(),
      finishedAt: "",
      control: { file: CONTROL_FILE, bytes: controlBytes },
      tenants: [],
      failed: [],
    };
    for (const tenant of listTenants(runtime.control)) {
      await yieldToRequests();
      const file = tenantFileName(tenant.id);
      try {
        const bytes = writeTenantCopy(runtime.tenants.get(tenant.id), path.join(partial, file));
        manifest.tenants.push({ id: tenant.id, file, bytes });
      } catch (error) {
        runtime.logger.error({ err: error, tenantId: tenant.id }, "backing up a tenant failed");
        manifest.failed.push({ id: tenant.id, error: (error as Error).message });
      }
    }
    manifest.finishedAt = now().toISOString();
    fs.writeFileSync(path.join(partial, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
    const dir = path.join(options.dir, name);
    fs.renameSync(partial, dir);
    const removed = rotateBackups(options.dir, options.keep);
    return { dir, manifest, removed };
  } catch (error) {
    fs.rmSync(partial, { recursive: true, force: true });
    throw error;
  }
}

/** Deletes all but the newest `keep` complete runs; returns the names deleted. */
export function rotateBackups(backupDir: string, keep: number): string[] {
  const runs = listBackupRuns(backupDir);
  const old = runs.slice(0, Math.max(0, runs.length - keep));
  for (const run of old) fs.rmSync(path.join(backupDir, run), { recursive: true, force: true });
  return old;
}

function removeStalePartials(backupDir: string, now: number): void {
  for (const entry of fs.readdirSync(backupDir, { withFileTypes: true })) {
    if (!entry.isDirectory() || !entry.name.startsWith(PARTIAL_PREFIX)) continue;
    const full = path.join(backupDir, entry.name);
    if (now - fs.statSync(full).mtimeMs > STALE_PARTIAL_MS) {
      fs.rmSync(full, { recursive: true, force: true });
    }
  }
}

/** Removes an erased tenant's copies from every run (and its line from the manifests). */
export function removeTenantFromBackups(backupDir: string, id: TenantId): number {
  if (!isTenantId(id) || !fs.existsSync(backupDir)) return 0;
  const file = tenantFileName(id);
  let removed = 0;
  for (const entry of fs.readdirSync(backupDir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const run = path.join(backupDir, entry.name);
    const copy = path.join(run, file);
    if (fs.existsSync(copy)) {
      fs.rmSync(copy);
      removed++;
    }
    const manifestFile = path.join(run, MANIFEST_FILE);
    if (fs.existsSync(manifestFile)) {
      const manifest = JSON.parse(fs.readFileSync(manifestFile, "utf8")) as BackupManifest;
      manifest.tenants = manifest.tenants.filter((t) => t.id !== id);
      manifest.failed = manifest.failed.filter((t) => t.id !== id);
      fs.writeFileSync(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
    }
  }
  return removed;
}

export interface BackupSchedule {
  stop(): void;
}

/** Runs a backup every `intervalMs` (the first one an interval after start), never two at once. */
export function scheduleBackups(
  runtime: Parts,
  options: { dir: string; keep: number; intervalMs: number; s3?: S3Backups },
): BackupSchedule {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    runBackup(runtime, options)
      .then((run) =>
        runtime.logger.info(
          {
            dir: run.dir,
            tenants: run.manifest.tenants.length,
            failed: run.manifest.failed.length,
            removed: run.removed.length,
            ...(run.uploaded === undefined ? {} : { uploaded: run.uploaded }),
          },
          "backup written",
        ),
      )
      .catch((error: unknown) => runtime.logger.error({ err: error }, "backup failed"))
      .finally(() => {
        running = false;
      });
  }, options.intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
