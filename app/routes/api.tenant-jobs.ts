// GET /api/tenants/:tenantId/jobs?limit=50 — ingestion jobs with their progress (admins of the
// tenant, or its secret key).
import { listJobs } from "#tenants/knowledge-base.ts";
import { requireTenantApiAccess } from "#app/server/access/api-access.server.ts";
import { errorResponse } from "#app/server/errors.server.ts";
import { jobsQuerySchema } from "#app/server/ingest/jobs-query.server.ts";
import { parseQuery } from "#app/server/request.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";
import { tenantDb } from "#app/server/tenancy/tenants.server.ts";
import type { Route } from "./+types/api.tenant-jobs";

export async function loader({ request, params }: Route.LoaderArgs) {
  const runtime = await getRuntime();
  try {
    const { tenant } = await requireTenantApiAccess(runtime, request, params.tenantId, {
      allowSecretKey: true,
    });
    const query = parseQuery(request, jobsQuerySchema);
    return Response.json({ jobs: listJobs(tenantDb(runtime, tenant), { limit: query.limit }) });
  } catch (error) {
    return errorResponse(error);
  }
}
