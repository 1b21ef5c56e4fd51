// Token quotas per tenant plan. A trial has a token budget for its whole length and an end
// date; other plans may have a monthly budget (NULL: none). Checked before the answer is
// generated; charged afterwards with the real usage, which the ask pipeline records in the
// tenant's usage_daily (so the check reads the same numbers the usage page shows).
import type { TenantId } from "#tenants/id.ts";
import type { TenantDb } from "#tenants/store.ts";
import { tokensUsedSince } from "#tenants/usage.ts";
import type { Config } from "../config.server.ts";
import { tenantQuotaRow, updateTenantQuota, type ControlDb } from "../control-db.server.ts";
import { ApiError } from "../errors.server.ts";
import { onRateLimited } from "./limits.server.ts";

export const TRIAL_PLAN = "trial";
/** The demo tenant's plan: no budget, no end (it answers from BiTB's own docs). */
export const DEMO_PLAN = "demo";
const DAY_MS = 24 * 60 * 60 * 1000;

export interface TenantQuota {
  plan: string;
  /** Prompt + completion tokens allowed in the period; null: unlimited. */
  tokenBudget: number | null;
  trialEndsAt: number | null;
  /** Start of the period the budget counts (ms). */
  periodStart: number;
  usedTokens: number;
}

/** The budget and end date a new tenant on `plan` starts with. */
export function initialQuota(
  config: Pick<Config, "TRIAL_DAYS" | "TRIAL_TOKEN_BUDGET">,
  plan: string,
  now = Date.now(),
): { tokenBudget: number | null; trialEndsAt: number | null } {
  return plan === TRIAL_PLAN
    ? { tokenBudget: config.TRIAL_TOKEN_BUDGET, trialEndsAt: now + config.TRIAL_DAYS * DAY_MS }
    : { tokenBudget: null, trialEndsAt: null };
}

export function setTenantQuota(
  control: ControlDb,
  tenantId: TenantId,
  quota: { plan?: string; tokenBudget: number | null; trialEndsAt: number | null },
): void {
  updateTenantQuota(control, tenantId, quota);
}

function periodStartOf(plan: string, createdAt: number, now: number): number {
  if (plan === TRIAL_PLAN) return createdAt;
  const date = new Date(now);
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1);
}

export function tenantQuota(
  control: ControlDb,
  db: TenantDb,
  tenantId: TenantId,
  now = Date.now(),
): TenantQuota {
  // Checked on every ask: both reads use statements prepared once per handle.
  const row = tenantQuotaRow(control, tenantId);
  if (!row) throw new ApiError("not_found", "No such tenant.");
  const periodStart = periodStartOf(row.plan, row.created_at, now);
  const usedTokens = tokensUsedSince(db, new Date(periodStart).toISOString().slice(0, 10));
  return {
    plan: row.plan,
    tokenBudget: row.token_budget,
    trialEndsAt: row.trial_ends_at,
    periodStart,
    usedTokens,
  };
}

/** Throws 429 `quota_exceeded` when the trial is over or the period's budget is spent. */
export function assertWithinQuota(quota: TenantQuota, now = Date.now()): void {
  if (quota.trialEndsAt !== null && quota.trialEndsAt <= now) {
    onRateLimited("quota");
    throw new ApiError("quota_exceeded", "This assistant's trial has ended.");
  }
  if (quota.tokenBudget !== null && quota.usedTokens >= quota.tokenBudget) {
    onRateLimited("quota");
    throw new ApiError("quota_exceeded", "This assistant has used its token budget for now.");
  }
}
