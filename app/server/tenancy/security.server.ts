// The admin page's keys, origins, quota and audit section (app/admin/tenant-security.tsx):
// what its loader shows and what its form actions do. Every change is audited.
import { z } from "zod";
import { listAudit } from "#tenants/audit.ts";
import { auditAdminAction } from "../audit/audit.server.ts";
import type { AdminRecord, TenantRecord } from "../control-db.server.ts";
import { ApiError } from "../errors.server.ts";
import {
  createSecretKey,
  embedSnippet,
  getWidgetKey,
  listAllowedOrigins,
  listSecretKeys,
  normalizeOrigin,
  originListSchema,
  revokeSecretKey,
  rotateWidgetKey,
  secretKeyNameSchema,
  setAllowedOrigins,
  TooManyKeysError,
} from "../access/keys.server.ts";
import { tenantQuota } from "../limits/quota.server.ts";
import type { Runtime } from "../runtime/runtime.server.ts";
import { tenantDb } from "./tenants.server.ts";

export const securityIntents = [
  "set-origins",
  "add-origin",
  "remove-origin",
  "rotate-widget-key",
  "create-key",
  "revoke-key",
] as const;
export type SecurityIntent = (typeof securityIntents)[number];

const AUDIT_SHOWN = 20;

/** The audit log's filters and page, from the tenant page's query string (bad values: none). */
const auditQuerySchema = z.object({
  audit_action: z
    .string()
    .trim()
    .max(80)
    .regex(/^[a-z0-9_.]*$/)
    .catch("")
    .default(""),
  audit_actor: z.string().trim().max(320).catch("").default(""),
  audit_before: z.coerce
    .number()
    .int()
    .positive()
    .max(Number.MAX_SAFE_INTEGER)
    .optional()
    .catch(undefined),
});
export type AuditQuery = z.infer<typeof auditQuerySchema>;

export function auditQueryOf(url: URL): AuditQuery {
  return auditQuerySchema.parse(Object.fromEntries(url.searchParams));
}

export function tenantSecurityData(
  runtime: Runtime,
  tenant: TenantRecord,
  appOrigin: string,
  auditQuery: AuditQuery = { audit_action: "", audit_actor: "" },
) {
  const widgetKey = getWidgetKey(runtime.control, tenant.id);
  // One more than shown tells whether an older page exists.
  const audit = listAudit(tenantDb(runtime, tenant), {
    limit: AUDIT_SHOWN + 1,
    before: auditQuery.audit_before,
    action: auditQuery.audit_action,
    actor: auditQuery.audit_actor,
  });
  const shown = audit.slice(0, AUDIT_SHOWN);
  return {
    widgetKey,
    snippet: embedSnippet(appOrigin, tenant.id, widgetKey),
    appOrigin,
    allowedOrigins: listAllowedOrigins(runtime.control, tenant.id),
    keys: listSecretKeys(runtime.control, tenant.id),
    quota: tenantQuota(runtime.control, tenantDb(runtime, tenant), tenant.id),
    auditFilter: {
      action: auditQuery.audit_action,
      actor: auditQuery.audit_actor,
      paged: auditQuery.audit_before !== undefined,
      olderThan: audit.length > AUDIT_SHOWN ? (shown.at(-1)?.id ?? null) : null,
    },
    audit: shown.map((entry) => ({
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
    case "add-origin": {
      const current = listAllowedOrigins(runtime.control, tenant.id);
      const entry = String(form.get("origin") ?? "").trim();
      const origin = normalizeOrigin(entry);
      if (origin === null) {
        throw new ApiError(
          "bad_request",
          "Write an origin like https://shop.example.com (scheme and host, an optional port, no path).",
        );
      }
      if (current.includes(origin)) {
        throw new ApiError("conflict", `${origin} is already allowed.`);
      }
      const origins = originListSchema.parse([...current, origin]);
      setAllowedOrigins(runtime.control, tenant.id, origins);
      auditAdminAction(runtime, tenant, admin, "origins.add", { origin });
      return { message: `The widget now also works on ${origin}.` };
    }
    case "remove-origin": {
      const origin = String(form.get("origin") ?? "");
      const current = listAllowedOrigins(runtime.control, tenant.id);
      if (!current.includes(origin)) {
        throw new ApiError("not_found", "That origin was already removed.");
      }
      setAllowedOrigins(
        runtime.control,
        tenant.id,
        current.filter((o) => o !== origin),
      );
      auditAdminAction(runtime, tenant, admin, "origins.remove", { origin });
      return { message: `The widget no longer works on ${origin}.` };
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
