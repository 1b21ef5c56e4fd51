// What a platform admin does to tenants besides creating, exporting and erasing them:
// suspend and resume (a suspended tenant's assistant answers nobody, while its admins keep
// managing it), extend a trial, and the overview of every tenant with its plan, status, trial
// end and usage. Each change is recorded in the platform audit and in the tenant's own log.
import type { AdminRecord, TenantRecord } from "../control-db.server.ts";
import {
  getTenant,
  listTenants,
  recordPlatformAudit,
  writeTenantStatus,
} from "../control-db.server.ts";
import { auditAdminAction } from "../audit/audit.server.ts";
import { ApiError } from "../errors.server.ts";
import { setTenantQuota, tenantQuota, type TenantQuota } from "../limits/quota.server.ts";
import type { Runtime } from "../runtime/runtime.server.ts";
import { tenantDb } from "./tenants.server.ts";

type Parts = Pick<Runtime, "control" | "tenants" | "logger">;
export type TenantStatus = TenantRecord["status"];

const DAY_MS = 24 * 3_600_000;

/**
 * Refuses to serve a suspended tenant's visitors, widget or API keys (its admins still manage
 * it). `headers`: the CORS grant, so the widget can read why.
 */
export function assertServing(tenant: TenantRecord, headers: Record<string, string> = {}): void {
  if (tenant.status === "suspended") {
    throw new ApiError(
      "suspended",
      "This assistant is paused by its operator. Try again later.",
      headers,
    );
  }
}

function requirePlatformAdmin(admin: Pick<AdminRecord, "role">): void {
  if (admin.role !== "platform") {
    throw new ApiError("forbidden", "Only platform admins suspend, resume or extend tenants.");
  }
}

export function setTenantStatus(
  runtime: Parts,
  tenant: TenantRecord,
  admin: Pick<AdminRecord, "id" | "email" | "role">,
  status: TenantStatus,
): TenantRecord {
  requirePlatformAdmin(admin);
  if (tenant.status !== status) {
    writeTenantStatus(runtime.control, tenant.id, status);
    const action = status === "suspended" ? "tenant.suspend" : "tenant.resume";
    recordPlatformAudit(runtime.control, {
      actor: `admin:${admin.id}`,
      action,
      tenantId: tenant.id,
    });
    auditAdminAction(runtime, tenant, admin, action);
    runtime.logger.info(
      { tenantId: tenant.id, adminId: admin.id, status },
      "tenant status changed",
    );
  }
  return getTenant(runtime.control, tenant.id) as TenantRecord;
}

/** Moves the trial's end `days` later (from now, when it has already ended). */
export function extendTrial(
  runtime: Parts,
  tenant: TenantRecord,
  admin: Pick<AdminRecord, "id" | "email" | "role">,
  days: number,
  now = Date.now(),
): TenantQuota {
  requirePlatformAdmin(admin);
  if (!Number.isInteger(days) || days < 1 || days > 365) {
    throw new ApiError("bad_request", "Extend a trial by 1 to 365 days.");
  }
  const quota = tenantQuota(runtime.control, tenantDb(runtime, tenant), tenant.id, now);
  const from = Math.max(now, quota.trialEndsAt ?? now);
  const trialEndsAt = from + days * DAY_MS;
  setTenantQuota(runtime.control, tenant.id, { tokenBudget: quota.tokenBudget, trialEndsAt });
  recordPlatformAudit(runtime.control, {
    actor: `admin:${admin.id}`,
    action: "tenant.extend_trial",
    tenantId: tenant.id,
    detail: { days, trialEndsAt },
  });
  auditAdminAction(runtime, tenant, admin, "trial.extend", { days, trialEndsAt });
  return tenantQuota(runtime.control, tenantDb(runtime, tenant), tenant.id, now);
}

export interface TenantOverview {
  id: string;
  name: string;
  plan: string;
  status: TenantStatus;
  createdAt: number;
  trialEndsAt: number | null;
  tokenBudget: number | null;
  usedTokens: number;
}

/** The tenants an admin sees (a platform admin: all), with plan, status, trial end and usage. */
export function tenantOverview(runtime: Parts, adminId?: number): TenantOverview[] {
  return listTenants(runtime.control, adminId).map((tenant) => {
    const quota = tenantQuota(runtime.control, tenantDb(runtime, tenant), tenant.id);
    return {
      id: tenant.id,
      name: tenant.name,
      plan: tenant.plan,
      status: tenant.status,
      createdAt: tenant.createdAt,
      trialEndsAt: quota.trialEndsAt,
      tokenBudget: quota.tokenBudget,
      usedTokens: quota.usedTokens,
    };
  });
}
