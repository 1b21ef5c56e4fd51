// GET /api/tenants/:tenantId/plan — the tenant's plan, token budget, trial end and the tokens
// used in the current period, and `storage`: its storage quotas beside what it stores
// (decision 043). PATCH { plan?, token_budget?, trial_ends_at?, max_documents?, max_chunks?,
// max_text_bytes? } — platform admins only (null: unlimited; trial_ends_at in ms since epoch,
// null: no end).
import { z } from "zod";
import { requireTenantAccess, assertSameOrigin } from "#app/server/access/auth.server.ts";
import { auditAdminAction } from "#app/server/audit/audit.server.ts";
import { ApiError, errorResponse } from "#app/server/errors.server.ts";
import type { TenantRecord } from "#app/server/control-db.server.ts";
import { setTenantQuota, tenantQuota } from "#app/server/limits/quota.server.ts";
import {
  setStorageLimits,
  storageLimits,
  storageQuota,
} from "#app/server/limits/storage-quota.server.ts";
import { noQuery, parseQuery, readJson } from "#app/server/request.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";
import { tenantDb } from "#app/server/tenancy/tenants.server.ts";
import type { Route } from "./+types/api.tenant-plan";

const patchSchema = z.strictObject({
  plan: z
    .string()
    .regex(/^[a-z][a-z0-9_-]{0,31}$/, "Plans are short lowercase names.")
    .optional(),
  token_budget: z.number().int().min(0).max(1e12).nullable().optional(),
  trial_ends_at: z.number().int().min(0).max(8.64e15).nullable().optional(),
  max_documents: z.number().int().min(0).max(1e12).nullable().optional(),
  max_chunks: z.number().int().min(0).max(1e12).nullable().optional(),
  max_text_bytes: z.number().int().min(0).max(1e15).nullable().optional(),
});

function planOf(runtime: Awaited<ReturnType<typeof getRuntime>>, tenant: TenantRecord) {
  const db = tenantDb(runtime, tenant);
  return {
    ...tenantQuota(runtime.control, db, tenant.id),
    storage: storageQuota(runtime.control, db, tenant.id),
  };
}

export async function loader({ request, params }: Route.LoaderArgs) {
  const runtime = await getRuntime();
  try {
    const { tenant } = await requireTenantAccess(runtime, request, params.tenantId);
    parseQuery(request, noQuery);
    return Response.json(planOf(runtime, tenant));
  } catch (error) {
    return errorResponse(error);
  }
}

export async function action({ request, params }: Route.ActionArgs) {
  const runtime = await getRuntime();
  try {
    if (request.method !== "PATCH") throw new ApiError("bad_request", "Use PATCH.");
    assertSameOrigin(runtime, request);
    const { tenant, admin } = await requireTenantAccess(runtime, request, params.tenantId);
    if (admin.role !== "platform") {
      throw new ApiError("forbidden", "Only platform admins change plans and budgets.");
    }
    const body = await readJson(request, patchSchema, 4 * 1024);
    const current = tenantQuota(runtime.control, tenantDb(runtime, tenant), tenant.id);
    setTenantQuota(runtime.control, tenant.id, {
      plan: body.plan,
      tokenBudget: body.token_budget === undefined ? current.tokenBudget : body.token_budget,
      trialEndsAt: body.trial_ends_at === undefined ? current.trialEndsAt : body.trial_ends_at,
    });
    const storage = storageLimits(runtime.control, tenant.id);
    setStorageLimits(runtime.control, tenant.id, {
      maxDocuments: body.max_documents === undefined ? storage.maxDocuments : body.max_documents,
      maxChunks: body.max_chunks === undefined ? storage.maxChunks : body.max_chunks,
      maxTextBytes: body.max_text_bytes === undefined ? storage.maxTextBytes : body.max_text_bytes,
    });
    auditAdminAction(runtime, tenant, admin, "plan.set", body);
    return Response.json(planOf(runtime, tenant));
  } catch (error) {
    return errorResponse(error);
  }
}
