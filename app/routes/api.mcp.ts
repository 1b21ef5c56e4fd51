// POST /api/mcp (and /api/tenants/:tenantId/mcp) — the MCP endpoint (Streamable HTTP,
// stateless, JSON answers) of the tenant whose secret key is the Bearer token: the tools
// `search_knowledge_base` and `ask`. A tenant id in the path must be the key's own
// (docs/decisions/026). Serves servers and agents only: no cookies and no CORS grant.
import type { ActionFunctionArgs, LoaderFunctionArgs } from "react-router";
import { errorResponse } from "#app/server/errors.server.ts";
import { handleMcpRequest } from "#app/server/mcp/mcp.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";

async function serve({ request, params }: LoaderFunctionArgs | ActionFunctionArgs) {
  try {
    const runtime = await getRuntime();
    return await handleMcpRequest(runtime, request, { pathTenantId: params.tenantId });
  } catch (error) {
    return errorResponse(error);
  }
}

// GET (and OPTIONS) land in the loader; POST and DELETE in the action.
export const loader = serve;
export const action = serve;
