// POST /api/feedback — a visitor's thumbs up or down on one answer of their own conversation,
// stored with the message. Public (the widget calls it cross-origin, without credentials);
// 204 on success, 404 when that answer is not in that conversation.
import { z } from "zod";
import { ApiError, errorResponse } from "#app/server/errors.server.ts";
import { publicCorsHeaders, readJson } from "#app/server/request.server.ts";
import { getRuntime } from "#app/server/runtime.server.ts";
import { requireTenant, tenantDb } from "#app/server/tenants.server.ts";
import { rateAnswer } from "#tenants/conversations.ts";
import type { Route } from "./+types/api.feedback";

const feedbackSchema = z.strictObject({
  tenant_id: z.string().max(64),
  conversation_id: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/, "Invalid conversation id."),
  message_id: z.number().int().positive(),
  rating: z.enum(["up", "down"]),
});

function preflight(): Response {
  return new Response(null, { status: 204, headers: publicCorsHeaders });
}

export function loader({ request }: Route.LoaderArgs) {
  if (request.method === "OPTIONS") return preflight();
  return errorResponse(new ApiError("bad_request", "Use POST to send feedback."), {
    ...publicCorsHeaders,
    Allow: "POST, OPTIONS",
  });
}

export async function action({ request }: Route.ActionArgs) {
  if (request.method === "OPTIONS") return preflight();
  try {
    if (request.method !== "POST") throw new ApiError("bad_request", "Use POST to send feedback.");
    const runtime = await getRuntime();
    const body = await readJson(request, feedbackSchema, 4 * 1024);
    const tenant = requireTenant(runtime, body.tenant_id);
    const rated = rateAnswer(tenantDb(runtime, tenant), {
      conversationId: body.conversation_id,
      messageId: body.message_id,
      rating: body.rating === "up" ? 1 : -1,
    });
    if (!rated) throw new ApiError("not_found", "No such answer in this conversation.");
    return new Response(null, { status: 204, headers: publicCorsHeaders });
  } catch (error) {
    return errorResponse(error, publicCorsHeaders);
  }
}
