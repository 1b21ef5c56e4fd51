// GET /api/tenants/:tenantId/jobs?limit=50 — ingestion jobs with their progress (admins of the
// tenant, or its secret key).
import { z } from "zod";
import { listJobs } from "#tenants/knowledge-base.ts";
import { requireTenantApiAccess } from "#app/server/access/api-access.server.ts";
import { errorResponse } from "#app/server/errors.server.ts";
import { parseQuery } from "#app/server/request.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";
import { tenantDb } from "#app/server/tenancy/tenants.server.ts";
import type { Route } from "./+types/api.tenant-jobs";

const querySchema = z.strictObject({ limit: z.coerce.number().int().min(1).max(500).default(50) });

export async function loader({ request, params }: Route.LoaderArgs) {
  const runtime = await getRuntime();
  try {
    const { tenant } = await requireTenantApiAccess(runtime, request, params.tenantId, {
      allowSecretKey: true,
    });
    const query = parseQuery(request, querySchema);
    return Response.json({ jobs: listJobs(tenantDb(runtime, tenant), { limit: query.limit }) });
  } catch (error) {
    return errorResponse(error);
  }
}
