import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { listPlatformAudit } from "../control-db.server.ts";
import { ApiError } from "../errors.server.ts";
import { assertServing, extendTrial, setTenantStatus, tenantOverview } from "./platform.server.ts";
import {
  replicationFixture,
  type ReplicationFixture,
} from "../../../tests/support/replication-fixture.ts";

let f: ReplicationFixture;
beforeEach(() => {
  f = replicationFixture();
});
afterEach(() => f.close());

const platform = { id: 1, email: "root@example.com", role: "platform" as const };
const tenantAdmin = { id: 2, email: "shop@example.com", role: "tenant" as const };
const DAY = 24 * 3_600_000;

describe("platform actions", () => {
  it("suspends and resumes a tenant, audited, and a suspended tenant serves nobody", () => {
    expect(() => assertServing(f.tenant)).not.toThrow();
    const suspended = setTenantStatus(f, f.tenant, platform, "suspended");
    expect(suspended.status).toBe("suspended");
    let refusal: unknown;
    try {
      assertServing(suspended, { "Access-Control-Allow-Origin": "https://shop.example" });
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(ApiError);
    expect(refusal).toMatchObject({
      code: "suspended",
      status: 403,
      headers: { "Access-Control-Allow-Origin": "https://shop.example" },
    });
    // Suspending again changes and records nothing more.
    setTenantStatus(f, suspended, platform, "suspended");
    expect(setTenantStatus(f, suspended, platform, "active").status).toBe("active");
    expect(listPlatformAudit(f.control, { tenantId: f.tenant.id }).map((e) => e.action)).toEqual([
      "tenant.resume",
      "tenant.suspend",
    ]);
  });

  it("extends a trial from its end, or from now once it has ended", () => {
    const now = Date.UTC(2026, 11, 1);
    const before = tenantOverview(f)[0]!;
    expect(before.trialEndsAt).not.toBeNull();
    const extended = extendTrial(f, f.tenant, platform, 14, before.trialEndsAt! - DAY);
    expect(extended.trialEndsAt).toBe(before.trialEndsAt! + 14 * DAY);
    const late = extended.trialEndsAt! + 100 * DAY;
    expect(extendTrial(f, f.tenant, platform, 7, late).trialEndsAt).toBe(late + 7 * DAY);
    expect(() => extendTrial(f, f.tenant, platform, 0, now)).toThrow(/1 to 365 days/);
  });

  it("is for platform admins only", () => {
    expect(() => setTenantStatus(f, f.tenant, tenantAdmin, "suspended")).toThrow(/platform/);
    expect(() => extendTrial(f, f.tenant, tenantAdmin, 14)).toThrow(/platform/);
    expect(tenantOverview(f)[0]).toMatchObject({
      id: f.tenant.id,
      status: "active",
      usedTokens: 0,
    });
  });
});
