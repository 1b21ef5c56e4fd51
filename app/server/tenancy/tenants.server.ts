// The one place that turns a tenant id from outside into a tenant: validated, registered,
// and only then opened. Fails closed: an invalid or unknown id is a 404 before any file is
// touched. Also creates tenants and queues their ingestion jobs.
import { isTenantId, newTenantId, type TenantId } from "#tenants/id.ts";
import { tenantFilePath, type TenantDb } from "#tenants/store.ts";
import fs from "node:fs";
import {
  getTenant,
  insertTenant,
  setTenantPendingJobs,
  type TenantRecord,
} from "../control-db.server.ts";
import { ApiError } from "../errors.server.ts";
import { setRequestTenant } from "../request-context.server.ts";
import { rotateWidgetKey } from "../access/keys.server.ts";
import { initialQuota, setTenantQuota } from "../limits/quota.server.ts";
import { initialStorageLimits, setStorageLimits } from "../limits/storage-quota.server.ts";
import type { IngestQueue } from "../ingest/queue.server.ts";
import type { CoreParts } from "../parts.server.ts";

type RuntimeParts = Pick<CoreParts, "control" | "tenants" | "config"> & { queue: IngestQueue };

/** The registered, active tenant with this id, or a 404 ApiError. */
export function requireTenant(runtime: Pick<CoreParts, "control">, rawId: unknown): TenantRecord {
  const tenant = isTenantId(rawId) ? getTenant(runtime.control, rawId) : undefined;
  if (!tenant) throw new ApiError("not_found", "No such tenant.");
  setRequestTenant(tenant.id);
  return tenant;
}

/** The open database of a tenant that requireTenant accepted. */
export function tenantDb(runtime: Pick<CoreParts, "tenants">, tenant: TenantRecord): TenantDb {
  return runtime.tenants.get(tenant.id);
}

export function createTenant(
  runtime: Pick<CoreParts, "control" | "tenants" | "config">,
  input: { name: string; id?: TenantId; plan?: string },
): TenantRecord {
  const id = input.id ?? newTenantId();
  if (!isTenantId(id)) throw new ApiError("bad_request", "Invalid tenant id.");
  if (getTenant(runtime.control, id)) throw new ApiError("conflict", "That tenant already exists.");
  runtime.tenants.create(id);
  try {
    return runtime.control.transaction(() => {
      const tenant = insertTenant(runtime.control, { id, name: input.name, plan: input.plan });
      // A new tenant's widget key and, on the trial plan, its token budget and end date.
      setTenantQuota(runtime.control, id, initialQuota(runtime.config, tenant.plan));
      setStorageLimits(runtime.control, id, initialStorageLimits(runtime.config, tenant.plan));
      rotateWidgetKey(runtime.control, id);
      return tenant;
    })();
  } catch (error) {
    runtime.tenants.evict(id);
    fs.rmSync(tenantFilePath(runtime.config.dataDir, id), { force: true });
    throw error;
  }
}

export type IngestInput = Parameters<IngestQueue["enqueue"]>[1];

export function enqueueIngest(runtime: RuntimeParts, id: TenantId, input: IngestInput): number {
  setTenantPendingJobs(runtime.control, id, true);
  return runtime.queue.enqueue(id, input);
}

type ErasureHook = (tenantId: TenantId) => void;
export const erasureHooks = new Set<ErasureHook>();

/**
 * Registers work that must also forget an erased tenant, beyond its database file, registry
 * rows, admin links, cached handles, caches and backups (which eraseTenant handles itself).
 * The replica outbox (usage, audit and conversations queued for the primary) registers the
 * deletion of the tenant's queued entries here. Returns the unregister function.
 */
export function onTenantErased(hook: ErasureHook): () => void {
  erasureHooks.add(hook);
  return () => erasureHooks.delete(hook);
}
