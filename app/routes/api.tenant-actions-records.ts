// GET /api/tenants/:tenantId/actions/records?kind=appointment|lead|handoff&status=open|done
// — what the built-in back-ends recorded, newest first (`{records}`); `format=csv` downloads
// every record of the kind as CSV instead. Admins of the tenant only.
import { z } from "zod";
import {
  actionRecordsCsv,
  listActionRecords,
  RECORD_KINDS,
  RECORD_STATUSES,
} from "#app/server/actions/records.server.ts";
import { requireTenantApiAccess } from "#app/server/access/api-access.server.ts";
import { errorResponse } from "#app/server/errors.server.ts";
import { parseQuery } from "#app/server/request.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";
import { tenantDb } from "#app/server/tenancy/tenants.server.ts";
import type { Route } from "./+types/api.tenant-actions-records";

const querySchema = z.strictObject({
  kind: z.enum(RECORD_KINDS),
  status: z.enum(RECORD_STATUSES).optional(),
  format: z.enum(["json", "csv"]).default("json"),
});

export async function loader({ request, params }: Route.LoaderArgs) {
  const runtime = await getRuntime();
  try {
    const { tenant } = await requireTenantApiAccess(runtime, request, params.tenantId, {
      allowSecretKey: false,
    });
    const query = parseQuery(request, querySchema);
    const db = tenantDb(await getRuntime(), tenant);
    if (query.format === "csv") {
      return new Response(actionRecordsCsv(db, query.kind), {
        headers: {
          "Content-Type": "text/csv; charset=utf-8",
          "Content-Disposition": `attachment; filename="${query.kind}s.csv"`,
          "Cache-Control": "no-store",
        },
      });
    }
    return Response.json(
      { records: listActionRecords(db, query.kind, { status: query.status }) },
      { headers: { "Cache-Control": "no-store" } },
    );
  } catch (error) {
    return errorResponse(error);
  }
}
