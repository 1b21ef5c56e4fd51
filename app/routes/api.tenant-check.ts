// GET /api/tenants/:tenantId/check — the latest knowledge-base check (running or finished),
// the last finished one, and the suggested actions (docs/decisions/032).
// POST { wait?: boolean } — runs the check again: 202 with the running check at once, or with
// `wait: true` 200 with the finished one. Admins of the tenant only (no API keys).
import { z } from "zod";
import { requireTenantApiAccess } from "#app/server/access/api-access.server.ts";
import { ApiError, errorResponse } from "#app/server/errors.server.ts";
import { checkOverview, startCheck } from "#app/server/kb-check/api.server.ts";
import { noQuery, parseQuery, readJson } from "#app/server/request.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";
import type { Route } from "./+types/api.tenant-check";

const runSchema = z.strictObject({ wait: z.boolean().optional() });

export async function loader({ request, params }: Route.LoaderArgs) {
  const runtime = await getRuntime();
  try {
    const { tenant } = await requireTenantApiAccess(runtime, request, params.tenantId, {
      allowSecretKey: false,
    });
    parseQuery(request, noQuery);
    return Response.json(checkOverview(runtime, tenant));
  } catch (error) {
    return errorResponse(error);
  }
}

export async function action({ request, params }: Route.ActionArgs) {
  const runtime = await getRuntime();
  try {
    if (request.method !== "POST") throw new ApiError("bad_request", "Use POST.");
    const { tenant, actor } = await requireTenantApiAccess(runtime, request, params.tenantId, {
      allowSecretKey: false,
    });
    const body = await readJson(request, runSchema);
    const check = await startCheck(runtime, tenant, actor, body.wait === true);
    return Response.json({ check }, { status: check.state === "running" ? 202 : 200 });
  } catch (error) {
    return errorResponse(error);
  }
}
