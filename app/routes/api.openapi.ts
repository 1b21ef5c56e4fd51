// GET /api/openapi.json — the OpenAPI 3.1 document of the public and server-to-server API,
// generated from the routes' own zod schemas (app/server/openapi/, docs/decisions/044).
import { openApiDocument } from "#app/server/openapi/document.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";

export async function loader() {
  const runtime = await getRuntime();
  return Response.json(openApiDocument(runtime.config), {
    headers: { "Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*" },
  });
}
