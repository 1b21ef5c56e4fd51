// Who is calling the MCP endpoint: a tenant's secret API key (`Authorization: Bearer
// bitb_sk_…`) and nothing else — no cookies, no widget keys. The tenant comes from the key;
// a tenant id in the path that names another tenant is refused exactly like an unknown
// tenant, so a key cannot even learn which other tenants exist. Reads the control database.
import type { TenantRecord } from "../control-db.server.ts";
import { ApiError } from "../errors.server.ts";
import { authenticateSecretKey, bearerSecret } from "../access/keys.server.ts";
import type { Runtime } from "../runtime/runtime.server.ts";
import { assertServing } from "../tenancy/platform.server.ts";
import { requireTenant } from "../tenancy/tenants.server.ts";

export interface McpCaller {
  tenant: TenantRecord;
  keyId: number;
  /** For the audit log and the per-key logs: `key:<id>`. */
  actor: string;
}

/** What a 401 tells the client: which scheme to use (RFC 6750). */
export const MCP_CHALLENGE = { "WWW-Authenticate": 'Bearer realm="bitb-mcp"' };

export function authenticateMcpCaller(
  runtime: Pick<Runtime, "control"> & Partial<Pick<Runtime, "replication">>,
  request: Request,
  pathTenantId?: string,
): McpCaller {
  const secret = bearerSecret(request);
  if (secret === null) {
    throw new ApiError(
      "unauthorized",
      "Send the tenant's secret API key as Authorization: Bearer bitb_sk_….",
      MCP_CHALLENGE,
    );
  }
  // A LiteFS replica's control database is read-only: no last-used time there.
  const found = authenticateSecretKey(
    runtime.control,
    secret,
    Date.now(),
    runtime.replication?.role.isPrimary() ?? true,
  );
  if (!found) throw new ApiError("unauthorized", "Invalid API key.", MCP_CHALLENGE);
  if (pathTenantId !== undefined && pathTenantId !== found.tenantId) {
    throw new ApiError("not_found", "No such tenant.");
  }
  const tenant = requireTenant(runtime, found.tenantId);
  assertServing(tenant);
  return {
    tenant,
    keyId: found.keyId,
    actor: `key:${found.keyId}`,
  };
}
