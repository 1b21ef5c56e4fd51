// GET /api/widget/:tenantId/config — the public settings the embeddable widget needs before it
// draws its launcher (title, greeting, colour, position, starter questions, voice greeting,
// language). Public and cacheable; an unknown tenant is a 404.
import { errorResponse } from "#app/server/errors.server.ts";
import { publicCorsHeaders } from "#app/server/request.server.ts";
import { getRuntime } from "#app/server/runtime.server.ts";
import { requireTenant } from "#app/server/tenants.server.ts";
import { getWidgetSettings } from "#app/server/widget-settings.server.ts";
import type { Route } from "./+types/api.widget-config";

const corsHeaders = { ...publicCorsHeaders, "Access-Control-Allow-Methods": "GET, OPTIONS" };

// React Router hands OPTIONS requests to the loader too.
export async function loader({ request, params }: Route.LoaderArgs) {
  if (request.method === "OPTIONS")
    return new Response(null, { status: 204, headers: corsHeaders });
  try {
    const runtime = await getRuntime();
    const tenant = requireTenant(runtime, params.tenantId);
    return Response.json(getWidgetSettings(runtime, tenant), {
      headers: { ...corsHeaders, "Cache-Control": "public, max-age=60" },
    });
  } catch (error) {
    return errorResponse(error, corsHeaders);
  }
}
