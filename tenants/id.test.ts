import { describe, expect, it } from "vitest";
import { DEMO_TENANT_ID, isTenantId, newTenantId, tenantFileName, type TenantId } from "./id.ts";

describe("tenant ids", () => {
  it("accepts tn_ + 32 lowercase hex and the demo id", () => {
    expect(isTenantId(`tn_${"a".repeat(32)}`)).toBe(true);
    expect(isTenantId(DEMO_TENANT_ID)).toBe(true);
    expect(isTenantId(newTenantId())).toBe(true);
  });

  it.each([
    "../x",
    `tn_${"a".repeat(31)}`,
    `tn_${"a".repeat(33)}`,
    `tn_${"A".repeat(32)}`,
    `TN_${"a".repeat(32)}`,
    `tn_${"g".repeat(32)}`,
    `tn_${"a".repeat(31)}/`,
    `tn_${"a".repeat(32)}\n`,
    "control",
    "Trial",
    "",
    "%2e%2e%2f",
  ])("rejects %j", (id) => {
    expect(isTenantId(id)).toBe(false);
  });

  it("rejects non-strings", () => {
    expect(isTenantId(undefined)).toBe(false);
    expect(isTenantId(42)).toBe(false);
    expect(isTenantId({ toString: () => "trial" })).toBe(false);
  });

  it("builds file names only from valid ids", () => {
    expect(tenantFileName(DEMO_TENANT_ID as TenantId)).toBe("trial.db");
    expect(() => tenantFileName("../etc/passwd" as TenantId)).toThrow(/invalid tenant id/);
  });

  it("makes distinct random ids", () => {
    const ids = new Set(Array.from({ length: 100 }, () => newTenantId()));
    expect(ids.size).toBe(100);
  });
});
