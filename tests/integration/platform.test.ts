// A platform admin suspends, resumes and extends a tenant, through the API and the tenant
// list: a suspended tenant's assistant answers nobody (widget, asks, keys) while its admins
// keep managing it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signIn } from "../support/admin.ts";
import { createAdmin } from "../support/cli.ts";
import { bearer, makeSecretKey, widgetKeyOf } from "../support/keys.ts";
import { startServer, tempDataDir, type Client, type TestServer } from "../support/server.ts";

let server: TestServer;
let admin: Client;
let tenantId: string;
let secret: string;

beforeAll(async () => {
  const dataDir = tempDataDir();
  await createAdmin(dataDir);
  server = await startServer({ dataDir });
  admin = await signIn(server.url);
  const created = await admin.json("/api/tenants", { name: "Paused shop" });
  tenantId = ((await created.json()) as { tenant: { id: string } }).tenant.id;
  secret = await makeSecretKey(admin, tenantId);
}, 180_000);
afterAll(async () => {
  await server?.stop();
});

const ask = () =>
  fetch(`${server.url}/api/ask`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json", ...bearer(secret) },
    body: JSON.stringify({ tenant_id: tenantId, query: "Are you open?" }),
  });

const postForm = (fields: Record<string, string>) =>
  admin.fetch("/admin?index", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(fields),
  });

describe("platform admin actions", () => {
  it("suspends a tenant through the API: asks and the widget are refused, admin pages still work", async () => {
    expect((await ask()).status).toBe(200);
    const res = await admin.json(`/api/tenants/${tenantId}`, { status: "suspended" }, "PATCH");
    expect(res.status).toBe(200);
    expect(((await res.json()) as { tenant: { status: string } }).tenant.status).toBe("suspended");

    const refused = await ask();
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ error: { code: "suspended" } });
    const key = await widgetKeyOf(admin, tenantId);
    const config = await fetch(`${server.url}/api/widget/${tenantId}/config?key=${key}`);
    expect(config.status).toBe(403);
    expect((await admin.fetch(`/api/tenants/${tenantId}/documents`)).status).toBe(200);
  });

  it("resumes and extends the trial from the tenant list", async () => {
    const list = await admin.fetch("/admin");
    const html = await list.text();
    expect(html).toContain("Trial ends");
    expect(html).toContain("Resume Paused shop");

    const resumed = await postForm({ intent: "resume", tenantId });
    expect(resumed.status).toBe(200);
    expect((await ask()).status).toBe(200);

    const before = (await (await admin.fetch(`/api/tenants/${tenantId}/plan`)).json()) as {
      trialEndsAt: number;
    };
    expect((await postForm({ intent: "extend", tenantId })).status).toBe(200);
    const after = (await (await admin.fetch(`/api/tenants/${tenantId}/plan`)).json()) as {
      trialEndsAt: number;
    };
    expect(after.trialEndsAt - before.trialEndsAt).toBe(14 * 24 * 3_600_000);

    expect((await postForm({ intent: "delete-everything", tenantId })).status).toBe(400);
  });
});
