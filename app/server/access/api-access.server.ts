// Who may use a tenant's admin JSON API: a signed-in admin who manages the tenant (cookie
// session, same-origin check on writes), or — for the ingest and documents API — a secret API
// key of that tenant (`Authorization: Bearer bitb_sk_…`, no cookies, so no CSRF check).
import { assertSameOrigin, requireTenantAccess } from "./auth.server.ts";
import type { TenantRecord } from "../control-db.server.ts";
import { ApiError } from "../errors.server.ts";
import { authenticateSecretKey, bearerSecret } from "./keys.server.ts";
import type { Runtime } from "../runtime/runtime.server.ts";
import { requireTenant } from "../tenancy/tenants.server.ts";

export interface TenantApiCaller {
  tenant: TenantRecord;
  /** For the audit log: the admin's e-mail or `key:<id>`. */
  actor: { email: string };
  via: "admin" | "key";
}

const WRITES = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export async function requireTenantApiAccess(
  runtime: Pick<Runtime, "control" | "config" | "replication">,
  request: Request,
  tenantId: string,
  options: { allowSecretKey: boolean },
): Promise<TenantApiCaller> {
  const secret = bearerSecret(request);
  if (secret !== null) {
    if (!options.allowSecretKey) {
      throw new ApiError("forbidden", "API keys cannot use this endpoint; sign in as an admin.");
    }
    const found = authenticateSecretKey(
      runtime.control,
      secret,
      Date.now(),
      runtime.replication.role.isPrimary(),
    );
    if (!found) throw new ApiError("unauthorized", "Invalid API key.");
    // Another tenant's key: the same answer as an unknown tenant.
    if (found.tenantId !== tenantId) throw new ApiError("not_found", "No such tenant.");
    return {
      tenant: requireTenant(runtime, tenantId),
      actor: { email: `key:${found.keyId}` },
      via: "key",
    };
  }
  if (WRITES.has(request.method.toUpperCase())) assertSameOrigin(runtime, request);
  const { tenant, admin } = await requireTenantAccess(runtime, request, tenantId);
  return { tenant, actor: { email: admin.email }, via: "admin" };
}
