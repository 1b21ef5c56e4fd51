// A whole tenant's data, moved or removed: export to one consistent SQLite file, import such
// a file on another server, and erase a tenant completely. Each leaves a platform-level audit
// row in the control database. Touches the control database, the tenant pool, the caches and
// the queue of the runtime, and tenant files only through tenants/portable.ts.
import fs from "node:fs";
import { countDocuments, hasPendingJobs } from "#tenants/knowledge-base.ts";
import { DEMO_TENANT_ID, isTenantId, newTenantId, type TenantId } from "#tenants/id.ts";
import {
  InvalidTenantCopyError,
  installTenantCopy,
  readTenantCopy,
  removeTenantFiles,
  writeTenantCopy,
} from "#tenants/portable.ts";
import { tenantFilePath } from "#tenants/store.ts";
import { removeTenantFromBackups } from "../backup/backup.server.ts";
import {
  deleteTenantRow,
  forgetDemoFiles,
  getTenant,
  getWidgetSettingsJson,
  insertImportedTenant,
  recordPlatformAudit,
  setTenantMaskTranscripts,
  setTenantPendingJobs,
  type TenantRecord,
  type TenantRegistryEntry,
} from "../control-db.server.ts";
import { ApiError } from "../errors.server.ts";
import {
  getWidgetKey,
  listAllowedOrigins,
  normalizeOrigin,
  rotateWidgetKey,
  setAllowedOrigins,
  setWidgetKey,
} from "../access/keys.server.ts";
import { initialQuota, setTenantQuota } from "../limits/quota.server.ts";
import { initialStorageLimits, setStorageLimits } from "../limits/storage-quota.server.ts";
import type { Runtime } from "../runtime/runtime.server.ts";
import { erasureHooks, requireTenant } from "./tenants.server.ts";

type Parts = Pick<
  Runtime,
  "config" | "control" | "tenants" | "embedder" | "queue" | "retrievalCache" | "answerCache"
> &
  Partial<Pick<Runtime, "replication">>;

/** Who asked: `cli` for the command line, `admin:<id>` for a signed-in admin. */
export type Actor = string;

/** The format an export declares, so a later version can read older files. */
export const EXPORT_FORMAT = "bitb-tenant-export";
export const EXPORT_FORMAT_VERSION = 1;

// ---- export ------------------------------------------------------------------------------

function registryEntry(runtime: Pick<Runtime, "control">, tenant: TenantRecord) {
  const entry: TenantRegistryEntry = {
    id: tenant.id,
    name: tenant.name,
    plan: tenant.plan,
    status: tenant.status,
    llmModel: tenant.llmModel,
    widgetSettings: getWidgetSettingsJson(runtime.control, tenant.id) ?? "{}",
    createdAt: tenant.createdAt,
  };
  return entry;
}

/**
 * Writes a consistent copy of the tenant's database, with its registry entry, to `destFile`.
 * Runs while the server keeps serving (one read transaction on the tenant's file).
 */
export function exportTenant(
  runtime: Parts,
  rawTenantId: unknown,
  destFile: string,
  actor: Actor,
): { tenant: TenantRecord; bytes: number } {
  const tenant = requireTenant(runtime, rawTenantId);
  const registry = {
    format: EXPORT_FORMAT,
    formatVersion: EXPORT_FORMAT_VERSION,
    exportedAt: new Date().toISOString(),
    ...registryEntry(runtime, tenant),
    // The embed travels with the tenant, so its sites keep working after a move.
    widgetKey: getWidgetKey(runtime.control, tenant.id),
    allowedOrigins: listAllowedOrigins(runtime.control, tenant.id),
    maskTranscripts: tenant.maskTranscripts,
  };
  const bytes = writeTenantCopy(runtime.tenants.get(tenant.id), destFile, registry);
  recordPlatformAudit(runtime.control, {
    actor,
    action: "tenant.export",
    tenantId: tenant.id,
    detail: { bytes },
  });
  return { tenant, bytes };
}

