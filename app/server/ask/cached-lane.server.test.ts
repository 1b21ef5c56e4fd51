import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { readAskEvents, type DoneEvent } from "#app/shared/ask-events.ts";
import { listAudit } from "#tenants/audit.ts";
import { replaceDocument } from "#tenants/knowledge-base.ts";
import { FakeEmbedder } from "../../../tests/support/fake-embedder.ts";
import { parseConfig } from "../config.server.ts";
import type { TenantRecord } from "../control-db.server.ts";
import { createHttpHandler } from "../observability/http-observer.server.ts";
import { createSecretKey } from "../access/keys.server.ts";
import { closeLimiters } from "../limits/limits.server.ts";
import { silentLogger } from "../logger.server.ts";
import { closeRuntime, createRuntime } from "../runtime/build.server.ts";
import type { Runtime } from "../runtime/runtime.server.ts";
import { createTenant } from "../tenancy/tenants.server.ts";
import { cachedAnswerSse } from "./answer-cache.server.ts";
import { askStream, replayCachedAsk } from "./ask.server.ts";
import { createCachedAskLane, requestHead } from "./cached-lane.server.ts";
import { encodeEvent } from "./sse.server.ts";

const embedder = new FakeEmbedder({ dimension: 16 });
const QUESTION = "When does the harbour ferry leave?";

let dir: string;
let runtime: Runtime | undefined;
let server: http.Server | undefined;

