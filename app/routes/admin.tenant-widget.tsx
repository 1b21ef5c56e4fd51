// /admin/tenants/:tenantId/widget — the tenant's "Widget" tab: the widget's styling with a
// live preview of the real widget, the embed code, the allowed domains and the test page
// (the same components as the trial's steps 3 and 4).
import { data, Link, useNavigation } from "react-router";
import { z } from "zod";
import { TenantNav } from "#app/admin/tenant-nav.tsx";
import { EmbedPanel } from "#app/admin/widget-embed.tsx";
import { WidgetStyleForm, type WidgetStyleErrors } from "#app/admin/widget-style-form.tsx";
import { assertSameOrigin, requireTenantAccess } from "#app/server/access/auth.server.ts";
import { auditAdminAction } from "#app/server/audit/audit.server.ts";
import { readFormData } from "#app/server/request.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";
import { runSecurityAction } from "#app/server/tenancy/security.server.ts";
import {
  getWidgetSettings,
  updateWidgetSettings,
} from "#app/server/widget-config/settings.server.ts";
import { embedData, parseWidgetStyleForm } from "#app/server/widget-config/style.server.ts";
import type { Route } from "./+types/admin.tenant-widget";

export const meta: Route.MetaFunction = ({ data }) => [
  { title: `Widget · ${data?.tenant.name ?? "Tenant"} — BiTB admin` },
];

export async function loader({ request, params }: Route.LoaderArgs) {
  const runtime = await getRuntime();
  const { tenant } = await requireTenantAccess(runtime, request, params.tenantId);
  return {
    tenant: { id: tenant.id, name: tenant.name },
    settings: getWidgetSettings(runtime, tenant),
    embed: embedData(runtime, tenant, request),
  };
}

const intentSchema = z.enum(["save-widget", "set-origins"]);
type Result = {
  intent: "save-widget" | "set-origins" | null;
  ok: boolean;
  message: string;
  errors?: WidgetStyleErrors;
};

export async function action({ request, params }: Route.ActionArgs) {
  const runtime = await getRuntime();
  assertSameOrigin(runtime, request);
  const { tenant, admin } = await requireTenantAccess(runtime, request, params.tenantId);
  const form = await readFormData(request, 64 * 1024);
  const intent = intentSchema.safeParse(form.get("intent"));
  if (!intent.success) {
    return data<Result>(
      { intent: null, ok: false, message: "Unknown action. Reload the page." },
      { status: 400 },
    );
  }
  if (intent.data === "save-widget") {
    const parsed = parseWidgetStyleForm(form);
    if (!parsed.ok) {
      return data<Result>(
        {
          intent: intent.data,
          ok: false,
          message: "Nothing was saved: correct the fields marked in red.",
          errors: parsed.fieldErrors,
        },
        { status: 400 },
      );
    }
    updateWidgetSettings(runtime, tenant, parsed.update);
    auditAdminAction(runtime, tenant, admin, "widget.style", parsed.update);
    // The knowledge-base check tries the starter questions: check the new ones.
    if (parsed.update.starterQuestions?.length) runtime.kbChecks.schedule(tenant.id);
    return data<Result>({
      intent: intent.data,
      ok: true,
      message: "Saved. Visitors see the new look within a few minutes.",
    });
  }
  try {
    const done = runSecurityAction(runtime, tenant, admin, "set-origins", form);
    return data<Result>({ intent: intent.data, ok: true, message: done.message });
  } catch (error) {
    if (error instanceof z.ZodError) {
      return data<Result>(
        {
          intent: intent.data,
          ok: false,
          message: error.issues[0]?.message ?? "Check the list of domains.",
        },
        { status: 400 },
      );
    }
    throw error;
  }
}

export default function TenantWidget({ loaderData, actionData }: Route.ComponentProps) {
  const { tenant, settings, embed } = loaderData;
  const navigation = useNavigation();
  const pending =
    navigation.state !== "idle" && navigation.formMethod === "POST"
      ? String(navigation.formData?.get("intent") ?? "")
      : null;
  const styleResult = actionData?.intent === "save-widget" ? actionData : undefined;
  const originsResult = actionData?.intent === "set-origins" ? actionData : undefined;
  return (
    <main className="page">
      <p className="breadcrumbs">
        <Link to="/admin">Tenants</Link> / {tenant.name}
      </p>
      <h1>{tenant.name}</h1>
      <TenantNav tenantId={tenant.id} />
      <h2>Look and feel</h2>
      <WidgetStyleForm
        tenantId={tenant.id}
        settings={settings}
        errors={styleResult?.errors}
        result={styleResult}
        intent="save-widget"
        submitLabel="Save"
        pending={pending === "save-widget"}
      />
      <EmbedPanel {...embed} originsResult={originsResult} pending={pending === "set-origins"} />
    </main>
  );
}
