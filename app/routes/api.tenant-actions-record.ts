// PATCH /api/tenants/:tenantId/actions/records/:recordId {kind, status} — marks an
// appointment, lead or hand-off ticket done (or open again). 404 when the tenant has no
// such record of that kind. Admins of the tenant only.
import { z } from "zod";
import {
  RECORD_KINDS,
  RECORD_STATUSES,
  setActionRecordStatus,
} from "#app/server/actions/records.server.ts";
import { requireTenantApiAccess } from "#app/server/access/api-access.server.ts";
import { auditAdminAction } from "#app/server/audit/audit.server.ts";
import { ApiError, errorResponse } from "#app/server/errors.server.ts";
import { readJson } from "#app/server/request.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";
import { tenantDb } from "#app/server/tenancy/tenants.server.ts";
import type { Route } from "./+types/api.tenant-actions-record";

const patchSchema = z.strictObject({
  kind: z.enum(RECORD_KINDS),
  status: z.enum(RECORD_STATUSES),
});

export async function loader() {
  return errorResponse(new ApiError("bad_request", "Use PATCH."), { Allow: "PATCH" });
}

export async function action({ request, params }: Route.ActionArgs) {
  const runtime = await getRuntime();
  try {
    if (request.method !== "PATCH") throw new ApiError("bad_request", "Use PATCH.");
    const { tenant, actor } = await requireTenantApiAccess(runtime, request, params.tenantId, {
      allowSecretKey: false,
    });
    const id = Number(params.recordId);
    const body = await readJson(request, patchSchema);
    const record = Number.isSafeInteger(id)
      ? setActionRecordStatus(tenantDb(runtime, tenant), body.kind, id, body.status)
      : null;
    if (!record) throw new ApiError("not_found", "No such record.");
    auditAdminAction(runtime, tenant, actor, "actions.record.status", {
      kind: body.kind,
      id,
      status: body.status,
    });
    return Response.json({ record });
  } catch (error) {
    return errorResponse(error);
  }
}
