// GET /api/docs — the OpenAPI document as a readable page, rendered on the server with no
// script (app/server/openapi/reference-page.server.ts, docs/decisions/044).
import { openApiDocument } from "#app/server/openapi/document.server.ts";
import {
  REFERENCE_PAGE_CSP,
  renderReferencePage,
} from "#app/server/openapi/reference-page.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";

export async function loader() {
  const runtime = await getRuntime();
  const document = openApiDocument(runtime.config) as unknown as Record<string, unknown>;
  return new Response(renderReferencePage(document), {
    headers: {
      "Content-Type": "text/html; charset=utf-8",
      "Content-Security-Policy": REFERENCE_PAGE_CSP,
      "X-Frame-Options": "DENY",
      "Cache-Control": "public, max-age=300",
    },
  });
}
