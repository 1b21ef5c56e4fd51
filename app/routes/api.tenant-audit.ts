// GET /api/tenants/:tenantId/audit?format=json|csv&kind=ask|admin&limit=1000&before=<id> —
// the tenant's audit log, newest first, as JSON ({ entries, next }) or as a CSV download.
// Admins of the tenant only.
import { z } from "zod";
import { auditToCsv, listAudit } from "#tenants/audit.ts";
import { requireTenantAccess } from "#app/server/access/auth.server.ts";
import { errorResponse } from "#app/server/errors.server.ts";
import { parseQuery } from "#app/server/request.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";
import { tenantDb } from "#app/server/tenancy/tenants.server.ts";
import type { Route } from "./+types/api.tenant-audit";

const querySchema = z.strictObject({
  format: z.enum(["json", "csv"]).default("json"),
  kind: z.enum(["ask", "admin"]).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).default(1000),
  before: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
});

export async function loader({ request, params }: Route.LoaderArgs) {
  const runtime = await getRuntime();
  try {
    const { tenant } = await requireTenantAccess(runtime, request, params.tenantId);
    const query = parseQuery(request, querySchema);
    const entries = listAudit(tenantDb(runtime, tenant), query);
    const next = entries.length === query.limit ? (entries.at(-1)?.id ?? null) : null;
    if (query.format === "csv") {
      return new Response(auditToCsv(entries), {
        headers: {
          "Content-Type": "text/csv; charset=utf-8",
          "Content-Disposition": `attachment; filename="audit-${tenant.id}.csv"`,
          "Cache-Control": "no-store",
        },
      });
    }
    return Response.json({ entries, next }, { headers: { "Cache-Control": "no-store" } });
  } catch (error) {
    return errorResponse(error);
  }
}
