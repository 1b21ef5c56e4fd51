// The tenant dashboard through the built server's HTTP surface: the Usage and Conversations
// tabs show what was asked, the origins are added and removed one at a time with
// validation, and the audit log filters by action and actor and pages back.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTenant, signIn, waitForJobs } from "../support/admin.ts";
import { createAdmin } from "../support/cli.ts";
import { bearer, makeSecretKey } from "../support/keys.ts";
import { type Client, startServer, tempDataDir, type TestServer } from "../support/server.ts";

let server: TestServer;
let admin: Client;
let tenantId: string;

const form = (fields: Record<string, string>): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/x-www-form-urlencoded" },
  body: new URLSearchParams(fields),
});

async function page(path: string): Promise<string> {
  const res = await admin.fetch(path);
  expect(res.status, path).toBe(200);
  return res.text();
}

beforeAll(async () => {
  const dataDir = tempDataDir();
  await createAdmin(dataDir);
  server = await startServer({ dataDir });
  admin = await signIn(server.url);
  tenantId = await createTenant(admin, "Dashboard Shop");
  const added = await admin.json(`/api/tenants/${tenantId}/documents`, {
    type: "text",
    title: "Shipping to Norway",
    text: "Orders to Norway ship within 3 working days by Posten. Returns are free for 30 days.",
  });
  const [job] = ((await added.json()) as { jobs: { id: number }[] }).jobs;
  await waitForJobs(admin, tenantId, [job!.id]);
});

afterAll(async () => {
  await server?.stop();
});

describe("usage and conversations tabs", () => {
  it("show a question asked through the API, its transcript and its citation", async () => {
    const key = await makeSecretKey(admin, tenantId);
    for (const query of ["How long does shipping to Norway take?", "Are returns free?"]) {
      const res = await fetch(`${server.url}/api/ask`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json", ...bearer(key) },
        body: JSON.stringify({ tenant_id: tenantId, query }),
      });
      expect(res.status).toBe(200);
    }

    const usage = await page(`/admin/tenants/${tenantId}/usage`);
    expect(usage).toContain("2 questions on 1 day of 30");
    expect(usage).toContain("Questions per day");
    expect(usage).toContain("95th percentile latency");
    // The text alternative: the table has today's row.
    expect(usage).toContain(`<th scope="row">${new Date().toISOString().slice(0, 10)}</th>`);

    const list = await page(`/admin/tenants/${tenantId}/conversations?q=norway`);
    expect(list).toContain("How long does shipping to Norway take?");
    expect(list).not.toContain("Are returns free?");
    const id = /[?&amp;]+id=(cv_[A-Za-z0-9_-]+)/.exec(list)?.[1];
    expect(id).toBeDefined();
    const transcript = await page(`/admin/tenants/${tenantId}/conversations?id=${id}`);
    expect(transcript).toContain("Shipping to Norway");
    expect(transcript).toContain("3 working days");
    expect(transcript).toContain("not rated");

    const missing = await page(`/admin/tenants/${tenantId}/conversations?id=cv_nosuchthing`);
    expect(missing).toContain("That conversation does not exist");
    // A malformed cursor is ignored, not an error.
    await page(`/admin/tenants/${tenantId}/conversations?before=nonsense`);
  });
});

describe("allowed origins, one at a time", () => {
  it("adds a valid origin once, refuses others with what to do, and removes it", async () => {
    const at = `/admin/tenants/${tenantId}`;
    const bad = await admin.fetch(at, form({ intent: "add-origin", origin: "shop.example.com" }));
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain("Write an origin like https://shop.example.com");

    const good = await admin.fetch(
      at,
      form({ intent: "add-origin", origin: "https://shop.example.com/" }),
    );
    expect(good.status).toBe(200);
    expect(await good.text()).toContain("The widget now also works on https://shop.example.com.");

    const again = await admin.fetch(
      at,
      form({ intent: "add-origin", origin: "https://shop.example.com" }),
    );
    expect(again.status).toBe(409);

    const embed = (await (await admin.fetch(`/api/tenants/${tenantId}/embed`)).json()) as {
      allowedOrigins: string[];
    };
    expect(embed.allowedOrigins).toEqual(["https://shop.example.com"]);

    const removed = await admin.fetch(
      at,
      form({ intent: "remove-origin", origin: "https://shop.example.com" }),
    );
    expect(removed.status).toBe(200);
    const gone = await admin.fetch(
      at,
      form({ intent: "remove-origin", origin: "https://shop.example.com" }),
    );
    expect(gone.status).toBe(404);
  });
});

describe("audit log on the tenant page", () => {
  it("filters by action family and actor, and pages back 20 entries at a time", async () => {
    const at = `/admin/tenants/${tenantId}`;
    for (let i = 0; i < 21; i++) {
      const res = await admin.fetch(at, form({ intent: "create-key", name: `key ${i}` }));
      if (res.status === 409) break; // the tenant's key limit
      expect(res.status).toBe(200);
    }
    // The only tenant on this server: its first key has id 1.
    const revoked = await admin.fetch(at, form({ intent: "revoke-key", keyId: "1" }));
    expect(revoked.status).toBe(200);
    const keys = await page(`${at}?audit_action=api_key`);
    expect(keys).toContain("<td>api_key.revoke</td>");
    expect(keys).toContain("<td>api_key.create</td>");
    expect(keys).not.toContain("<td>origins.add</td>");
    expect(keys).toContain("Older entries");
    const before = /audit_before=(\d+)/.exec(keys)?.[1];
    expect(before).toBeDefined();
    const older = await page(`${at}?audit_action=api_key&audit_before=${before}`);
    expect(older).toContain("Newest entries");

    const origins = await page(`${at}?audit_action=origins`);
    expect(origins).toContain("<td>origins.add</td>");
    expect(origins).toContain("<td>origins.remove</td>");

    const nobody = await page(`${at}?audit_actor=nobody%40example.com`);
    expect(nobody).toContain("No entry matches these filters.");
    // Bad filter values are ignored rather than failing the page.
    await page(`${at}?audit_action=${encodeURIComponent("DROP TABLE")}&audit_before=-1`);
  });
});
