// GET /embed-test/:tenantId?key=pk_… — a plain page holding nothing but the tenant's embed
// snippet, as a customer's site would (the trial's step 4 and the "Widget" tab link to it).
// It needs the tenant's publishable widget key, which the snippet makes public anyway;
// anything else is a 404. See widget-style.server.ts for what it says about origins.
import { z } from "zod";
import { embedSnippet, isWidgetKeyOf } from "#app/server/access/keys.server.ts";
import { parseQuery } from "#app/server/request.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";
import { requireTenant } from "#app/server/tenancy/tenants.server.ts";
import {
  appOriginOf,
  testPageHeaders,
  testPageHtml,
} from "#app/server/widget-config/style.server.ts";
import type { Route } from "./+types/embed-test";

const querySchema = z.strictObject({ key: z.string().max(100) });

const notFound = () =>
  new Response("No such test page. Open it from your admin's embed section.", {
    status: 404,
    headers: { "Content-Type": "text/plain; charset=utf-8" },
  });

export async function loader({ request, params }: Route.LoaderArgs) {
  const runtime = await getRuntime();
  let key: string;
  let tenantId;
  try {
    tenantId = requireTenant(runtime, params.tenantId).id;
    key = parseQuery(request, querySchema).key;
  } catch {
    return notFound();
  }
  if (!isWidgetKeyOf(runtime.control, tenantId, key)) return notFound();
  const appOrigin = appOriginOf(request, runtime.config);
  const html = testPageHtml({
    snippet: embedSnippet(appOrigin, tenantId, key),
    pageOrigin: new URL(request.url).origin,
    appOrigin,
  });
  return new Response(html, { headers: testPageHeaders(appOrigin) });
}
