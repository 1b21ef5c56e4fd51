// GET /api/tenants/:tenantId — one tenant.
// PATCH { llm_model: string | null } — set or clear the tenant's LLM model override.
import { assertSameOrigin, requireTenantAccess } from "#app/server/auth.server.ts";
import { ApiError, errorResponse } from "#app/server/errors.server.ts";
import { readJson } from "#app/server/request.server.ts";
import { getRuntime } from "#app/server/runtime.server.ts";
import { tenantSettingsSchema, updateTenantModel } from "#app/server/tenant-settings.server.ts";
import type { Route } from "./+types/api.tenant";

export async function loader({ request, params }: Route.LoaderArgs) {
  try {
    const { tenant } = await requireTenantAccess(request, params.tenantId);
    return Response.json({ tenant });
  } catch (error) {
    return errorResponse(error);
  }
}

export async function action({ request, params }: Route.ActionArgs) {
  try {
    if (request.method !== "PATCH") throw new ApiError("bad_request", "Use PATCH.");
    assertSameOrigin(request);
    const { tenant, admin } = await requireTenantAccess(request, params.tenantId);
    const runtime = await getRuntime();
    const body = await readJson(request, tenantSettingsSchema);
    const updated = updateTenantModel(runtime, tenant, body.llm_model);
    runtime.logger.info(
      { tenantId: tenant.id, adminId: admin.id, llmModel: updated.llmModel },
      "tenant model changed",
    );
    return Response.json({ tenant: updated });
  } catch (error) {
    return errorResponse(error);
  }
}
