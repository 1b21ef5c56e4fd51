// Storage quotas per tenant plan (decision 043): documents, chunks and bytes of chunk text. A
// trial starts with TRIAL_MAX_*; other plans have none unless a platform admin sets them
// (PATCH /api/tenants/:id/plan). Uploads, pasted text, URLs and crawls past a quota are
// refused with 413 `quota_exceeded`; a job whose document would pass one fails with the same
// message, so a crawl stops adding pages at the quota.
import type { TenantId } from "#tenants/id.ts";
import { storageUsage, type StorageUsage } from "#tenants/knowledge-base.ts";
import type { TenantDb } from "#tenants/store.ts";
import type { Config } from "../config.server.ts";
import {
  tenantStorageLimitRow,
  writeTenantStorageLimits,
  type ControlDb,
} from "../control-db.server.ts";
import { ApiError } from "../errors.server.ts";
import { TRIAL_PLAN } from "./quota.server.ts";

export interface StorageLimits {
  maxDocuments: number | null;
  maxChunks: number | null;
  maxTextBytes: number | null;
}

export interface StorageQuota extends StorageLimits, StorageUsage {}

/** 413: the tenant's stored knowledge is at its plan's quota. */
export class StorageQuotaError extends ApiError {
  override readonly status = 413;
  constructor(message: string) {
    super("quota_exceeded", message);
  }
}

export function initialStorageLimits(
  config: Pick<Config, "TRIAL_MAX_DOCUMENTS" | "TRIAL_MAX_CHUNKS" | "TRIAL_MAX_TEXT_BYTES">,
  plan: string,
): StorageLimits {
  return plan === TRIAL_PLAN
    ? {
        maxDocuments: config.TRIAL_MAX_DOCUMENTS,
        maxChunks: config.TRIAL_MAX_CHUNKS,
        maxTextBytes: config.TRIAL_MAX_TEXT_BYTES,
      }
    : { maxDocuments: null, maxChunks: null, maxTextBytes: null };
}

export function setStorageLimits(control: ControlDb, id: TenantId, limits: StorageLimits): void {
  writeTenantStorageLimits(control, id, [
    limits.maxDocuments,
    limits.maxChunks,
    limits.maxTextBytes,
  ]);
}

export function storageLimits(control: ControlDb, id: TenantId): StorageLimits {
  const row = tenantStorageLimitRow(control, id);
  // Callers have resolved the tenant already; one the registry has not got (a test's bare
  // tenant file) has no quota.
  if (!row) return { maxDocuments: null, maxChunks: null, maxTextBytes: null };
  return {
    maxDocuments: row.max_documents,
    maxChunks: row.max_chunks,
    maxTextBytes: row.max_text_bytes,
  };
}

export function storageQuota(control: ControlDb, db: TenantDb, id: TenantId): StorageQuota {
  return { ...storageLimits(control, id), ...storageUsage(db) };
}

const count = (n: number) => n.toLocaleString("en-US");

/**
 * Throws StorageQuotaError unless `adding` more documents (jobs counted as documents to be)
 * and, where given, `chunks` and `textBytes` more fit under the quotas.
 */
export function assertStorageRoom(
  quota: StorageQuota,
  adding: { documents?: number; chunks?: number; textBytes?: number; countPending?: boolean },
): void {
  const documents =
    quota.documents +
    (adding.countPending === false ? 0 : quota.pendingJobs) +
    (adding.documents ?? 0);
  if (quota.maxDocuments !== null && documents > quota.maxDocuments) {
    throw new StorageQuotaError(
      `This knowledge base is at its plan's quota of ${count(quota.maxDocuments)} documents.`,
    );
  }
  if (quota.maxChunks !== null && quota.chunks + (adding.chunks ?? 0) > quota.maxChunks) {
    throw new StorageQuotaError(
      `This knowledge base is at its plan's quota of ${count(quota.maxChunks)} chunks.`,
    );
  }
  if (
    quota.maxTextBytes !== null &&
    quota.textBytes + (adding.textBytes ?? 0) > quota.maxTextBytes
  ) {
    throw new StorageQuotaError(
      `This knowledge base is at its plan's quota of ${count(quota.maxTextBytes)} bytes of text.`,
    );
  }
  // At the chunk or byte quota exactly, nothing more fits either.
  if (
    (adding.documents ?? 0) > 0 &&
    ((quota.maxChunks !== null && quota.chunks >= quota.maxChunks) ||
      (quota.maxTextBytes !== null && quota.textBytes >= quota.maxTextBytes))
  ) {
    throw new StorageQuotaError(
      quota.maxChunks !== null && quota.chunks >= quota.maxChunks
        ? `This knowledge base is at its plan's quota of ${count(quota.maxChunks)} chunks.`
        : `This knowledge base is at its plan's quota of ${count(quota.maxTextBytes ?? 0)} bytes of text.`,
    );
  }
}
