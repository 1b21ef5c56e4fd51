// GET /api/widget/:tenantId/config?key=pk_… — the public settings the embeddable widget needs
// before it draws its launcher (title, greeting, colour, position, starter questions, voice
// greeting, language). Refused (403, no CORS) for a wrong key or an origin the tenant does
// not allow; cacheable per origin. An unknown tenant is a 404.
import { widgetConfigQuerySchema } from "#app/server/access/widget-requests.server.ts";
import {
  type Cors,
  noCors,
  preflight,
  requireWidgetKey,
  widgetCors,
} from "#app/server/access/embed-guard.server.ts";
import { errorResponse } from "#app/server/errors.server.ts";
import { assertServing } from "#app/server/tenancy/platform.server.ts";
import { parseQuery } from "#app/server/request.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";
import { requireTenant } from "#app/server/tenancy/tenants.server.ts";
import { getWidgetSettings } from "#app/server/widget-config/settings.server.ts";
import type { Route } from "./+types/api.widget-config";

const METHODS = "GET, OPTIONS";

// React Router hands OPTIONS requests to the loader too.
export async function loader({ request, params }: Route.LoaderArgs) {
  const runtime = await getRuntime();
  let cors: Cors = noCors;
  try {
    const tenant = requireTenant(runtime, params.tenantId);
    if (request.method === "OPTIONS") return preflight(runtime, request, METHODS, tenant.id);
    cors = widgetCors(runtime, request, tenant.id, METHODS);
    assertServing(tenant, cors);
    const query = parseQuery(request, widgetConfigQuerySchema);
    requireWidgetKey(runtime, tenant, query.key, cors);
    return Response.json(getWidgetSettings(runtime, tenant), {
      headers: { ...cors, "Cache-Control": "public, max-age=60" },
    });
  } catch (error) {
    return errorResponse(error, cors);
  }
}
