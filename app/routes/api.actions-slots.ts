// GET /api/actions/slots?tenantId=…&date=YYYY-MM-DD&key=…&sessionToken=… — the free start
// times of a day in the tenant's booking calendar, for the widget's booking form (read-only;
// visitor auth as for /api/actions/confirm). → 200 `{date, slots: ["09:00", …]}`.
import { z } from "zod";
import { freeSlots, isCalendarDate } from "#app/server/actions/slots.server.ts";
import { getActionSettings } from "#app/server/actions/settings.server.ts";
import {
  clientIp,
  type Cors,
  noCors,
  preflight,
  requireVisitorConversation,
  requireWidgetKey,
  widgetCors,
} from "#app/server/access/embed-guard.server.ts";
import { ApiError, errorResponse } from "#app/server/errors.server.ts";
import { enforceRateLimits } from "#app/server/limits/limits.server.ts";
import { assertServing } from "#app/server/tenancy/platform.server.ts";
import { parseQuery } from "#app/server/request.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";
import { requireTenant, tenantDb } from "#app/server/tenancy/tenants.server.ts";
import type { Route } from "./+types/api.actions-slots";

const METHODS = "GET, OPTIONS";

const slotsQuery = z.strictObject({
  tenantId: z.string().max(64),
  key: z.string().max(100),
  sessionToken: z.string().max(200),
  date: z.string().refine(isCalendarDate, "Use a date like 2026-12-24."),
});

export async function loader({ request, context }: Route.LoaderArgs) {
  const runtime = await getRuntime();
  if (request.method === "OPTIONS") return preflight(runtime, request, METHODS);
  let cors: Cors = noCors;
  try {
    const query = parseQuery(request, slotsQuery);
    const tenant = requireTenant(runtime, query.tenantId);
    cors = widgetCors(runtime, request, tenant.id, METHODS);
    assertServing(tenant, cors);
    requireWidgetKey(runtime, tenant, query.key, cors);
    const conversationId = requireVisitorConversation(runtime, tenant, query.sessionToken, cors);
    enforceRateLimits(runtime.config, [
      { scope: "ip", id: clientIp(runtime, request, context) },
      { scope: "session", id: conversationId },
    ]);
    const db = tenantDb(runtime, tenant);
    const settings = getActionSettings(db);
    // Only the built-in calendar is known here; a webhook back-end keeps its own.
    const booking = settings.actions.book_appointment;
    const slots =
      booking.enabled && booking.backend === "builtin"
        ? freeSlots(db, settings, query.date).map((slot) => slot.time)
        : [];
    return Response.json(
      { date: query.date, slots },
      { headers: { ...cors, "Cache-Control": "no-store" } },
    );
  } catch (error) {
    return errorResponse(error, cors);
  }
}

export async function action({ request }: Route.ActionArgs) {
  const runtime = await getRuntime();
  if (request.method === "OPTIONS") return preflight(runtime, request, METHODS);
  return errorResponse(new ApiError("bad_request", "Use GET to list free slots."), {
    ...noCors,
    Allow: METHODS,
  });
}
