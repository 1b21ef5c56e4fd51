// GET /api/tenants/:tenantId/crawls — the tenant's website crawls with their progress.
// POST { url, maxPages?, maxDepth?, recrawl? } — crawls a website into the knowledge base
// (docs/decisions/029); answers 202 { crawlId }, then GET …/crawls/:crawlId shows progress.
// Admins of the tenant, or a server with the tenant's secret key (Authorization: Bearer).
import { requireTenantApiAccess } from "#app/server/access/api-access.server.ts";
import { auditAdminAction } from "#app/server/audit/audit.server.ts";
import { ApiError, errorResponse } from "#app/server/errors.server.ts";
import { crawlInputSchema, listCrawls, startCrawl } from "#app/server/ingest/crawl.server.ts";
import { noQuery, parseQuery, readJson } from "#app/server/request.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";
import { tenantDb } from "#app/server/tenancy/tenants.server.ts";
import type { Route } from "./+types/api.tenant-crawls";

export async function loader({ request, params }: Route.LoaderArgs) {
  const runtime = await getRuntime();
  try {
    const { tenant } = await requireTenantApiAccess(runtime, request, params.tenantId, {
      allowSecretKey: true,
    });
    parseQuery(request, noQuery);
    return Response.json({ crawls: listCrawls(tenantDb(runtime, tenant)) });
  } catch (error) {
    return errorResponse(error);
  }
}

export async function action({ request, params }: Route.ActionArgs) {
  const runtime = await getRuntime();
  try {
    if (request.method !== "POST") throw new ApiError("bad_request", "Use POST to start a crawl.");
    const { tenant, actor } = await requireTenantApiAccess(runtime, request, params.tenantId, {
      allowSecretKey: true,
    });
    parseQuery(request, noQuery);
    const body = await readJson(request, crawlInputSchema);
    const { crawlId } = await startCrawl(runtime, tenant.id, body);
    auditAdminAction(runtime, tenant, actor, "crawl.start", { crawlId });
    return Response.json({ crawlId }, { status: 202 });
  } catch (error) {
    return errorResponse(error);
  }
}
