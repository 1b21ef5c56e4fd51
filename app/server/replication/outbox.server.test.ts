import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { TenantId } from "#tenants/id.ts";
import { Outbox } from "./outbox.server.ts";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-outbox-"));
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
const tenant = "tn_0123456789abcdef0123456789abcdef" as TenantId;

describe("Outbox", () => {
  it("keeps entries across reopening, in order, until acknowledged", () => {
    let outbox = new Outbox(dir);
    outbox.append({
      key: "x:1",
      tenantId: tenant,
      kind: "exchange",
      payload: { a: 1 },
      conversationId: "cv_1",
    });
    outbox.append({ key: "a:1", tenantId: tenant, kind: "audit", payload: [], now: 5 });
    outbox.close();
    outbox = new Outbox(dir);
    expect(outbox.pending(10).map((e) => e.key)).toEqual(["x:1", "a:1"]);
    expect(outbox.pending(1)).toHaveLength(1);
    expect(() =>
      outbox.append({ key: "x:1", tenantId: tenant, kind: "exchange", payload: {} }),
    ).toThrow(/UNIQUE/);
    outbox.acknowledge(["x:1"], 1000);
    expect(outbox.pendingCount()).toBe(1);
    // Forwarded exchanges stay readable for a while, then go.
    expect(outbox.exchanges(tenant, "cv_1")).toHaveLength(1);
    outbox.acknowledge([], 1000 + 10 * 60 * 1000);
    expect(outbox.exchanges(tenant, "cv_1")).toHaveLength(0);
    expect(outbox.forgetTenant(tenant)).toBe(1);
    expect(outbox.pendingCount()).toBe(0);
    outbox.close();
    expect(outbox.open).toBe(false);
  });
});
