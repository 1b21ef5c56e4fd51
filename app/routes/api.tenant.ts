// GET /api/tenants/:tenantId — one tenant, with its usage of its last 30 active days
// (questions, tokens, exact latency mean and p95, feedback: tenants/conversations.ts).
// PATCH { llm_model?: string | null, widget?: {...} } — the tenant's LLM model override
// (null: the server's default) and the widget's settings (title, greeting, color, position,
// starterQuestions, voiceGreeting, language), and mask_transcripts (PII-masked stored
// transcripts), and — platform admins only — status: "active" | "suspended".
// DELETE — a platform admin erases the tenant and all its data, for good (audited).
import {
  assertSameOrigin,
  requireAdmin,
  requireTenantAccess,
} from "#app/server/access/auth.server.ts";
import { ApiError, errorResponse } from "#app/server/errors.server.ts";
import { setTenantStatus } from "#app/server/tenancy/platform.server.ts";
import { auditAdminAction } from "#app/server/audit/audit.server.ts";
import { noQuery, parseQuery, readJson } from "#app/server/request.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";
import type { Runtime } from "#app/server/runtime/runtime.server.ts";
import { tenantDb } from "#app/server/tenancy/tenants.server.ts";
import { usageByDay } from "#tenants/conversations.ts";
import {
  tenantSettingsSchema,
  updateTenantMaskTranscripts,
  updateTenantModel,
} from "#app/server/tenancy/settings.server.ts";
import { eraseTenantEverywhere } from "#app/server/tenancy/data.server.ts";
import {
  getWidgetSettings,
  updateWidgetSettings,
} from "#app/server/widget-config/settings.server.ts";
import type { Route } from "./+types/api.tenant";

export async function loader({ request, params }: Route.LoaderArgs) {
  const runtime = await getRuntime();
  try {
    const { tenant } = await requireTenantAccess(runtime, request, params.tenantId);
    parseQuery(request, noQuery);
    return Response.json({
      tenant,
      widget: getWidgetSettings(runtime, tenant),
      usage: usageByDay(tenantDb(runtime, tenant), 30),
    });
  } catch (error) {
    return errorResponse(error);
  }
}

async function erase(runtime: Runtime, request: Request, tenantId: string): Promise<Response> {
  assertSameOrigin(runtime, request);
  const admin = await requireAdmin(runtime, request);
  if (admin.role !== "platform") {
    throw new ApiError("forbidden", "Only platform admins erase tenants.");
  }
  const report = await eraseTenantEverywhere(runtime, tenantId, `admin:${admin.id}`);
  runtime.logger.info({ ...report, adminId: admin.id }, "tenant erased");
  return Response.json({ erased: report });
}

export async function action({ request, params }: Route.ActionArgs) {
  const runtime = await getRuntime();
  try {
    if (request.method === "DELETE") return await erase(runtime, request, params.tenantId);
    if (request.method !== "PATCH") throw new ApiError("bad_request", "Use PATCH or DELETE.");
    assertSameOrigin(runtime, request);
    const { tenant, admin } = await requireTenantAccess(runtime, request, params.tenantId);
    const body = await readJson(request, tenantSettingsSchema);
    let updated =
      body.status === undefined ? tenant : setTenantStatus(runtime, tenant, admin, body.status);
    updated =
      body.llm_model === undefined ? updated : updateTenantModel(runtime, updated, body.llm_model);
    if (body.mask_transcripts !== undefined) {
      updated = updateTenantMaskTranscripts(runtime, updated, body.mask_transcripts);
    }
    const widget = body.widget
      ? updateWidgetSettings(runtime, tenant, body.widget)
      : getWidgetSettings(runtime, tenant);
    runtime.logger.info(
      {
        tenantId: tenant.id,
        adminId: admin.id,
        llmModel: updated.llmModel,
        maskTranscripts: updated.maskTranscripts,
        widget: !!body.widget,
      },
      "tenant settings changed",
    );
    // ---- audit (issue 5: audit log) ----
    auditAdminAction(runtime, tenant, admin, "settings.update", body);
    return Response.json({ tenant: updated, widget });
  } catch (error) {
    return errorResponse(error);
  }
}
