// The bodies and queries of the widget's own API calls besides the ask (its schema lives with the ask,
// ask/ask-request.server.ts): a visitor session and a rating. The routes validate with these
// and the OpenAPI document (openapi/document.server.ts) is generated from them.
import { z } from "zod";

/** GET /api/widget/:tenantId/config?key=pk_…: the tenant's publishable key. */
export const widgetConfigQuerySchema = z.strictObject({ key: z.string().max(100) });

/** POST /api/widget/:tenantId/session: the tenant's publishable key. */
export const visitorSessionRequestSchema = z.strictObject({ key: z.string().max(100) });

/** POST /api/feedback: a thumbs up or down on one answer of the session's conversation. */
export const feedbackRequestSchema = z.strictObject({
  tenant_id: z.string().max(64),
  key: z.string().max(100),
  session_token: z.string().max(200),
  message_id: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  rating: z.enum(["up", "down"]),
});
