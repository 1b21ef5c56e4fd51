// POST /api/internal/outbox — a LiteFS replica forwards its outbox here, to the primary
// (docs/decisions/023). Signed with the replication secret of the replicated control database
// (`x-bitb-outbox-signature: t=<ms>,v1=<hmac>`); applies each entry once and answers the keys
// the replica may forget. Not for browsers: no CORS, no cookies.
import { getRuntime } from "#app/server/runtime/build.server.ts";
import { ApiError, errorResponse } from "#app/server/errors.server.ts";
import {
  applyOutboxBatch,
  outboxBatchSchema,
  outboxSecret,
  pruneAppliedKeys,
  SIGNATURE_HEADER,
  verifyBatch,
} from "#app/server/replication/apply.server.ts";
import { readBodyBytes, requireMediaType } from "#app/server/request.server.ts";
import type { Route } from "./+types/api.internal-outbox";

const MAX_BATCH_BYTES = 16 * 1024 * 1024;

export function loader() {
  return errorResponse(new ApiError("bad_request", "Use POST to forward an outbox batch."), {
    Allow: "POST",
  });
}

export async function action({ request }: Route.ActionArgs) {
  try {
    if (request.method !== "POST") {
      throw new ApiError("bad_request", "Use POST to forward an outbox batch.");
    }
    const runtime = await getRuntime();
    if (!runtime.replication.role.isPrimary()) {
      throw new ApiError("unavailable", "This machine is not the primary; retry later.");
    }
    requireMediaType(request, "application/json");
    const body = new TextDecoder().decode(await readBodyBytes(request, MAX_BATCH_BYTES));
    if (!verifyBatch(outboxSecret(runtime.control), body, request.headers.get(SIGNATURE_HEADER))) {
      throw new ApiError("unauthorized", "Invalid or stale outbox signature.");
    }
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch {
      throw new ApiError("bad_request", "The body is not valid JSON.");
    }
    const batch = outboxBatchSchema.parse(value);
    const result = applyOutboxBatch(runtime, batch);
    pruneAppliedKeys(
      runtime,
      batch.entries.map((e) => e.tenantId),
    );
    runtime.logger.info(
      { applied: result.applied, duplicates: result.duplicates, dropped: result.dropped },
      "outbox batch applied",
    );
    return Response.json(result);
  } catch (error) {
    return errorResponse(error);
  }
}
