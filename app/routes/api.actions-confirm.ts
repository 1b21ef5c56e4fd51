// POST /api/actions/confirm — the visitor confirms an action the answer offered (the `action`
// SSE event of /api/ask): the only way an action that changes something runs. Visitor auth
// as for feedback: the tenant's publishable `key` and the visitor's `sessionToken`, from an
// allowed origin; the offer must belong to that session's conversation. Contact details only
// with `consent: true`. Answers 200 `{status: "done", message, reference?, details?}`, or
// 400 invalid_request (with error.fields) / consent_required, 409 slot_taken, 410
// offer_expired, 502 action_failed (docs/decisions/027).
import { z } from "zod";
import { confirmAction, contactSchema } from "#app/server/actions/confirm.server.ts";
import { MAX_OFFER_ID_LENGTH, offerKey, verifyOffer } from "#app/server/actions/offers.server.ts";
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
import { readJson } from "#app/server/request.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";
import { requireTenant } from "#app/server/tenancy/tenants.server.ts";
import { sessionSecret } from "#app/server/access/visitor-session.server.ts";
import type { Route } from "./+types/api.actions-confirm";

const METHODS = "POST, OPTIONS";

const confirmSchema = z.strictObject({
  tenantId: z.string().max(64),
  key: z.string().max(100),
  sessionToken: z.string().max(200),
  offerId: z.string().min(1).max(MAX_OFFER_ID_LENGTH),
  args: z
    .record(z.string().max(64), z.union([z.string().max(2000), z.number()]))
    .refine((args) => Object.keys(args).length <= 20, "Too many fields."),
  contact: contactSchema.optional(),
  consent: z.boolean(),
});

export async function loader({ request }: Route.LoaderArgs) {
  const runtime = await getRuntime();
  if (request.method === "OPTIONS") return preflight(runtime, request, METHODS);
  return errorResponse(new ApiError("bad_request", "Use POST to confirm an action."), {
    ...noCors,
    Allow: METHODS,
  });
}

export async function action({ request, context }: Route.ActionArgs) {
  const runtime = await getRuntime();
  if (request.method === "OPTIONS") return preflight(runtime, request, METHODS);
  let cors: Cors = noCors;
  try {
    if (request.method !== "POST") {
      throw new ApiError("bad_request", "Use POST to confirm an action.");
    }
    const body = await readJson(request, confirmSchema, 16 * 1024);
    const tenant = requireTenant(runtime, body.tenantId);
    cors = widgetCors(runtime, request, tenant.id, METHODS);
    assertServing(tenant, cors);
    requireWidgetKey(runtime, tenant, body.key, cors);
    const conversationId = requireVisitorConversation(runtime, tenant, body.sessionToken, cors);
    enforceRateLimits(runtime.config, [
      { scope: "ip", id: clientIp(runtime, request, context) },
      { scope: "tenant", id: tenant.id },
      { scope: "session", id: conversationId },
    ]);
    const offer = verifyOffer(
      offerKey(sessionSecret(runtime.control)),
      body.offerId,
      tenant.id,
      conversationId,
    );
    if (!offer) {
      throw new ApiError(
        "offer_expired",
        "This offer has expired or is not yours. Ask again to start over.",
      );
    }
    const result = await confirmAction(runtime, tenant, {
      offer,
      args: body.args,
      contact: body.contact,
      consent: body.consent,
    });
    return Response.json(
      {
        status: "done",
        message: result.message,
        ...(result.reference ? { reference: result.reference } : {}),
        ...(result.details ? { details: result.details } : {}),
      },
      { headers: cors },
    );
  } catch (error) {
    return errorResponse(error, cors);
  }
}