// ---- import ------------------------------------------------------------------------------

const str = (value: unknown, fallback: string) =>
  typeof value === "string" && value.trim() !== "" ? value : fallback;

/**
 * Registers the tenant in an exported file on this server. It keeps its id (so widgets
 * already embedded with it keep working) unless `newId` is set or the file carries none.
 */
export async function importTenant(
  runtime: Parts,
  file: string,
  options: { name?: string; newId?: boolean; actor: Actor },
): Promise<TenantRecord> {
  let info;
  try {
    info = readTenantCopy(file);
  } catch (error) {
    if (error instanceof InvalidTenantCopyError) throw new ApiError("bad_request", error.message);
    throw error;
  }
  const { model, dimension } = runtime.embedder;
  if (
    info.embeddingDimension !== undefined &&
    (info.embeddingDimension !== dimension ||
      (info.embeddingModel !== undefined && info.embeddingModel !== model))
  ) {
    throw new ApiError(
      "bad_request",
      `The file's vectors were made by ${info.embeddingModel ?? "an unknown model"} ` +
        `(${info.embeddingDimension} dimensions) but this server embeds with ${model} ` +
        `(${dimension} dimensions): configure the same embedding model to import it.`,
    );
  }
  const id = options.newId || !info.tenantId ? newTenantId() : info.tenantId;
  if (getTenant(runtime.control, id) || fs.existsSync(tenantFilePath(runtime.config.dataDir, id))) {
    throw new ApiError(
      "conflict",
      `Tenant ${id} already exists on this server; import it under a new id instead.`,
    );
  }
  const registry = info.registry ?? {};
  const status = registry.status === "suspended" ? "suspended" : "active";
  const entry: TenantRegistryEntry = {
    id,
    name: options.name?.trim() || str(registry.name, "Imported tenant"),
    plan: str(registry.plan, "trial"),
    status,
    llmModel: typeof registry.llmModel === "string" ? registry.llmModel : null,
    widgetSettings: typeof registry.widgetSettings === "string" ? registry.widgetSettings : "{}",
    createdAt: typeof registry.createdAt === "number" ? registry.createdAt : Date.now(),
  };
  await installTenantCopy(file, runtime.config.dataDir, id);
  try {
    runtime.tenants.evict(id);
    // Opening migrates an older copy and checks its vector index against the embedder.
    const db = runtime.tenants.get(id);
    runtime.control.transaction(() => {
      insertImportedTenant(runtime.control, entry);
      // The same id keeps its widget key (its sites' snippets stay valid); a new id gets a
      // new key, as keys are unique on a server.
      if (id === info.tenantId && typeof registry.widgetKey === "string") {
        setWidgetKey(runtime.control, id, registry.widgetKey);
      } else {
        rotateWidgetKey(runtime.control, id);
      }
      const origins = Array.isArray(registry.allowedOrigins) ? registry.allowedOrigins : [];
      setAllowedOrigins(
        runtime.control,
        id,
        origins.flatMap((o) => (typeof o === "string" && normalizeOrigin(o)) || []),
      );
      if (registry.maskTranscripts === true) setTenantMaskTranscripts(runtime.control, id, true);
      setTenantQuota(runtime.control, id, initialQuota(runtime.config, entry.plan));
      setStorageLimits(runtime.control, id, initialStorageLimits(runtime.config, entry.plan));
      recordPlatformAudit(runtime.control, {
        actor: options.actor,
        action: "tenant.import",
        tenantId: id,
        detail: {
          fromTenantId: info.tenantId ?? null,
          documents: info.documents,
          chunks: info.chunks,
          bytes: info.bytes,
        },
      });
    })();
    if (hasPendingJobs(db)) setTenantPendingJobs(runtime.control, id, true);
  } catch (error) {
    runtime.tenants.evict(id);
    removeTenantFiles(runtime.config.dataDir, id);
    throw error;
  }
  runtime.retrievalCache.forget(id);
  runtime.answerCache.forget(id);
  return getTenant(runtime.control, id) as TenantRecord;
}

