// GET /api/tenants/:tenantId/documents — the tenant's documents.
// POST — add knowledge: multipart `file` fields (one job per file), or JSON
// { type: "text", title, text } / { type: "url", url, title? }. Answers 202 with the job ids.
import { listDocuments } from "#tenants/knowledge-base.ts";
import { assertSameOrigin, requireTenantAccess } from "#app/server/auth.server.ts";
import { ApiError, errorResponse } from "#app/server/errors.server.ts";
import {
  intakeFormFiles,
  intakeText,
  intakeUrl,
  jsonIntakeSchema,
} from "#app/server/ingest/intake.server.ts";
import { readFormData, readJson, requireMediaType } from "#app/server/request.server.ts";
import { getRuntime } from "#app/server/runtime.server.ts";
import { tenantDb } from "#app/server/tenants.server.ts";
import type { Route } from "./+types/api.tenant-documents";

/** Room for a few files at the size limit in one multipart request. */
const MAX_FILES_PER_REQUEST = 10;

export async function loader({ request, params }: Route.LoaderArgs) {
  try {
    const { tenant } = await requireTenantAccess(request, params.tenantId);
    const runtime = await getRuntime();
    return Response.json({ documents: listDocuments(tenantDb(runtime, tenant)) });
  } catch (error) {
    return errorResponse(error);
  }
}

export async function action({ request, params }: Route.ActionArgs) {
  try {
    if (request.method !== "POST") throw new ApiError("bad_request", "Use POST to add knowledge.");
    assertSameOrigin(request);
    const { tenant } = await requireTenantAccess(request, params.tenantId);
    const runtime = await getRuntime();
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
    return Response.json({ jobs: jobIds.map((id) => ({ id })) }, { status: 202 });
  } catch (error) {
    return errorResponse(error);
  }
}
