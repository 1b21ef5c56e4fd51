// POST /api/ask — a visitor's question, answered from one tenant's knowledge base.
// Streams Server-Sent Events (vocabulary: app/shared/ask-events.ts) or, with
// `Accept: application/json`, returns the `done` event's data as one JSON object.
// A batch (`queries` instead of `query`) streams the batch events, or returns the
// `batch_done` event's data as one JSON object.
//
// Callers: the widget (publishable `key` + signed `session_token`, from an allowed origin;
// the token names the conversation) or a server with `Authorization: Bearer bitb_sk_…` (it
// may name its own conversation with `session_id`). Then: rate limits (IP, tenant, session),
// the tenant's token quota, the answer, and an audit entry (app/server/ask/respond.server.ts).
import {
  ASK_METHODS,
  askSchema,
  assertBatchAllowed,
  identifyCaller,
} from "#app/server/ask/ask-request.server.ts";
import { respondToAsk } from "#app/server/ask/respond.server.ts";
import { type Cors, noCors, preflight } from "#app/server/access/embed-guard.server.ts";
import { ApiError, errorResponse } from "#app/server/errors.server.ts";
import { assertServing } from "#app/server/tenancy/platform.server.ts";
import { readJson } from "#app/server/request.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";
import type { Route } from "./+types/api.ask";

// React Router hands OPTIONS requests to the loader; the widget's CORS preflight lands here.
export async function loader({ request }: Route.LoaderArgs) {
  const runtime = await getRuntime();
  if (request.method === "OPTIONS") return preflight(runtime, request, ASK_METHODS);
  return errorResponse(new ApiError("bad_request", "Use POST to ask."), {
    ...noCors,
    Allow: ASK_METHODS,
  });
}

// A repeated first question is usually answered before it gets here, by the cached-answer
// lane in front of React Router (app/server/ask/cached-lane.server.ts, docs/decisions/034),
// with the same checks through the same modules; everything else is answered here.
export async function action({ request, context }: Route.ActionArgs) {
  const receivedAt = performance.now();
  const runtime = await getRuntime();
  if (request.method === "OPTIONS") return preflight(runtime, request, ASK_METHODS);
  let cors: Cors = noCors;
  try {
    if (request.method !== "POST") throw new ApiError("bad_request", "Use POST to ask.");
    const body = await readJson(request, askSchema(runtime.config));
    assertBatchAllowed(runtime.config, body);
    const caller = identifyCaller(runtime, request, body);
    cors = caller.cors;
    assertServing(caller.tenant, cors);
    return await respondToAsk(runtime, request, context, body, caller, receivedAt);
  } catch (error) {
    return errorResponse(error, cors);
  }
}
