// Tenant ids: `tn_` + 32 lowercase hex characters, or the reserved `trial` id of the demo
// tenant. This is the only place that decides whether a string may name a tenant file.
import { randomBytes } from "node:crypto";

export const DEMO_TENANT_ID = "trial";
const TENANT_ID = /^tn_[0-9a-f]{32}$/;

export type TenantId = string & { readonly __brand: "TenantId" };

export function isTenantId(value: unknown): value is TenantId {
  return typeof value === "string" && (value === DEMO_TENANT_ID || TENANT_ID.test(value));
}

export function newTenantId(): TenantId {
  return `tn_${randomBytes(16).toString("hex")}` as TenantId;
}

/** The tenant database's file name inside the flat data folder; only for validated ids. */
export function tenantFileName(id: TenantId): string {
  if (!isTenantId(id)) throw new Error("refusing to build a path from an invalid tenant id");
  return `${id}.db`;
}