// ---- erasure -----------------------------------------------------------------------------

export interface ErasureReport {
  tenantId: TenantId;
  /** False when only files were left (an earlier erasure stopped half way). */
  registered: boolean;
  filesRemoved: string[];
  backupsRemoved: number;
}

/**
 * Erases a tenant completely: registry row and admin links, database file with its -wal and
 * -shm, open handle, queued work, caches, copies in BACKUP_DIR and whatever registered an
 * erasure hook. The audit row is written with the registry change, before any file goes, so
 * an erasure is never unrecorded; running it again finishes one that stopped half way.
 */
export function eraseTenant(runtime: Parts, rawTenantId: unknown, actor: Actor): ErasureReport {
  if (!isTenantId(rawTenantId)) throw new ApiError("not_found", "No such tenant.");
  const id = rawTenantId;
  const tenant = getTenant(runtime.control, id);
  const file = tenantFilePath(runtime.config.dataDir, id);
  if (!tenant && !fs.existsSync(file)) throw new ApiError("not_found", "No such tenant.");

  let documents: number | null = null;
  if (fs.existsSync(file)) {
    try {
      const db = runtime.tenants.get(id);
      documents = countDocuments(db);
    } catch {
      // A damaged or foreign file is erased all the same.
    }
  }
  runtime.queue.forgetTenant(id);
  runtime.control.transaction(() => {
    deleteTenantRow(runtime.control, id);
    // The demo tenant is re-created on the next start; its documents must be queued again.
    if (id === DEMO_TENANT_ID) {
      forgetDemoFiles(runtime.control);
    }
    recordPlatformAudit(runtime.control, {
      actor,
      action: "tenant.erase",
      tenantId: id,
      detail: { registered: tenant !== undefined, documents },
    });
  })();
  runtime.tenants.evict(id);
  const filesRemoved = removeTenantFiles(runtime.config.dataDir, id);
  runtime.retrievalCache.forget(id);
  runtime.answerCache.forget(id);
  // Entries this machine still holds from when it was a replica (other replicas' entries for
  // the tenant are dropped by the primary when they arrive).
  runtime.replication?.outbox?.forgetTenant(id);
  const backupsRemoved = runtime.config.backupDir
    ? removeTenantFromBackups(runtime.config.backupDir, id)
    : 0;
  for (const hook of erasureHooks) hook(id);
  return { tenantId: id, registered: tenant !== undefined, filesRemoved, backupsRemoved };
}

/**
 * Erases a tenant (eraseTenant) and then its copies in the backup bucket, when there is one.
 * The bucket's part runs after the local erasure is recorded: if it fails, the error says so
 * and running the erasure again (CLI or API) finishes it.
 */
export async function eraseTenantEverywhere(
  runtime: Parts & Pick<Runtime, "backupBucket">,
  rawTenantId: unknown,
  actor: Actor,
): Promise<ErasureReport & { remoteBackupsRemoved?: number }> {
  let report: ErasureReport;
  try {
    report = eraseTenant(runtime, rawTenantId, actor);
  } catch (error) {
    // Erased before, but its bucket copies may remain: a valid id goes on to the bucket.
    if (!(error instanceof ApiError) || !runtime.backupBucket || !isTenantId(rawTenantId)) {
      throw error;
    }
    const removed = await runtime.backupBucket.removeTenant(rawTenantId);
    if (removed === 0) throw error;
    return {
      tenantId: rawTenantId,
      registered: false,
      filesRemoved: [],
      backupsRemoved: 0,
      remoteBackupsRemoved: removed,
    };
  }
  if (!runtime.backupBucket) return report;
  return {
    ...report,
    remoteBackupsRemoved: await runtime.backupBucket.removeTenant(report.tenantId),
  };
}
