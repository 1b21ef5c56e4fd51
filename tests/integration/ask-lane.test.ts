// The cached-answer lane (docs/decisions/034) through the built server: a repeated first
// question is answered in front of React Router with the route's own events, headers,
// checks and records, and everything else still reaches the route.
//
// A request whose body is streamed (chunked, no Content-Length) always goes to the route,
// which answers a cached question through the ask pipeline's replay: that is the reference
// the lane's answers are compared with. The lane answers with a Content-Length (one write).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readAskEvents, type AskEventName, type DoneEvent } from "#app/shared/ask-events.ts";
import { createTenant, signIn, waitForJobs } from "../support/admin.ts";
import { createAdmin } from "../support/cli.ts";
import {
  allowOrigins,
  bearer,
  makeSecretKey,
  visitorSession,
  widgetKeyOf,
} from "../support/keys.ts";
import { startServer, tempDataDir, type Client, type TestServer } from "../support/server.ts";
import { sample, scrapeMetrics } from "../support/metrics.ts";

const METRICS_TOKEN = "lane-test-metrics-token-0123456789";
const SITE = "https://shop.example.com";
const QUESTION = "When does the harbour ferry to Kestrel Island leave?";

interface Tenant {
  id: string;
  secret: string;
  widgetKey: string;
}

interface Asked {
  status: number;
  headers: Headers;
  events: { event: AskEventName; data: unknown }[];
  text: string;
}

async function addKnowledge(admin: Client, tenantId: string, facts: [string, string][]) {
  const ids: number[] = [];
  for (const [title, text] of facts) {
    const res = await admin.json(`/api/tenants/${tenantId}/documents`, {
      type: "text",
      title,
      text,
    });
    expect(res.status).toBe(202);
    ids.push(...((await res.json()) as { jobs: { id: number }[] }).jobs.map((j) => j.id));
  }
  const jobs = await waitForJobs(admin, tenantId, ids);
  expect(jobs.every((j) => j.state === "done")).toBe(true);
}

async function setUpTenant(admin: Client, name: string, facts: [string, string][]) {
  const id = await createTenant(admin, name);
  await addKnowledge(admin, id, facts);
  await allowOrigins(admin, id, [SITE]);
  return { id, secret: await makeSecretKey(admin, id), widgetKey: await widgetKeyOf(admin, id) };
}

/** One ask; `streamed` sends the body chunked, which only the route takes. */
async function ask(
  server: TestServer,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
  streamed = false,
): Promise<Asked> {
  const json = JSON.stringify(body);
  const res = await fetch(`${server.url}/api/ask`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    ...(streamed
      ? {
          body: new ReadableStream({
            start(controller) {
              controller.enqueue(new TextEncoder().encode(json));
              controller.close();
            },
          }),
          duplex: "half",
        }
      : { body: json }),
  } as RequestInit);
  const type = res.headers.get("content-type") ?? "";
  if (type.startsWith("text/event-stream") && res.body) {
    const events: Asked["events"] = [];
    for await (const event of readAskEvents(res.body)) events.push(event);
    return { status: res.status, headers: res.headers, events, text: "" };
  }
  return { status: res.status, headers: res.headers, events: [], text: await res.text() };
}

const done = (asked: Asked) => asked.events.find((e) => e.event === "done")?.data as DoneEvent;

/** The events without what differs between any two asks: ids and timings. */
function comparable(asked: Asked) {
  return asked.events.map(({ event, data }) => {
    if (event === "sources") return { event, data: { ...(data as object), conversationId: "-" } };
    if (event === "done") {
      return {
        event,
        data: { ...(data as DoneEvent), conversationId: "-", messageId: 0, latency: null },
      };
    }
    return { event, data };
  });
}

/** The headers an application sets (not the framing, date or request id). */
function appHeaders(headers: Headers): Record<string, string> {
  const skip = new Set([
    "date",
    "x-request-id",
    "content-length",
    "transfer-encoding",
    "keep-alive",
  ]);
  return Object.fromEntries([...headers].filter(([name]) => !skip.has(name)));
}

