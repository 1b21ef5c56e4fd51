// GET /api/tenants/:tenantId/documents/:documentId — one document.
// DELETE — removes it from the keyword and vector indexes (204).
// Admins of the tenant, or a server with the tenant's secret key (Authorization: Bearer).
import { z } from "zod";
import { deleteDocument, getDocument } from "#tenants/knowledge-base.ts";
import { requireTenantApiAccess } from "#app/server/access/api-access.server.ts";
import { auditAdminAction } from "#app/server/audit/audit.server.ts";
import { ApiError, errorResponse } from "#app/server/errors.server.ts";
import { noQuery, parseQuery } from "#app/server/request.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";
import { tenantDb } from "#app/server/tenancy/tenants.server.ts";
import type { Route } from "./+types/api.tenant-document";

const documentId = z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER);

function parseDocumentId(raw: string): number {
  const parsed = documentId.safeParse(raw);
  if (!parsed.success) throw new ApiError("not_found", "No such document.");
  return parsed.data;
}

export async function loader({ request, params }: Route.LoaderArgs) {
  const runtime = await getRuntime();
  try {
    const { tenant } = await requireTenantApiAccess(runtime, request, params.tenantId, {
      allowSecretKey: true,
    });
    parseQuery(request, noQuery);
    const document = getDocument(tenantDb(runtime, tenant), parseDocumentId(params.documentId));
    if (!document) throw new ApiError("not_found", "No such document.");
    return Response.json({ document });
  } catch (error) {
    return errorResponse(error);
  }
}

export async function action({ request, params }: Route.ActionArgs) {
  const runtime = await getRuntime();
  try {
    if (request.method !== "DELETE") throw new ApiError("bad_request", "Use DELETE.");
    const { tenant, actor } = await requireTenantApiAccess(runtime, request, params.tenantId, {
      allowSecretKey: true,
    });
    parseQuery(request, noQuery);
    const id = parseDocumentId(params.documentId);
    if (!deleteDocument(tenantDb(runtime, tenant), id)) {
      throw new ApiError("not_found", "No such document.");
    }
    runtime.logger.info({ tenantId: tenant.id, documentId: id }, "document deleted");
    runtime.calibration.schedule(tenant.id);
    auditAdminAction(runtime, tenant, actor, "document.delete", { documentId: id });
    return new Response(null, { status: 204 });
  } catch (error) {
    return errorResponse(error);
  }
}
