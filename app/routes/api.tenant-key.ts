// DELETE /api/tenants/:tenantId/keys/:keyId — revokes one of the tenant's secret keys (204);
// it stops working at once. Another tenant's key id is a 404.
import { z } from "zod";
import { requireTenantApiAccess } from "#app/server/access/api-access.server.ts";
import { auditAdminAction } from "#app/server/audit/audit.server.ts";
import { ApiError, errorResponse } from "#app/server/errors.server.ts";
import { revokeSecretKey } from "#app/server/access/keys.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";
import type { Route } from "./+types/api.tenant-key";

const keyIdSchema = z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER);

export async function loader() {
  return errorResponse(new ApiError("bad_request", "Use DELETE to revoke a key."), {
    Allow: "DELETE",
  });
}

export async function action({ request, params }: Route.ActionArgs) {
  const runtime = await getRuntime();
  try {
    if (request.method !== "DELETE") throw new ApiError("bad_request", "Use DELETE.");
    const { tenant, actor } = await requireTenantApiAccess(runtime, request, params.tenantId, {
      allowSecretKey: false,
    });
    const keyId = keyIdSchema.safeParse(params.keyId);
    if (!keyId.success || !revokeSecretKey(runtime.control, tenant.id, keyId.data)) {
      throw new ApiError("not_found", "No such active key.");
    }
    auditAdminAction(runtime, tenant, actor, "api_key.revoke", { keyId: keyId.data });
    return new Response(null, { status: 204 });
  } catch (error) {
    return errorResponse(error);
  }
}
