// GET /api/tenants/:tenantId/keys — the tenant's secret API keys (never the secrets).
// POST { name } — a new key; the answer (201) carries the secret, the only time it is shown.
// Admins of the tenant only (a key cannot make keys).
import { requireTenantApiAccess } from "#app/server/access/api-access.server.ts";
import { auditAdminAction } from "#app/server/audit/audit.server.ts";
import { ApiError, errorResponse } from "#app/server/errors.server.ts";
import {
  createSecretKey,
  listSecretKeys,
  secretKeyNameSchema,
  TooManyKeysError,
} from "#app/server/access/keys.server.ts";
import { noQuery, parseQuery, readJson } from "#app/server/request.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";
import { z } from "zod";
import type { Route } from "./+types/api.tenant-keys";

const createSchema = z.strictObject({ name: secretKeyNameSchema });

export async function loader({ request, params }: Route.LoaderArgs) {
  const runtime = await getRuntime();
  try {
    const { tenant } = await requireTenantApiAccess(runtime, request, params.tenantId, {
      allowSecretKey: false,
    });
    parseQuery(request, noQuery);
    return Response.json({ keys: listSecretKeys(runtime.control, tenant.id) });
  } catch (error) {
    return errorResponse(error);
  }
}

export async function action({ request, params }: Route.ActionArgs) {
  const runtime = await getRuntime();
  try {
    if (request.method !== "POST") throw new ApiError("bad_request", "Use POST to make a key.");
    const { tenant, actor } = await requireTenantApiAccess(runtime, request, params.tenantId, {
      allowSecretKey: false,
    });
    const body = await readJson(request, createSchema, 4 * 1024);
    let made: ReturnType<typeof createSecretKey>;
    try {
      made = createSecretKey(runtime.control, {
        tenantId: tenant.id,
        name: body.name,
        createdBy: actor.email,
      });
    } catch (error) {
      if (error instanceof TooManyKeysError) throw new ApiError("conflict", error.message);
      throw error;
    }
    auditAdminAction(runtime, tenant, actor, "api_key.create", {
      keyId: made.key.id,
      name: made.key.name,
    });
    return Response.json(
      { key: made.key, secret: made.secret },
      { status: 201, headers: { "Cache-Control": "no-store" } },
    );
  } catch (error) {
    return errorResponse(error);
  }
}
