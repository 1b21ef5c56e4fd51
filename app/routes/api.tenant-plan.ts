// GET /api/tenants/:tenantId/plan — the tenant's plan, token budget, trial end and the tokens
// used in the current period. PATCH { plan?, token_budget?, trial_ends_at? } — platform
// admins only (budget null: unlimited; trial_ends_at in ms since epoch, null: no end).
import { z } from "zod";
import { requireTenantAccess, assertSameOrigin } from "#app/server/access/auth.server.ts";
import { auditAdminAction } from "#app/server/audit/audit.server.ts";
import { ApiError, errorResponse } from "#app/server/errors.server.ts";
import { setTenantQuota, tenantQuota } from "#app/server/limits/quota.server.ts";
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
});

export async function loader({ request, params }: Route.LoaderArgs) {
  const runtime = await getRuntime();
  try {
    const { tenant } = await requireTenantAccess(runtime, request, params.tenantId);
    parseQuery(request, noQuery);
    return Response.json(tenantQuota(runtime.control, tenantDb(runtime, tenant), tenant.id));
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
    auditAdminAction(runtime, tenant, admin, "plan.set", body);
    return Response.json(tenantQuota(runtime.control, tenantDb(runtime, tenant), tenant.id));
  } catch (error) {
    return errorResponse(error);
  }
}
