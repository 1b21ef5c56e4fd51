// GET /api/tenants/:tenantId/embed — the widget's publishable key, the origins allowed to
// embed it and the snippet to paste. PATCH { allowed_origins?: string[],
// rotate_widget_key?: true } — replaces the list (https://host[:port] each) and/or makes a
// new key (the old one stops working at once). Admins of the tenant only.
import { z } from "zod";
import { requireTenantApiAccess } from "#app/server/access/api-access.server.ts";
import { auditAdminAction } from "#app/server/audit/audit.server.ts";
import { ApiError, errorResponse } from "#app/server/errors.server.ts";
import {
  embedSnippet,
  getWidgetKey,
  listAllowedOrigins,
  originListSchema,
  rotateWidgetKey,
  setAllowedOrigins,
} from "#app/server/access/keys.server.ts";
import { noQuery, parseQuery, readJson } from "#app/server/request.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";
import type { Runtime } from "#app/server/runtime/runtime.server.ts";
import type { TenantRecord } from "#app/server/control-db.server.ts";
import type { Route } from "./+types/api.tenant-embed";

const patchSchema = z
  .strictObject({
    allowed_origins: originListSchema.optional(),
    rotate_widget_key: z.literal(true).optional(),
  })
  .refine((b) => b.allowed_origins !== undefined || b.rotate_widget_key !== undefined, {
    message: "Send allowed_origins and/or rotate_widget_key.",
  });

function embedOf(runtime: Runtime, request: Request, tenant: TenantRecord) {
  const widgetKey = getWidgetKey(runtime.control, tenant.id);
  const origin = runtime.config.PUBLIC_URL
    ? new URL(runtime.config.PUBLIC_URL).origin
    : new URL(request.url).origin;
  return {
    widgetKey,
    allowedOrigins: listAllowedOrigins(runtime.control, tenant.id),
    snippet: embedSnippet(origin, tenant.id, widgetKey),
  };
}

export async function loader({ request, params }: Route.LoaderArgs) {
  const runtime = await getRuntime();
  try {
    const { tenant } = await requireTenantApiAccess(runtime, request, params.tenantId, {
      allowSecretKey: false,
    });
    parseQuery(request, noQuery);
    return Response.json(embedOf(await getRuntime(), request, tenant));
  } catch (error) {
    return errorResponse(error);
  }
}

export async function action({ request, params }: Route.ActionArgs) {
  const runtime = await getRuntime();
  try {
    if (request.method !== "PATCH") throw new ApiError("bad_request", "Use PATCH.");
    const { tenant, actor } = await requireTenantApiAccess(runtime, request, params.tenantId, {
      allowSecretKey: false,
    });
    const body = await readJson(request, patchSchema);
    if (body.allowed_origins !== undefined) {
      setAllowedOrigins(runtime.control, tenant.id, body.allowed_origins);
      auditAdminAction(runtime, tenant, actor, "origins.set", { origins: body.allowed_origins });
    }
    if (body.rotate_widget_key) {
      rotateWidgetKey(runtime.control, tenant.id);
      auditAdminAction(runtime, tenant, actor, "widget_key.rotate");
    }
    return Response.json(embedOf(runtime, request, tenant));
  } catch (error) {
    return errorResponse(error);
  }
}
