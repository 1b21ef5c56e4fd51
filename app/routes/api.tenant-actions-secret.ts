// POST /api/tenants/:tenantId/actions/secret — makes a new webhook signing secret (the old
// one stops verifying at once) and returns it this once: `{secret}`. Admins of the tenant only.
import { rotateWebhookSecret } from "#app/server/actions/settings.server.ts";
import { requireTenantApiAccess } from "#app/server/access/api-access.server.ts";
import { auditAdminAction } from "#app/server/audit/audit.server.ts";
import { ApiError, errorResponse } from "#app/server/errors.server.ts";
import { noQuery, parseQuery } from "#app/server/request.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";
import { tenantDb } from "#app/server/tenancy/tenants.server.ts";
import type { Route } from "./+types/api.tenant-actions-secret";

export async function loader() {
  return errorResponse(new ApiError("bad_request", "Use POST to make a new webhook secret."), {
    Allow: "POST",
  });
}

export async function action({ request, params }: Route.ActionArgs) {
  const runtime = await getRuntime();
  try {
    if (request.method !== "POST") throw new ApiError("bad_request", "Use POST.");
    const { tenant, actor } = await requireTenantApiAccess(runtime, request, params.tenantId, {
      allowSecretKey: false,
    });
    parseQuery(request, noQuery);
    const secret = rotateWebhookSecret(tenantDb(runtime, tenant));
    auditAdminAction(runtime, tenant, actor, "actions.webhook_secret.rotate");
    return Response.json({ secret }, { status: 201, headers: { "Cache-Control": "no-store" } });
  } catch (error) {
    return errorResponse(error);
  }
}
