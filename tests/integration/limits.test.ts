// Rate limits and quotas that hold across instances: TWO server processes on one data folder
// share the limiter file (limits.db), so together they admit no more than one tenant bucket
// allows (docs/decisions/017). Also: 429 with Retry-After, the plan's token quota, and the
// audit log's record of asks and admin actions, exported as JSON and CSV.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTenant, signIn } from "../support/admin.ts";
import { createAdmin } from "../support/cli.ts";
import { bearer, makeSecretKey } from "../support/keys.ts";
import { type Client, startServer, tempDataDir, type TestServer } from "../support/server.ts";

const TENANT_PER_MINUTE = 10;
const env = {
  RATE_LIMIT_TENANT_PER_MINUTE: String(TENANT_PER_MINUTE),
  RATE_LIMIT_SESSION_PER_MINUTE: "0",
  RATE_LIMIT_IP_PER_MINUTE: "0",
};

let a: TestServer;
let b: TestServer;
let admin: Client;
let tenantId: string;
let apiKey: string;

beforeAll(async () => {
  const dataDir = tempDataDir();
  await createAdmin(dataDir);
  a = await startServer({ dataDir, env });
  b = await startServer({ dataDir, env });
  admin = await signIn(a.url);
  tenantId = await createTenant(admin, "Limited");
  apiKey = await makeSecretKey(admin, tenantId);
});
afterAll(async () => {
  await a?.stop();
  await b?.stop();
});

const ask = (server: TestServer, query = "What are the opening hours?") =>
  fetch(`${server.url}/api/ask`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json", ...bearer(apiKey) },
    body: JSON.stringify({ tenant_id: tenantId, query }),
  });

describe("a tenant's rate limit across two server processes", () => {
  it("admits at most the bucket's burst plus its refill, whichever process answers", async () => {
    const started = Date.now();
    const statuses: number[] = [];
    const retryAfter: string[] = [];
    // 40 asks, 4 at a time, alternating between the two processes.
    for (let round = 0; round < 10; round++) {
      const responses = await Promise.all([a, b, a, b].map((server) => ask(server)));
      for (const res of responses) {
        statuses.push(res.status);
        if (res.status === 429) {
          retryAfter.push(res.headers.get("retry-after") ?? "");
          expect(await res.json()).toMatchObject({ error: { code: "rate_limited" } });
        } else {
          await res.arrayBuffer();
        }
      }
    }
    const elapsedMinutes = (Date.now() - started) / 60_000;
    const admitted = statuses.filter((s) => s === 200).length;
    const bound = TENANT_PER_MINUTE + Math.ceil(elapsedMinutes * TENANT_PER_MINUTE);
    expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
    expect(admitted).toBeGreaterThanOrEqual(TENANT_PER_MINUTE);
    expect(admitted).toBeLessThanOrEqual(bound);
    expect(retryAfter.length).toBe(40 - admitted);
    expect(retryAfter.every((s) => Number(s) >= 1)).toBe(true);
    console.log(`two processes admitted ${admitted}/40 (bound ${bound})`);
  });
});

describe("the plan's token quota", () => {
  it("refuses asks with quota_exceeded once the budget is spent or the trial is over", async () => {
    const plan = await admin.fetch(`/api/tenants/${tenantId}/plan`);
    expect(await plan.json()).toMatchObject({ plan: "trial", tokenBudget: 200_000 });
    const spent = await admin.json(`/api/tenants/${tenantId}/plan`, { token_budget: 0 }, "PATCH");
    expect(spent.status).toBe(200);
    // Wait for the tenant bucket to hold a token again, so the quota is what refuses.
    await new Promise((r) => setTimeout(r, 6_500));
    const refused = await ask(b);
    expect(refused.status).toBe(429);
    expect(await refused.json()).toMatchObject({ error: { code: "quota_exceeded" } });

    await admin.json(
      `/api/tenants/${tenantId}/plan`,
      { token_budget: null, trial_ends_at: Date.now() - 1000 },
      "PATCH",
    );
    await new Promise((r) => setTimeout(r, 6_500));
    const ended = await ask(a);
    expect(ended.status).toBe(429);
    expect(await ended.json()).toMatchObject({
      error: { code: "quota_exceeded", message: "This assistant's trial has ended." },
    });
  }, 30_000);
});

describe("the audit log", () => {
  it("records asks and admin actions, exported as JSON and CSV to the tenant's admins", async () => {
    const json = await admin.fetch(`/api/tenants/${tenantId}/audit?format=json&limit=500`);
    expect(json.status).toBe(200);
    const { entries } = (await json.json()) as {
      entries: Array<{
        kind: string;
        action: string;
        outcome: string;
        questionSha256: string | null;
      }>;
    };
    const asks = entries.filter((e) => e.kind === "ask");
    expect(asks.some((e) => e.outcome === "abstained" || e.outcome === "answered")).toBe(true);
    expect(asks.some((e) => e.outcome === "rate_limited")).toBe(true);
    expect(asks.some((e) => e.outcome === "quota_exceeded")).toBe(true);
    expect(asks.every((e) => /^[0-9a-f]{64}$/.test(e.questionSha256 ?? ""))).toBe(true);
    expect(entries.map((e) => e.action)).toEqual(
      expect.arrayContaining(["tenant.create", "api_key.create", "plan.set"]),
    );

    const csv = await admin.fetch(`/api/tenants/${tenantId}/audit?format=csv`);
    expect(csv.headers.get("content-type")).toMatch(/text\/csv/);
    const lines = (await csv.text()).trim().split("\r\n");
    expect(lines[0]).toBe(
      "id,time,kind,actor,action,outcome,question_sha256,latency_ms,prompt_tokens,completion_tokens,cache_hit,detail",
    );
    expect(lines.length).toBe(entries.length + 1);

    const anonymous = await fetch(`${a.url}/api/tenants/${tenantId}/audit`);
    expect(anonymous.status).toBe(401);
    const unknownParam = await admin.fetch(`/api/tenants/${tenantId}/audit?format=xml`);
    expect(unknownParam.status).toBe(400);
  });
});
