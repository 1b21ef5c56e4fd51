// The LLM path through the built server, against a local server that speaks the OpenAI
// chat-completions protocol and fails on purpose: answers with the provider's usage, a
// tenant's model override, degraded extractive answers during an outage with the breaker
// opening and closing again, the health report, and upstream aborts when a visitor leaves.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readAskEvents, type DoneEvent } from "#app/shared/ask-events.ts";
import { createTenant, signIn, uploadFixtures, waitForJobs } from "../support/admin.ts";
import { createAdmin } from "../support/cli.ts";
import { startFakeLlm, type FakeLlm } from "../support/fake-llm.ts";
import type { Client } from "../support/server.ts";
import { startServer, tempDataDir, waitFor, type TestServer } from "../support/server.ts";
import { allowOrigins, bearer, makeSecretKey, widgetKeyOf } from "../support/keys.ts";

const QUESTION = "How often must the Lumen X2 espresso machine be descaled?";
let llm: FakeLlm;
let server: TestServer;
let admin: Client;
let tenantId: string;
let apiKey: string;

interface Health {
  status: string;
  providers: { provider: string; model: string; breaker: string; recentCalls: number }[];
}

async function ask(query = QUESTION): Promise<DoneEvent> {
  const res = await fetch(`${server.url}/api/ask`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json", ...bearer(apiKey) },
    body: JSON.stringify({ tenant_id: tenantId, query }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as DoneEvent;
}

async function health(): Promise<Health> {
  return (await (await fetch(`${server.url}/api/health/rag-pipeline`)).json()) as Health;
}

const chatRequests = () => llm.requests.filter((r) => r.path.endsWith("/chat/completions"));

beforeAll(async () => {
  llm = await startFakeLlm({ reply: "Descale it every 3 weeks [1].", tokenDelayMs: 0 });
  const dataDir = tempDataDir();
  await createAdmin(dataDir);
  server = await startServer({
    dataDir,
    env: {
      LLM_BASE_URL: `${llm.url}/v1`,
      LLM_MODEL: "house-model",
      // These tests watch each question reach the LLM; repeated questions would be cached.
      ANSWER_CACHE_SIZE: "0",
      LLM_FIRST_TOKEN_TIMEOUT_MS: "2000",
      LLM_RETRY_BASE_MS: "10",
      LLM_MAX_RETRIES: "1",
      LLM_BREAKER_MIN_CALLS: "2",
      LLM_BREAKER_WINDOW_MS: "10000",
      LLM_BREAKER_HALF_OPEN_MS: "1500",
    },
  });
  admin = await signIn(server.url);
  tenantId = await createTenant(admin, "Lumen");
  apiKey = await makeSecretKey(admin, tenantId);
  await waitForJobs(admin, tenantId, await uploadFixtures(admin, tenantId, ["sample.md"]));
});

afterAll(async () => {
  await server?.stop();
  await llm?.close();
});

describe("answers from an OpenAI-compatible server", () => {
  it("streams the provider's answer with its own usage report", async () => {
    const done = await ask();
    expect(done.answer).toBe("Descale it every 3 weeks [1].");
    expect(done).toMatchObject({ provider: "openai", model: "house-model", degraded: false });
    expect(done.usage.estimated).toBe(false);
    expect(done.citations[0]?.title).toBe("Lumen X2 Care Guide");
    const body = chatRequests().at(-1)!.body as { model: string; messages: { content: string }[] };
    expect(body.model).toBe("house-model");
    expect(JSON.stringify(body.messages)).toContain("descaled every 3 weeks");
  });

  it("uses the tenant's own model once an admin sets it", async () => {
    const res = await admin.json(
      `/api/tenants/${tenantId}`,
      { llm_model: "tenant-model" },
      "PATCH",
    );
    expect(res.status).toBe(200);
    expect(((await res.json()) as { tenant: { llmModel: string } }).tenant.llmModel).toBe(
      "tenant-model",
    );
    await ask();
    expect((chatRequests().at(-1)!.body as { model: string }).model).toBe("tenant-model");
    const bad = await admin.json(`/api/tenants/${tenantId}`, { llm_model: "a b" }, "PATCH");
    expect(bad.status).toBe(400);
    await admin.json(`/api/tenants/${tenantId}`, { llm_model: null }, "PATCH");
  });

  it("answers in degraded mode during an outage, opens the breaker, then recovers", async () => {
    llm.setBehaviour({ failStatus: 503, failCount: Infinity });
    const first = await ask();
    expect(first.degraded).toBe(true);
    expect(first.provider).toBe("extractive");
    expect(first.answer).toMatch(/3 weeks/);
    expect(first.citations.length).toBeGreaterThan(0);

    const open = await waitFor(
      async () => {
        const done = await ask();
        expect(done.degraded).toBe(true);
        return done.degradedReason === "breaker_open" ? done : undefined;
      },
      { what: "the breaker to open", intervalMs: 50 },
    );
    expect(open.answer).toMatch(/3 weeks/);
    const during = chatRequests().length;
    await ask();
    expect(chatRequests().length).toBe(during);
    const report = await health();
    expect(report.status).toBe("degraded");
    expect(report.providers[0]).toMatchObject({ provider: "openai", breaker: "open" });

    llm.setBehaviour({ failStatus: null, failCount: 0 });
    const recovered = await waitFor(
      async () => {
        const done = await ask();
        return done.degraded ? undefined : done;
      },
      { what: "the breaker to close again", intervalMs: 200, timeoutMs: 30_000 },
    );
    expect(recovered.provider).toBe("openai");
    expect((await health()).providers[0]?.breaker).toBe("closed");
  });

  it("aborts the upstream request when the visitor goes away", async () => {
    llm.setBehaviour({ reply: "word ".repeat(200), tokenDelayMs: 50 });
    const before = llm.aborted;
    const visitor = new AbortController();
    const res = await fetch(`${server.url}/api/ask`, {
      method: "POST",
      headers: { "content-type": "application/json", ...bearer(apiKey) },
      body: JSON.stringify({ tenant_id: tenantId, query: QUESTION }),
      signal: visitor.signal,
    });
    let tokens = 0;
    try {
      for await (const event of readAskEvents(res.body!)) {
        if (event.event === "token" && ++tokens === 3) visitor.abort();
      }
    } catch {
      // the abort ends the read
    }
    await waitFor(async () => (llm.aborted > before ? true : undefined), {
      what: "the upstream request to be aborted",
      timeoutMs: 10_000,
    });
    llm.setBehaviour({ reply: "Descale it every 3 weeks [1].", tokenDelayMs: 0 });
  });

  it("stores the widget's settings and serves them to the widget on any origin", async () => {
    const res = await admin.json(
      `/api/tenants/${tenantId}`,
      {
        widget: {
          greeting: "Hi from Lumen!",
          position: "top-left",
          starterQuestions: ["Descaling?"],
        },
      },
      "PATCH",
    );
    expect(res.status).toBe(200);
    await allowOrigins(admin, tenantId, ["https://shop.example"]);
    const key = await widgetKeyOf(admin, tenantId);
    const config = await fetch(`${server.url}/api/widget/${tenantId}/config?key=${key}`, {
      headers: { origin: "https://shop.example" },
    });
    expect(config.status).toBe(200);
    expect(config.headers.get("access-control-allow-origin")).toBe("https://shop.example");
    expect(await config.json()).toMatchObject({
      greeting: "Hi from Lumen!",
      position: "top-left",
      starterQuestions: ["Descaling?"],
    });
    const bad = await admin.json(
      `/api/tenants/${tenantId}`,
      { widget: { position: "middle" } },
      "PATCH",
    );
    expect(bad.status).toBe(400);
    const unknown = await fetch(`${server.url}/api/widget/tn_${"0".repeat(32)}/config?key=${key}`);
    expect(unknown.status).toBe(404);
  });

  it("reports readiness", async () => {
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      status: "ready",
      uptimeSeconds: expect.any(Number),
    });
  });
});