afterEach(async () => {
  if (server) await new Promise((resolve) => server!.close(resolve));
  server = undefined;
  if (runtime) await closeRuntime(runtime);
  runtime = undefined;
  closeLimiters();
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Setup {
  url: string;
  rt: Runtime;
  tenant: TenantRecord;
  secret: string;
  /** The requests the lane sent on to the app, with their bodies. */
  passed: { method: string; body: string; url: string }[];
}

async function setUp(env: Record<string, string> = {}): Promise<Setup> {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-lane-"));
  const rt = await createRuntime({
    config: parseConfig({
      DATA_DIR: dir,
      DEMO_TENANT: "false",
      RATE_LIMIT_TENANT_PER_MINUTE: "0",
      RATE_LIMIT_IP_PER_MINUTE: "0",
      RATE_LIMIT_SESSION_PER_MINUTE: "0",
      ...env,
    }),
    logger: silentLogger,
    embedder,
  });
  runtime = rt;
  const tenant = createTenant(rt, { name: "Harbour" });
  const text = "The harbour ferry leaves every 40 minutes from pier 3.";
  replaceDocument(rt.tenants.get(tenant.id), {
    sourceKey: "text:ferry",
    sourceType: "text",
    title: "Ferry",
    contentHash: "h",
    bytes: text.length,
    chunks: [
      { ord: 0, headingPath: "Ferry", text, tokenCount: 12, embedding: embedder.vector(text) },
    ],
  });
  const { secret } = createSecretKey(rt.control, {
    tenantId: tenant.id,
    name: "test",
    createdBy: "test",
  });
  const passed: Setup["passed"] = [];
  const lane = createCachedAskLane(rt, {
    async app(request) {
      passed.push({ method: request.method, body: await request.text(), url: request.url });
      return new Response("from the route", { status: 299 });
    },
    onError: () => new Response("error", { status: 500 }),
  });
  const handler = createHttpHandler({
    routes: {},
    logger: silentLogger,
    assets: (_req, _res, next) => next(),
    app: (_req, res) => res.writeHead(404).end("not the lane"),
    lane,
  });
  server = http.createServer(handler);
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, rt, tenant, secret, passed };
}

async function fillCache(rt: Runtime, tenant: TenantRecord, query = QUESTION): Promise<DoneEvent> {
  let done: DoneEvent | undefined;
  for await (const event of askStream(rt, { tenant, query })) {
    if (event.event === "done") done = event.data;
  }
  return done!;
}

function post(setup: Setup, body: unknown, headers: Record<string, string> = {}) {
  return fetch(`${setup.url}/api/ask`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      authorization: `Bearer ${setup.secret}`,
      ...headers,
    },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

describe("the cached-answer lane", () => {
  it("answers a cached first question itself, recorded, counted and audited", async () => {
    const setup = await setUp();
    const { rt, tenant } = setup;
    const first = await fillCache(rt, tenant);
    expect(first.cached).toBe(false);

    const res = await post(setup, { tenant_id: tenant.id, query: `${QUESTION.toUpperCase()}!` });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    expect(res.headers.get("cache-control")).toBe("no-cache, no-transform");
    expect(res.headers.get("vary")).toBe("Origin");
    expect(res.headers.get("referrer-policy")).toBe("strict-origin-when-cross-origin");
    expect(res.headers.get("strict-transport-security")).toBeNull();
    expect(res.headers.get("x-request-id")).toBeTruthy();
    const events = [];
    for await (const event of readAskEvents(res.body!)) events.push(event);
    expect(events[0]?.event).toBe("sources");
    const done = events.at(-1)!.data as DoneEvent;
    expect(done).toMatchObject({ cached: true, answer: first.answer, citations: first.citations });
    expect(
      events
        .slice(1, -1)
        .map((e) => (e.data as { text: string }).text)
        .join(""),
    ).toBe(first.answer);
    expect(setup.passed).toHaveLength(0);

    expect(rt.answerCache.counts(tenant.id)).toEqual({ hits: 1, misses: 1 });
    const [entry] = listAudit(rt.tenants.get(tenant.id), { limit: 1, kind: "ask" });
    expect(entry).toMatchObject({ outcome: "answered", cacheHit: true, promptTokens: 0 });

    const json = await post(
      setup,
      { tenant_id: tenant.id, query: QUESTION },
      { accept: "application/json" },
    );
    expect(json.headers.get("content-type")).toBe("application/json");
    expect(await json.json()).toMatchObject({ cached: true, answer: first.answer });
    expect(rt.answerCache.counts(tenant.id)).toEqual({ hits: 2, misses: 1 });
  });

  it("sends misses, batches and anything doubtful on with the body it read, counting nothing", async () => {
    const setup = await setUp();
    const { tenant, rt } = setup;
    const miss = JSON.stringify({ tenant_id: tenant.id, query: "Is there a café on board?" });
    const res = await post(setup, miss);
    expect(res.status).toBe(299);
    expect(await res.text()).toBe("from the route");
    expect(setup.passed[0]).toMatchObject({ method: "POST", body: miss });
    expect(setup.passed[0]?.url).toBe(`${setup.url}/api/ask`);
    // A peek is not a lookup: the route counts the miss when it answers.
    expect(rt.answerCache.counts(tenant.id)).toEqual({ hits: 0, misses: 0 });

    await fillCache(rt, tenant);
    for (const body of [
      "{not json",
      { tenant_id: tenant.id, queries: [QUESTION] },
      { tenant_id: tenant.id, query: QUESTION, surprise: true },
      { tenant_id: "tn_00000000000000000000000000000000", query: QUESTION },
    ]) {
      expect((await post(setup, body)).status).toBe(299);
    }
    expect(
      (
        await post(
          setup,
          { tenant_id: tenant.id, query: QUESTION },
          { "content-type": "text/plain" },
        )
      ).status,
    ).toBe(299);
    expect(
      (await post(setup, { tenant_id: tenant.id, query: QUESTION }, { authorization: "Bearer x" }))
        .status,
    ).toBe(299);
    expect(setup.passed).toHaveLength(7);
    // Not the lane's at all: other methods and paths, and bodies without a length.
    expect((await fetch(`${setup.url}/api/ask`)).status).toBe(404);
    expect(
      (
        await fetch(`${setup.url}/api/ask/other`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: "{}",
        })
      ).status,
    ).toBe(404);
  });

  it("refuses an ask over its rate limit itself, without sending it on or counting a hit", async () => {
    const setup = await setUp({ RATE_LIMIT_TENANT_PER_MINUTE: "1" });
    const { tenant, rt } = setup;
    await fillCache(rt, tenant);
    const allowed = await post(setup, { tenant_id: tenant.id, query: QUESTION });
    expect(allowed.status).toBe(200);
    await allowed.arrayBuffer();
    const refused = await post(setup, { tenant_id: tenant.id, query: QUESTION });
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(refused.headers.get("x-content-type-options")).toBe("nosniff");
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("rate_limited");
    expect(setup.passed).toHaveLength(0);
    expect(rt.answerCache.counts(tenant.id)).toEqual({ hits: 1, misses: 1 });
    const [entry] = listAudit(rt.tenants.get(tenant.id), { limit: 1, kind: "ask" });
    expect(entry?.outcome).toBe("rate_limited");
  });

  it("ends the stream with an error event when the replay cannot be recorded", async () => {
    const setup = await setUp();
    const { tenant, rt } = setup;
    await fillCache(rt, tenant);
    // The messages table cannot take the exchange any more.
    rt.tenants
      .get(tenant.id)
      .exec(
        "CREATE TRIGGER no_more BEFORE INSERT ON messages BEGIN SELECT RAISE(ABORT, 'full'); END",
      );
    const res = await post(setup, { tenant_id: tenant.id, query: QUESTION });
    expect(res.status).toBe(200);
    const events = [];
    for await (const event of readAskEvents(res.body!)) events.push(event);
    expect(events).toEqual([
      { event: "error", data: { code: "internal_error", message: "Something went wrong." } },
    ]);
    const json = await post(
      setup,
      { tenant_id: tenant.id, query: QUESTION },
      { accept: "application/json" },
    );
    expect(json.status).toBe(500);
    expect(((await json.json()) as { error: { code: string } }).error.code).toBe("internal_error");
    const [entry] = listAudit(rt.tenants.get(tenant.id), { limit: 1, kind: "ask" });
    expect(entry?.outcome).toBe("internal_error");
  });
});

describe("the lane's encoding and request view", () => {
  it("encodes a replay byte for byte as the route's events", async () => {
    const setup = await setUp();
    const { rt, tenant } = setup;
    const entry = {
      answer: "Every 40 minutes [1]. “Quoted” — ünïcode\nline",
      sources: [
        {
          n: 1,
          documentId: 1,
          title: "Ferry",
          url: null,
          fileName: null,
          headingPath: "Ferry",
          snippet: "The harbour ferry…",
          score: 0.5,
        },
      ],
      citations: [],
      abstained: false,
      provider: "extractive",
      model: "x",
    };
    const done = replayCachedAsk(rt, { tenant, query: QUESTION }, "cv_test", entry);
    const expected = [
      encodeEvent("sources", { conversationId: "cv_test", sources: entry.sources }),
      ...["Every 40 minutes [1]. ", "“Quoted” — ünïcode\nline"].map((text) =>
        encodeEvent("token", { text }),
      ),
      encodeEvent("done", done),
    ];
    const bytes = Buffer.concat(expected.map((part) => Buffer.from(part)));
    expect(Buffer.from(cachedAnswerSse(entry, done)).equals(bytes)).toBe(true);
    // Encoded once, kept with the entry: a second replay differs only in its ids and timing.
    const again = replayCachedAsk(rt, { tenant, query: QUESTION }, "cv_other", entry);
    expect(cachedAnswerSse(entry, again)).toContain('"conversationId":"cv_other"');
  });

  it("reads headers as the route's Request would, repeats joined", () => {
    const req = {
      url: "/api/ask?x=1",
      rawHeaders: [
        "Host",
        "chat.example.com",
        "Authorization",
        "Bearer a",
        "authorization",
        "Bearer b",
      ],
      socket: {},
    } as unknown as http.IncomingMessage;
    const head = requestHead(req);
    expect(head.url).toBe("http://chat.example.com/api/ask?x=1");
    expect(head.headers.get("AUTHORIZATION")).toBe("Bearer a, Bearer b");
    expect(head.headers.get("origin")).toBeNull();
    expect(requestHead(req, "https:").url).toBe("https://chat.example.com/api/ask?x=1");
  });
});
