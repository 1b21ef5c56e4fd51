// GET /api/tenants — the tenants the signed-in admin manages.
// POST /api/tenants { name } — a platform admin creates a tenant (201).
import { z } from "zod";
import { assertSameOrigin, requireAdmin } from "#app/server/access/auth.server.ts";
import { listTenants } from "#app/server/control-db.server.ts";
import { ApiError, errorResponse } from "#app/server/errors.server.ts";
import { auditAdminAction } from "#app/server/audit/audit.server.ts";
import { noQuery, parseQuery, readJson } from "#app/server/request.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";
import { createTenant } from "#app/server/tenancy/tenants.server.ts";
import type { Route } from "./+types/api.tenants";

const createTenantSchema = z.strictObject({ name: z.string().trim().min(1).max(100) });

export async function loader({ request }: Route.LoaderArgs) {
  const runtime = await getRuntime();
  try {
    const admin = await requireAdmin(runtime, request);
    parseQuery(request, noQuery);
    const tenants = listTenants(runtime.control, admin.role === "platform" ? undefined : admin.id);
    return Response.json({ tenants });
  } catch (error) {
    return errorResponse(error);
  }
}

export async function action({ request }: Route.ActionArgs) {
  const runtime = await getRuntime();
  try {
    if (request.method !== "POST")
      throw new ApiError("bad_request", "Use POST to create a tenant.");
    assertSameOrigin(runtime, request);
    const admin = await requireAdmin(runtime, request);
    if (admin.role !== "platform") {
      throw new ApiError("forbidden", "Only platform admins create tenants.");
    }
    const body = await readJson(request, createTenantSchema);
    const tenant = createTenant(runtime, { name: body.name });
    runtime.logger.info({ tenantId: tenant.id, adminId: admin.id }, "tenant created");
    auditAdminAction(runtime, tenant, admin, "tenant.create", { name: body.name });
    return Response.json({ tenant }, { status: 201 });
  } catch (error) {
    return errorResponse(error);
  }
}
