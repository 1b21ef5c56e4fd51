// GET /api/tenants/:tenantId/jobs?limit=50 — ingestion jobs with their progress.
import { z } from "zod";
import { listJobs } from "#tenants/knowledge-base.ts";
import { requireTenantAccess } from "#app/server/auth.server.ts";
import { errorResponse } from "#app/server/errors.server.ts";
import { getRuntime } from "#app/server/runtime.server.ts";
import { tenantDb } from "#app/server/tenants.server.ts";
import type { Route } from "./+types/api.tenant-jobs";

const querySchema = z.strictObject({ limit: z.coerce.number().int().min(1).max(500).default(50) });

export async function loader({ request, params }: Route.LoaderArgs) {
  try {
    const { tenant } = await requireTenantAccess(request, params.tenantId);
    const query = querySchema.parse(Object.fromEntries(new URL(request.url).searchParams));
    const runtime = await getRuntime();
    return Response.json({ jobs: listJobs(tenantDb(runtime, tenant), { limit: query.limit }) });
  } catch (error) {
    return errorResponse(error);
  }
}
