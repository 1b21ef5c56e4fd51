// GET /api/tenants/:tenantId/documents — the tenant's documents.
// POST — add knowledge: multipart `file` fields (one job per file), or JSON
// { type: "text", title, text } / { type: "url", url, title? }. Answers 202 with the job ids.
// Admins of the tenant, or a server with the tenant's secret key (Authorization: Bearer).
import { listDocuments } from "#tenants/knowledge-base.ts";
import { requireTenantApiAccess } from "#app/server/access/api-access.server.ts";
import { auditAdminAction } from "#app/server/audit/audit.server.ts";
import { ApiError, errorResponse } from "#app/server/errors.server.ts";
import {
  intakeFormFiles,
  intakeText,
  intakeUrl,
  jsonIntakeSchema,
} from "#app/server/ingest/intake.server.ts";
import {
  noQuery,
  parseQuery,
  readFormData,
  readJson,
  requireMediaType,
} from "#app/server/request.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";
import { tenantDb } from "#app/server/tenancy/tenants.server.ts";
import type { Route } from "./+types/api.tenant-documents";

/** Room for a few files at the size limit in one multipart request. */
const MAX_FILES_PER_REQUEST = 10;

export async function loader({ request, params }: Route.LoaderArgs) {
  const runtime = await getRuntime();
  try {
    const { tenant } = await requireTenantApiAccess(runtime, request, params.tenantId, {
      allowSecretKey: true,
    });
    parseQuery(request, noQuery);
    return Response.json({ documents: listDocuments(tenantDb(runtime, tenant)) });
  } catch (error) {
    return errorResponse(error);
  }
}

export async function action({ request, params }: Route.ActionArgs) {
  const runtime = await getRuntime();
  try {
    if (request.method !== "POST") throw new ApiError("bad_request", "Use POST to add knowledge.");
    const { tenant, actor } = await requireTenantApiAccess(runtime, request, params.tenantId, {
      allowSecretKey: true,
    });
    parseQuery(request, noQuery);
    const type = requireMediaType(request, "application/json", "multipart/form-data");
    let jobIds: number[];
    if (type === "application/json") {
      const body = await readJson(request, jsonIntakeSchema, 3 * 1024 * 1024);
      jobIds = [
        body.type === "text" ? intakeText(runtime, tenant, body) : intakeUrl(runtime, tenant, body),
      ];
    } else {
      const form = await readFormData(
        request,
        runtime.config.MAX_UPLOAD_BYTES * MAX_FILES_PER_REQUEST + 64 * 1024,
      );
      const files = form.getAll("file").filter((f): f is File => typeof f !== "string");
      if (files.length > MAX_FILES_PER_REQUEST) {
        throw new ApiError("bad_request", `Upload at most ${MAX_FILES_PER_REQUEST} files at once.`);
      }
      jobIds = await intakeFormFiles(runtime, tenant, files);
    }
    auditAdminAction(runtime, tenant, actor, "documents.add", { jobs: jobIds });
    return Response.json({ jobs: jobIds.map((id) => ({ id })) }, { status: 202 });
  } catch (error) {
    return errorResponse(error);
  }
}
