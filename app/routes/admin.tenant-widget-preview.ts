// GET /admin/tenants/:tenantId/widget/preview?draft=<settings JSON>&open=1 — the live preview
// the widget styling form shows in an iframe: a stand-in page running the real widget with the
// draft settings (app/server/widget-config/style.server.ts). For the tenant's admins only; it may be
// framed by the admin's own pages and nothing else.
import { requireTenantAccess } from "#app/server/access/auth.server.ts";
import { getWidgetKey } from "#app/server/access/keys.server.ts";
import { parseQuery } from "#app/server/request.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";
import { createNonce } from "#app/server/security-headers.server.ts";
import {
  previewHeaders,
  previewPageHtml,
  previewQuerySchema,
  previewSettings,
} from "#app/server/widget-config/style.server.ts";
import type { Route } from "./+types/admin.tenant-widget-preview";

export async function loader({ request, params }: Route.LoaderArgs) {
  const runtime = await getRuntime();
  const { tenant } = await requireTenantAccess(runtime, request, params.tenantId);
  let query: { draft?: string; open?: "0" | "1" };
  try {
    query = parseQuery(request, previewQuerySchema);
  } catch {
    return new Response("This preview address is not valid. Reload the styling page.", {
      status: 400,
      headers: { "Content-Type": "text/plain; charset=utf-8" },
    });
  }
  const nonce = createNonce();
  const html = previewPageHtml({
    tenantId: tenant.id,
    widgetKey: getWidgetKey(runtime.control, tenant.id),
    settings: previewSettings(query.draft),
    open: query.open !== "0",
    nonce,
  });
  return new Response(html, { headers: previewHeaders(nonce) });
}
