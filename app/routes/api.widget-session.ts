// POST /api/widget/:tenantId/session { key } — a new visitor session for the widget: a signed
// token (valid VISITOR_SESSION_TTL_SECONDS) naming a new conversation, which the widget sends
// with every ask and rating. 201 { token, conversationId, expiresAt } (seconds since epoch).
// Same origin and key checks as the other widget calls; limited per client IP.
import { visitorSessionRequestSchema } from "#app/server/access/widget-requests.server.ts";
import {
  clientIp,
  type Cors,
  noCors,
  preflight,
  requireWidgetKey,
  widgetCors,
} from "#app/server/access/embed-guard.server.ts";
import { ApiError, errorResponse } from "#app/server/errors.server.ts";
import { assertServing } from "#app/server/tenancy/platform.server.ts";
import { enforceRateLimits } from "#app/server/limits/limits.server.ts";
import { readJson } from "#app/server/request.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";
import { requireTenant } from "#app/server/tenancy/tenants.server.ts";
import { issueVisitorSession, sessionSecret } from "#app/server/access/visitor-session.server.ts";
import type { Route } from "./+types/api.widget-session";

const METHODS = "POST, OPTIONS";

export async function loader({ request, params }: Route.LoaderArgs) {
  const runtime = await getRuntime();
  try {
    const tenant = requireTenant(runtime, params.tenantId);
    if (request.method === "OPTIONS") return preflight(runtime, request, METHODS, tenant.id);
    throw new ApiError("bad_request", "Use POST to start a session.");
  } catch (error) {
    return errorResponse(error, { ...noCors, Allow: METHODS });
  }
}

export async function action({ request, params, context }: Route.ActionArgs) {
  const runtime = await getRuntime();
  let cors: Cors = noCors;
  try {
    const tenant = requireTenant(runtime, params.tenantId);
    if (request.method === "OPTIONS") return preflight(runtime, request, METHODS, tenant.id);
    if (request.method !== "POST")
      throw new ApiError("bad_request", "Use POST to start a session.");
    cors = widgetCors(runtime, request, tenant.id, METHODS);
    assertServing(tenant, cors);
    const body = await readJson(request, visitorSessionRequestSchema, 1024);
    requireWidgetKey(runtime, tenant, body.key, cors);
    enforceRateLimits(runtime.config, [{ scope: "ip", id: clientIp(runtime, request, context) }]);
    const { token, session } = issueVisitorSession(
      sessionSecret(runtime.control),
      tenant.id,
      runtime.config.VISITOR_SESSION_TTL_SECONDS,
    );
    return Response.json(
      { token, conversationId: session.conversationId, expiresAt: session.expiresAt },
      { status: 201, headers: { ...cors, "Cache-Control": "no-store" } },
    );
  } catch (error) {
    return errorResponse(error, cors);
  }
}