const metricsText = (server: TestServer) => scrapeMetrics(server.url, METRICS_TOKEN);

const FERRY: [string, string][] = [
  ["Ferry", "The harbour ferry to Kestrel Island leaves every 40 minutes from pier 3."],
  ["Espresso", "The Lumen X2 espresso machine must be descaled every 3 weeks."],
];

describe("the cached-answer lane", () => {
  let server: TestServer;
  let admin: Client;
  let shop: Tenant;
  let other: Tenant;

  beforeAll(async () => {
    const dataDir = tempDataDir();
    await createAdmin(dataDir);
    server = await startServer({
      dataDir,
      env: {
        METRICS_TOKEN,
        RATE_LIMIT_TENANT_PER_MINUTE: "0",
        RATE_LIMIT_IP_PER_MINUTE: "0",
        RATE_LIMIT_SESSION_PER_MINUTE: "0",
      },
    });
    admin = await signIn(server.url);
    shop = await setUpTenant(admin, "Shop", FERRY);
    other = await setUpTenant(admin, "Other", [
      ["Ferry", "The harbour ferry to Kestrel Island is suspended for the winter."],
    ]);
  });

  afterAll(async () => {
    await server?.stop();
  });

  const widgetAsk = async (tenant: Tenant, query: string, streamed = false) =>
    ask(
      server,
      {
        tenant_id: tenant.id,
        query,
        key: tenant.widgetKey,
        session_token: await visitorSession(server.url, tenant.id, tenant.widgetKey, SITE),
      },
      { origin: SITE },
      streamed,
    );

  it("answers a widget visitor's repeated question with the route's events and headers", async () => {
    const first = await widgetAsk(shop, QUESTION);
    expect(first.status).toBe(200);
    expect(done(first).cached).toBe(false);

    const viaRoute = await widgetAsk(shop, QUESTION, true);
    const viaLane = await widgetAsk(shop, `  ${QUESTION.toLowerCase()}  `);
    expect(viaRoute.headers.get("transfer-encoding")).toBe("chunked");
    expect(viaLane.headers.get("content-length")).toMatch(/^\d+$/);

    expect(done(viaLane)).toMatchObject({ cached: true, answer: done(first).answer });
    expect(viaLane.events.map((e) => e.event)).toEqual(viaRoute.events.map((e) => e.event));
    expect(comparable(viaLane)).toEqual(comparable(viaRoute));
    expect(appHeaders(viaLane.headers)).toEqual(appHeaders(viaRoute.headers));
    expect(viaLane.headers.get("access-control-allow-origin")).toBe(SITE);
    expect(viaLane.headers.get("x-content-type-options")).toBe("nosniff");
    expect(viaLane.headers.get("x-request-id")).toBeTruthy();

    // The conversation is the visitor's own, named in both the sources and done events.
    const sources = viaLane.events[0]?.data as { conversationId: string };
    expect(done(viaLane).conversationId).toBe(sources.conversationId);
    expect(done(viaLane).messageId).toBeGreaterThan(done(viaRoute).messageId);
  });

  it("answers secret-key and JSON asks the same way", async () => {
    const body = { tenant_id: shop.id, query: QUESTION };
    const streamedJson = await ask(
      server,
      body,
      { ...bearer(shop.secret), accept: "application/json" },
      true,
    );
    const laneJson = await ask(server, body, {
      ...bearer(shop.secret),
      accept: "application/json",
    });
    expect(laneJson.status).toBe(200);
    expect(appHeaders(laneJson.headers)).toEqual(appHeaders(streamedJson.headers));
    const [a, b] = [JSON.parse(streamedJson.text), JSON.parse(laneJson.text)] as DoneEvent[];
    expect(b).toMatchObject({ cached: true, answer: a!.answer, citations: a!.citations });
    expect(Object.keys(b!)).toEqual(Object.keys(a!));

    const laneSse = await ask(server, body, bearer(shop.secret));
    const routeSse = await ask(server, body, bearer(shop.secret), true);
    expect(comparable(laneSse)).toEqual(comparable(routeSse));
    expect(appHeaders(laneSse.headers)).toEqual(appHeaders(routeSse.headers));
    expect(laneSse.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("counts each answer once in the usage, the audit log and the metrics", async () => {
    const before = await metricsText(server);
    const usage = async () =>
      (
        (await (await admin.fetch(`/api/tenants/${shop.id}`)).json()) as {
          usage: { asks: number; cacheHits: number }[];
        }
      ).usage[0]!;
    const usageBefore = await usage();
    for (let i = 0; i < 3; i++) {
      expect(
        done(await ask(server, { tenant_id: shop.id, query: QUESTION }, bearer(shop.secret))),
      ).toMatchObject({ cached: true });
    }
    const after = await metricsText(server);
    const delta = (name: string, labels: Record<string, string>) =>
      sample(after, name, labels) - sample(before, name, labels);
    expect(delta("bitb_answer_cache_total", { result: "hit" })).toBe(3);
    expect(delta("bitb_answer_cache_total", { result: "miss" })).toBe(0);
    expect(delta("bitb_asks_total", { outcome: "answered" })).toBe(3);
    expect(
      delta("bitb_http_requests_total", { method: "POST", route: "/api/ask", status: "200" }),
    ).toBe(3);

    const usageAfter = await usage();
    expect(usageAfter.asks - usageBefore.asks).toBe(3);
    expect(usageAfter.cacheHits - usageBefore.cacheHits).toBe(3);

    const audit = await admin.fetch(`/api/tenants/${shop.id}/audit?kind=ask&limit=3`);
    const { entries } = (await audit.json()) as {
      entries: { actor: string; outcome: string; cacheHit: boolean; questionSha256: string }[];
    };
    expect(entries).toHaveLength(3);
    for (const entry of entries) {
      expect(entry).toMatchObject({ outcome: "answered", cacheHit: true });
      expect(entry.actor).toMatch(/^key:\d+$/);
      expect(entry.questionSha256).toMatch(/^[0-9a-f]{64}$/);
    }
    // The access log names the request's tenant, like any other ask.
    const lines = server
      .logs()
      .split("\n")
      .filter((line) => line.includes('"route":"/api/ask"') && line.includes(shop.id));
    expect(lines.length).toBeGreaterThan(0);
  });

  it("never answers one tenant from another's cache", async () => {
    const theirs = await ask(
      server,
      { tenant_id: other.id, query: QUESTION },
      bearer(other.secret),
    );
    expect(done(theirs).cached).toBe(false);
    expect(done(theirs).answer).not.toBe(done(await widgetAsk(shop, QUESTION)).answer);
    // Shop's key cannot ask as Other, cached question or not; Other's widget key neither.
    const crossed = await ask(
      server,
      { tenant_id: other.id, query: QUESTION },
      bearer(shop.secret),
    );
    expect(crossed.status).toBe(401);
    expect(JSON.parse(crossed.text)).toEqual({
      error: { code: "unauthorized", message: "Invalid API key for this tenant." },
    });
    const wrongKey = await ask(
      server,
      {
        tenant_id: shop.id,
        query: QUESTION,
        key: other.widgetKey,
        session_token: await visitorSession(server.url, shop.id, shop.widgetKey, SITE),
      },
      { origin: SITE },
    );
    expect(wrongKey.status).toBe(403);
    const badOrigin = await ask(
      server,
      {
        tenant_id: shop.id,
        query: QUESTION,
        key: shop.widgetKey,
        session_token: await visitorSession(server.url, shop.id, shop.widgetKey, SITE),
      },
      { origin: "https://evil.example.com" },
    );
    expect(badOrigin.status).toBe(403);
    expect(badOrigin.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("sends misses, follow-ups, batches and bad requests on to the route", async () => {
    const fresh = await ask(
      server,
      { tenant_id: shop.id, query: "How often must the espresso machine be descaled?" },
      bearer(shop.secret),
    );
    expect(done(fresh)).toMatchObject({ cached: false });
    expect(done(fresh).answer).toMatch(/3 weeks/);

    // A follow-up in the same conversation depends on its history: never a replay.
    const followUp = await ask(
      server,
      { tenant_id: shop.id, query: QUESTION, session_id: done(fresh).conversationId },
      bearer(shop.secret),
    );
    expect(done(followUp).cached).toBe(false);

    const batch = await ask(
      server,
      { tenant_id: shop.id, queries: [QUESTION, "How often is the espresso machine descaled?"] },
      bearer(shop.secret),
    );
    expect(batch.events.at(-1)?.event).toBe("batch_done");

    const invalid = await ask(
      server,
      { tenant_id: shop.id, query: QUESTION, extra: 1 },
      bearer(shop.secret),
    );
    expect(invalid.status).toBe(400);
    expect(JSON.parse(invalid.text).error.code).toBe("validation_failed");
    const notJson = await fetch(`${server.url}/api/ask`, {
      method: "POST",
      headers: { "content-type": "text/plain", ...bearer(shop.secret) },
      body: JSON.stringify({ tenant_id: shop.id, query: QUESTION }),
    });
    expect(notJson.status).toBe(415);
    const unknown = await ask(
      server,
      { tenant_id: "tn_00000000000000000000000000000000", query: QUESTION },
      bearer(shop.secret),
    );
    expect(unknown.status).toBe(404);
    const anonymous = await ask(server, { tenant_id: shop.id, query: QUESTION });
    expect(anonymous.status).toBe(403);
  });
});

describe("the cached-answer lane under rate limits", () => {
  let server: TestServer;
  let admin: Client;
  let limited: Tenant;

  beforeAll(async () => {
    const dataDir = tempDataDir();
    await createAdmin(dataDir);
    server = await startServer({
      dataDir,
      env: {
        METRICS_TOKEN,
        RATE_LIMIT_TENANT_PER_MINUTE: "12",
        RATE_LIMIT_IP_PER_MINUTE: "0",
        RATE_LIMIT_SESSION_PER_MINUTE: "0",
      },
    });
    admin = await signIn(server.url);
    limited = await setUpTenant(admin, "Limited", FERRY);
    // Loads the encoder before the clock of the tenant's bucket matters.
    const warm = await setUpTenant(admin, "Warm", FERRY);
    await ask(server, { tenant_id: warm.id, query: QUESTION }, bearer(warm.secret));
  });

  afterAll(async () => {
    await server?.stop();
  });

  it("takes one token per ask, hit or miss, and refuses the 13th with the one error shape", async () => {
    const asked = (query: string) =>
      ask(server, { tenant_id: limited.id, query }, bearer(limited.secret));
    const misses = [QUESTION, "Espresso descaling?", "Which pier?", "Kestrel Island?"];
    const answers: Asked[] = [];
    for (const query of misses) answers.push(await asked(query));
    for (let i = 0; i < 8; i++) answers.push(await asked(misses[i % misses.length]!));
    expect(answers.map((a) => a.status)).toEqual(Array(12).fill(200));
    expect(answers.slice(4).every((a) => done(a).cached)).toBe(true);

    const before = await metricsText(server);
    const refused = await asked(QUESTION);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(refused.headers.get("x-content-type-options")).toBe("nosniff");
    expect(JSON.parse(refused.text)).toEqual({
      error: { code: "rate_limited", message: expect.stringMatching(/^Too many requests/) },
    });
    const after = await metricsText(server);
    expect(
      sample(after, "bitb_rate_limit_rejections_total", { scope: "tenant" }) -
        sample(before, "bitb_rate_limit_rejections_total", { scope: "tenant" }),
    ).toBe(1);
    // Refused before the cache was used: no hit counted; the refusal is audited.
    expect(
      sample(after, "bitb_answer_cache_total", { result: "hit" }) -
        sample(before, "bitb_answer_cache_total", { result: "hit" }),
    ).toBe(0);
    const audit = await admin.fetch(`/api/tenants/${limited.id}/audit?kind=ask&limit=1`);
    const { entries } = (await audit.json()) as { entries: { outcome: string }[] };
    expect(entries[0]?.outcome).toBe("rate_limited");
  });
});
