// GET /api/tenants/:tenantId/unanswered?limit=50&since=<ms> — questions the assistant
// abstained on, identical ones counted together, most often asked first (`questions`), and
// the same grouped by similarity into content gaps (`gaps`: tenants/unanswered.ts).
import { z } from "zod";
import { groupUnanswered, listUnanswered } from "#tenants/unanswered.ts";
import { requireTenantAccess } from "#app/server/access/auth.server.ts";
import { errorResponse } from "#app/server/errors.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";
import { tenantDb } from "#app/server/tenancy/tenants.server.ts";
import type { Route } from "./+types/api.tenant-unanswered";

const querySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  since: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
});

export async function loader({ request, params }: Route.LoaderArgs) {
  const runtime = await getRuntime();
  try {
    const { tenant } = await requireTenantAccess(runtime, request, params.tenantId);
    const query = querySchema.parse(Object.fromEntries(new URL(request.url).searchParams));
    const questions = listUnanswered(tenantDb(runtime, tenant), query);
    return Response.json({ questions, gaps: groupUnanswered(questions) });
  } catch (error) {
    return errorResponse(error);
  }
}
