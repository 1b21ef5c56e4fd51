// GET /api/tenants/:tenantId/crawls/:crawlId — one crawl's progress: pages found, fetched and
// indexed, failures with their reasons. PATCH { recrawl } — its re-crawl schedule.
// DELETE — cancels it while it runs (pages already fetched are still indexed); 204.
// Admins of the tenant, or a server with the tenant's secret key (Authorization: Bearer).
import { z } from "zod";
import { requireTenantApiAccess } from "#app/server/access/api-access.server.ts";
import { auditAdminAction } from "#app/server/audit/audit.server.ts";
import { ApiError, errorResponse } from "#app/server/errors.server.ts";
import {
  cancelCrawl,
  crawlPatchSchema,
  getCrawl,
  scheduleRecrawl,
} from "#app/server/ingest/crawl.server.ts";
import { noQuery, parseQuery, readJson } from "#app/server/request.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";
import { tenantDb } from "#app/server/tenancy/tenants.server.ts";
import type { Route } from "./+types/api.tenant-crawl";

const crawlIdSchema = z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER);

function parseCrawlId(raw: string): number {
  const parsed = crawlIdSchema.safeParse(raw);
  if (!parsed.success) throw new ApiError("not_found", "No such crawl.");
  return parsed.data;
}

export async function loader({ request, params }: Route.LoaderArgs) {
  const runtime = await getRuntime();
  try {
    const { tenant } = await requireTenantApiAccess(runtime, request, params.tenantId, {
      allowSecretKey: true,
    });
    parseQuery(request, noQuery);
    const crawl = getCrawl(tenantDb(runtime, tenant), parseCrawlId(params.crawlId));
    if (!crawl) throw new ApiError("not_found", "No such crawl.");
    return Response.json({ crawl });
  } catch (error) {
    return errorResponse(error);
  }
}

export async function action({ request, params }: Route.ActionArgs) {
  const runtime = await getRuntime();
  try {
    const method = request.method.toUpperCase();
    if (method !== "DELETE" && method !== "PATCH") {
      throw new ApiError("bad_request", "Use PATCH to change a crawl, DELETE to cancel it.");
    }
    const { tenant, actor } = await requireTenantApiAccess(runtime, request, params.tenantId, {
      allowSecretKey: true,
    });
    parseQuery(request, noQuery);
    const db = tenantDb(runtime, tenant);
    const id = parseCrawlId(params.crawlId);
    const crawl = getCrawl(db, id);
    if (!crawl) throw new ApiError("not_found", "No such crawl.");
    if (method === "PATCH") {
      const { recrawl } = await readJson(request, crawlPatchSchema);
      scheduleRecrawl(runtime, tenant.id, id, recrawl);
      auditAdminAction(runtime, tenant, actor, "crawl.schedule", { crawlId: id, recrawl });
      return Response.json({ crawl: getCrawl(db, id) });
    }
    if (!cancelCrawl(db, id)) {
      throw new ApiError(
        "conflict",
        crawl.state === "running"
          ? "Every page has been fetched already; the last ones are being indexed."
          : `The crawl is ${crawl.state} already; nothing to cancel.`,
      );
    }
    auditAdminAction(runtime, tenant, actor, "crawl.cancel", { crawlId: id });
    return new Response(null, { status: 204 });
  } catch (error) {
    return errorResponse(error);
  }
}
