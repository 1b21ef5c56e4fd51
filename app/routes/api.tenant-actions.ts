// GET /api/tenants/:tenantId/actions — the tenant's action settings (which actions are on,
// each one's back-end and webhook URL, whether a webhook secret exists, the booking calendar)
// and the catalogue of actions. PUT — any subset of the settings, merged; settings that
// cannot work (a webhook-only action on the built-in back-end, a webhook without URL or
// secret) are refused with 400 invalid_request and `error.fields`. Admins of the tenant only.
import { z } from "zod";
import { ACTION_NAMES, ACTIONS } from "#app/server/actions/registry.server.ts";
import {
  ActionSettingsError,
  getActionSettings,
  saveActionSettings,
  WEBHOOK_ONLY,
} from "#app/server/actions/settings.server.ts";
import { requireTenantApiAccess } from "#app/server/access/api-access.server.ts";
import { auditAdminAction } from "#app/server/audit/audit.server.ts";
import { ApiError, errorResponse } from "#app/server/errors.server.ts";
import { noQuery, parseQuery, readJson } from "#app/server/request.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";
import { tenantDb } from "#app/server/tenancy/tenants.server.ts";
import type { Route } from "./+types/api.tenant-actions";

const catalogue = ACTION_NAMES.map((name) => ({
  name,
  title: ACTIONS[name].title,
  description: ACTIONS[name].description,
  sideEffect: ACTIONS[name].sideEffect,
  webhookOnly: WEBHOOK_ONLY.includes(name),
}));

export async function loader({ request, params }: Route.LoaderArgs) {
  const runtime = await getRuntime();
  try {
    const { tenant } = await requireTenantApiAccess(runtime, request, params.tenantId, {
      allowSecretKey: false,
    });
    parseQuery(request, noQuery);
    return Response.json({
      settings: getActionSettings(tenantDb(runtime, tenant)),
      actions: catalogue,
    });
  } catch (error) {
    return errorResponse(error);
  }
}

export async function action({ request, params }: Route.ActionArgs) {
  const runtime = await getRuntime();
  try {
    if (request.method !== "PUT") throw new ApiError("bad_request", "Use PUT.");
    const { tenant, actor } = await requireTenantApiAccess(runtime, request, params.tenantId, {
      allowSecretKey: false,
    });
    const body = await readJson(request, z.record(z.string(), z.unknown()));
    let settings;
    try {
      settings = saveActionSettings(tenantDb(runtime, tenant), body, {
        allowHttp: runtime.config.INGEST_ALLOW_PRIVATE_URLS,
      });
    } catch (error) {
      if (error instanceof ActionSettingsError) {
        throw new ApiError("invalid_request", error.message, {}, error.fields);
      }
      throw error;
    }
    auditAdminAction(runtime, tenant, actor, "actions.settings", {
      enabled: ACTION_NAMES.filter((name) => settings.actions[name].enabled),
    });
    return Response.json({ settings, actions: catalogue });
  } catch (error) {
    return errorResponse(error);
  }
}
