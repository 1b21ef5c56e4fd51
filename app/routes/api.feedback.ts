// POST /api/feedback — a visitor's thumbs up or down on one answer of their own conversation,
// stored with the message. Public (the widget calls it cross-origin, without credentials):
// it carries the tenant's publishable key and the visitor's session token, which names the
// only conversation it may rate. 204 on success, 404 when that answer is not in it.
import {
  clientIp,
  type Cors,
  noCors,
  preflight,
  requireVisitorConversation,
  requireWidgetKey,
  widgetCors,
} from "#app/server/access/embed-guard.server.ts";
import { feedbackRequestSchema } from "#app/server/access/widget-requests.server.ts";
import { ApiError, errorResponse } from "#app/server/errors.server.ts";
import { assertServing } from "#app/server/tenancy/platform.server.ts";
import { enforceRateLimits } from "#app/server/limits/limits.server.ts";
import { readJson } from "#app/server/request.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";
import { recordFeedback } from "#app/server/replication/writes.server.ts";
import { requireTenant } from "#app/server/tenancy/tenants.server.ts";
import type { Route } from "./+types/api.feedback";

const METHODS = "POST, OPTIONS";

export async function loader({ request }: Route.LoaderArgs) {
  const runtime = await getRuntime();
  if (request.method === "OPTIONS") return preflight(runtime, request, METHODS);
  return errorResponse(new ApiError("bad_request", "Use POST to send feedback."), {
    ...noCors,
    Allow: METHODS,
  });
}

export async function action({ request, context }: Route.ActionArgs) {
  const runtime = await getRuntime();
  if (request.method === "OPTIONS") return preflight(runtime, request, METHODS);
  let cors: Cors = noCors;
  try {
    if (request.method !== "POST") throw new ApiError("bad_request", "Use POST to send feedback.");
    const body = await readJson(request, feedbackRequestSchema, 4 * 1024);
    const tenant = requireTenant(runtime, body.tenant_id);
    cors = widgetCors(runtime, request, tenant.id, METHODS);
    assertServing(tenant, cors);
    requireWidgetKey(runtime, tenant, body.key, cors);
    const conversationId = requireVisitorConversation(runtime, tenant, body.session_token, cors);
    enforceRateLimits(runtime.config, [
      { scope: "ip", id: clientIp(runtime, request, context) },
      { scope: "session", id: conversationId },
    ]);
    const outcome = recordFeedback(runtime, tenant, {
      conversationId,
      messageId: body.message_id,
      rating: body.rating === "up" ? 1 : -1,
    });
    if (outcome === "not_found") {
      throw new ApiError("not_found", "No such answer in this conversation.");
    }
    // On a LiteFS replica the rating is queued for the primary, which checks it: 202.
    return new Response(null, { status: outcome === "queued" ? 202 : 204, headers: cors });
  } catch (error) {
    return errorResponse(error, cors);
  }
}
