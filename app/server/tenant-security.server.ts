// The admin page's keys, origins, quota and audit section (app/admin/tenant-security.tsx):
// what its loader shows and what its form actions do. Every change is audited.
import { z } from "zod";
import { listAudit } from "#tenants/audit.ts";
import { auditAdminAction } from "./audit.server.ts";
import type { AdminRecord, TenantRecord } from "./control-db.server.ts";
import { ApiError } from "./errors.server.ts";
import {
  createSecretKey,
  embedSnippet,
  getWidgetKey,
  listAllowedOrigins,
  listSecretKeys,
  originListSchema,
  revokeSecretKey,
  rotateWidgetKey,
  secretKeyNameSchema,
  setAllowedOrigins,
  TooManyKeysError,
} from "./keys.server.ts";
import { tenantQuota } from "./limits/quota.server.ts";
import type { Runtime } from "./runtime.server.ts";
import { tenantDb } from "./tenants.server.ts";

export const securityIntents = [
  "set-origins",
  "rotate-widget-key",
  "create-key",
  "revoke-key",
] as const;
export type SecurityIntent = (typeof securityIntents)[number];

const AUDIT_SHOWN = 20;

export function tenantSecurityData(runtime: Runtime, tenant: TenantRecord, appOrigin: string) {
  const widgetKey = getWidgetKey(runtime.control, tenant.id);
  return {
    widgetKey,
    snippet: embedSnippet(appOrigin, tenant.id, widgetKey),
    appOrigin,
    allowedOrigins: listAllowedOrigins(runtime.control, tenant.id),
    keys: listSecretKeys(runtime.control, tenant.id),
    quota: tenantQuota(runtime.control, tenantDb(runtime, tenant), tenant.id),
    audit: listAudit(tenantDb(runtime, tenant), { limit: AUDIT_SHOWN }).map((entry) => ({
      id: entry.id,
      at: entry.at,
      kind: entry.kind,
      actor: entry.actor,
      action: entry.action,
      outcome: entry.outcome,
      tokens: (entry.promptTokens ?? 0) + (entry.completionTokens ?? 0),
      latencyMs: entry.latencyMs,
    })),
  };
}

export interface SecurityActionResult {
  message: string;
  /** A new secret key, shown once. */
  secret?: string;
}

const keyIdSchema = z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER);

/** Runs one of the section's form actions; throws ApiError / ZodError for the form. */
export function runSecurityAction(
  runtime: Runtime,
  tenant: TenantRecord,
  admin: AdminRecord,
  intent: SecurityIntent,
  form: FormData,
): SecurityActionResult {
  switch (intent) {
    case "set-origins": {
      const lines = String(form.get("origins") ?? "")
        .split(/[\s,]+/)
        .filter((line) => line !== "");
      const origins = originListSchema.parse(lines);
      setAllowedOrigins(runtime.control, tenant.id, origins);
      auditAdminAction(runtime, tenant, admin, "origins.set", { origins });
      return {
        message: origins.length
          ? `The widget now works on ${origins.length} site${origins.length === 1 ? "" : "s"} (and this server).`
          : "The widget now works only on this server's own pages.",
      };
    }
    case "rotate-widget-key":
      rotateWidgetKey(runtime.control, tenant.id);
      auditAdminAction(runtime, tenant, admin, "widget_key.rotate");
      return { message: "New widget key made. Update the snippet on your sites." };
    case "create-key": {
      const name = secretKeyNameSchema.parse(form.get("name") ?? "");
      try {
        const made = createSecretKey(runtime.control, {
          tenantId: tenant.id,
          name,
          createdBy: admin.email,
        });
        auditAdminAction(runtime, tenant, admin, "api_key.create", { keyId: made.key.id, name });
        return {
          message: `Key “${name}” made. Copy it now: it is not shown again.`,
          secret: made.secret,
        };
      } catch (error) {
        if (error instanceof TooManyKeysError) throw new ApiError("conflict", error.message);
        throw error;
      }
    }
    case "revoke-key": {
      const id = keyIdSchema.safeParse(form.get("keyId"));
      if (!id.success || !revokeSecretKey(runtime.control, tenant.id, id.data)) {
        throw new ApiError("not_found", "That key was already revoked.");
      }
      auditAdminAction(runtime, tenant, admin, "api_key.revoke", { keyId: id.data });
      return { message: "Key revoked." };
    }
  }
}
