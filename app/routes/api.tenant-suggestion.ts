// POST /api/tenants/:tenantId/suggestions/:suggestionId { decision: "accept" | "reject" } —
// the admin's decision on an action the knowledge-base check proposed. Accepting switches the
// action on (or, for an action that needs a webhook, says so): 200 { suggestion, message }.
// A suggestion already decided: 409 conflict. Admins of the tenant only (no API keys).
import { z } from "zod";
import { requireTenantApiAccess } from "#app/server/access/api-access.server.ts";
import { ApiError, errorResponse } from "#app/server/errors.server.ts";
import { decide } from "#app/server/kb-check/api.server.ts";
import { readJson } from "#app/server/request.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";
import type { Route } from "./+types/api.tenant-suggestion";

const decisionSchema = z.strictObject({ decision: z.enum(["accept", "reject"]) });
const idSchema = z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER);

export async function loader() {
  return errorResponse(new ApiError("method_not_allowed", "Use POST."));
}

export async function action({ request, params }: Route.ActionArgs) {
  const runtime = await getRuntime();
  try {
    if (request.method !== "POST") throw new ApiError("method_not_allowed", "Use POST.");
    const { tenant, actor } = await requireTenantApiAccess(runtime, request, params.tenantId, {
      allowSecretKey: false,
    });
    const id = idSchema.safeParse(params.suggestionId);
    if (!id.success) throw new ApiError("not_found", "No such suggestion.");
    const { decision } = await readJson(request, decisionSchema);
    return Response.json(decide(runtime, tenant, actor, id.data, decision));
  } catch (error) {
    return errorResponse(error);
  }
}
