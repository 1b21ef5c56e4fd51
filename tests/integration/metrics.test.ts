// Observability through the real server: /metrics behind its bearer token and on the
// internal port, checked by promtool; request ids echoed and on the log lines; metrics that
// move when a document is ingested and a question answered.
import { execFileSync, spawnSync } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTenant, signIn, waitForJobs } from "../support/admin.ts";
import { bearer, makeSecretKey } from "../support/keys.ts";
import { createAdmin } from "../support/cli.ts";
import { startServer, tempDataDir, type Client, type TestServer } from "../support/server.ts";
import { sample, scrapeMetrics } from "../support/metrics.ts";

const TOKEN = "metrics-test-token-0123456789";
const root = path.resolve(import.meta.dirname, "../..");
const hasPromtool = spawnSync("promtool", ["--version"]).status === 0;

let server: TestServer;
let admin: Client;
let tenantId: string;
let internalPort: number;

const scrape = () => scrapeMetrics(server.url, TOKEN);

function logLines(): Record<string, unknown>[] {
  return server
    .logs()
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

beforeAll(async () => {
  const dataDir = tempDataDir();
  await createAdmin(dataDir);
  server = await startServer({
    dataDir,
    env: { METRICS_TOKEN: TOKEN, METRICS_PORT: "0", METRICS_HOST: "127.0.0.1" },
  });
  const announced = /metrics at http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(server.logs());
  if (!announced?.[1]) throw new Error(`no metrics listener in the logs:\n${server.logs()}`);
  internalPort = Number(announced[1]);
  admin = await signIn(server.url);
  tenantId = await createTenant(admin, "Observed");
});

afterAll(async () => {
  await server?.stop();
});

describe("/metrics", () => {
  it("refuses requests without the bearer token and serves those with it", async () => {
    const anonymous = await fetch(`${server.url}/metrics`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect(await anonymous.text()).not.toContain("bitb_");
    const wrong = await fetch(`${server.url}/metrics`, {
      headers: { authorization: "Bearer not-the-token-at-all" },
    });
    expect(wrong.status).toBe(401);
    const text = await scrape();
    expect(text).toContain("# TYPE bitb_http_requests_total counter");
    expect(text).toContain("process_resident_memory_bytes");
  });

  it("is served on the internal port too, with the same token", async () => {
    const internal = `http://127.0.0.1:${internalPort}/metrics`;
    expect((await fetch(internal)).status).toBe(401);
    const res = await fetch(internal, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("bitb_tenant_db_open_handles");
  });

  it.skipIf(!hasPromtool)("passes promtool check metrics", async () => {
    // Some traffic first, so histograms and labelled counters have series.
    await fetch(`${server.url}/healthz`);
    const result = spawnSync("promtool", ["check", "metrics"], {
      input: await scrape(),
      encoding: "utf8",
    });
    expect(`${result.stdout}${result.stderr}`.trim()).toBe("");
    expect(result.status).toBe(0);
  });

  it.skipIf(!hasPromtool)("ships alert rules that promtool accepts and whose tests pass", () => {
    const rules = path.join(root, "ops/prometheus");
    const check = execFileSync("promtool", ["check", "rules", "alerts.yml"], {
      cwd: rules,
      encoding: "utf8",
    });
    expect(check).toMatch(/SUCCESS: 4 rules found/);
    const tests = execFileSync("promtool", ["test", "rules", "alerts.test.yml"], {
      cwd: rules,
      encoding: "utf8",
    });
    expect(tests).toMatch(/SUCCESS/);
  });
});

describe("request ids", () => {
  it("echoes the request id and puts it, with the tenant, on the request's log lines", async () => {
    const res = await admin.fetch(`/api/tenants/${tenantId}`, {
      method: "PATCH",
      headers: { "content-type": "application/json", "x-request-id": "obs-test-0001" },
      body: JSON.stringify({ llm_model: null }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-request-id")).toBe("obs-test-0001");
    const mine = await waitForLines("obs-test-0001", 2);
    expect(mine.map((line) => line.msg)).toEqual(["tenant settings changed", "request completed"]);
    for (const line of mine) expect(line.tenantId).toBe(tenantId);
    expect(mine[1]).toMatchObject({ route: "/api/tenants/:tenantId", status: 200 });
  });

  it("makes an id when the request has none", async () => {
    const res = await fetch(`${server.url}/healthz`);
    expect(res.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe("metrics after work", () => {
  it("move when a document is ingested and a question is answered", async () => {
    const before = await scrape();
    const added = await admin.json(`/api/tenants/${tenantId}/documents`, {
      type: "text",
      title: "Ferry timetable",
      text: "The harbour ferry to Kestrel Island leaves every 40 minutes from pier 3.",
    });
    expect(added.status).toBe(202);
    const ids = ((await added.json()) as { jobs: { id: number }[] }).jobs.map((j) => j.id);
    const jobs = await waitForJobs(admin, tenantId, ids);
    expect(jobs.map((j) => j.state)).toEqual(["done"]);

    const ask = await fetch(`${server.url}/api/ask`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json",
        "x-request-id": "obs-test-ask",
        ...bearer(await makeSecretKey(admin, tenantId)),
      },
      body: JSON.stringify({ tenant_id: tenantId, query: "How often does the ferry leave?" }),
    });
    expect(ask.status).toBe(200);
    expect(ask.headers.get("x-request-id")).toBe("obs-test-ask");
    await ask.json();
    await waitForLines("obs-test-ask", 1);
    const after = await scrape();

    const moved = (name: string, labels: Record<string, string> = {}) =>
      sample(after, name, labels) - sample(before, name, labels);
    expect(moved("bitb_ingest_jobs_total", { state: "done" })).toBe(1);
    expect(moved("bitb_ingest_chunks_total")).toBeGreaterThanOrEqual(1);
    for (const stage of ["embed", "retrieve", "first_token", "answer"]) {
      expect(moved("bitb_rag_stage_duration_seconds_count", { stage }), stage).toBe(1);
    }
    expect(moved("bitb_asks_total", { outcome: "answered" })).toBe(1);
    expect(
      moved("bitb_http_requests_total", { method: "POST", route: "/api/ask", status: "200" }),
    ).toBe(1);
    expect(sample(after, "bitb_tenant_db_open_handles")).toBeGreaterThanOrEqual(1);
    // Tenant ids are never metric labels.
    expect(after).not.toContain(tenantId);

    // The admin's exact usage of the day comes from the tenant's own database.
    const tenant = await admin.fetch(`/api/tenants/${tenantId}`);
    const { usage } = (await tenant.json()) as {
      usage: { asks: number; latencyP95Ms: number | null }[];
    };
    expect(usage.at(-1)?.asks).toBe(1);
    expect(usage.at(-1)?.latencyP95Ms).toEqual(expect.any(Number));
  });
});

/** The log lines of one request, once at least `count` of them were written. */
async function waitForLines(requestId: string, count: number) {
  const deadline = Date.now() + 5000;
  for (;;) {
    const lines = logLines().filter((line) => line.requestId === requestId);
    if (lines.length >= count || Date.now() > deadline) return lines;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
