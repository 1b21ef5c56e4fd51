// Batch questions through the real HTTP surface of the built server: several questions in
// one POST /api/ask, answered by the default extractive answerer from the fixture files.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readAskEvents, type BatchDoneEvent, type BatchResult } from "#app/shared/ask-events.ts";
import {
  createTenant,
  fixtureCases,
  signIn,
  uploadFixtures,
  waitForJobs,
} from "../support/admin.ts";
import { createAdmin } from "../support/cli.ts";
import { startServer, tempDataDir, type TestServer } from "../support/server.ts";
import { bearer, makeSecretKey } from "../support/keys.ts";

const cases = fixtureCases;
const UNCOVERED = "What is the airspeed velocity of an unladen swallow?";

let server: TestServer;
let tenantId: string;
let apiKey: string;

function ask(body: unknown, json = true): Promise<Response> {
  return fetch(`${server.url}/api/ask`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...bearer(apiKey),
      ...(json ? { accept: "application/json" } : {}),
    },
    body: JSON.stringify(body),
  });
}

function expectAnswered(results: BatchResult[]) {
  cases.forEach((c, i) => {
    const result = results[i]!;
    expect(result.index).toBe(i);
    expect(result.query).toBe(c.question);
    expect(result.error).toBeNull();
    expect(result.abstained).toBe(false);
    expect(result.answer).toMatch(c.expect);
    expect(result.citations[0]!.fileName).toBe(c.file);
    expect(result.provider).toBe("extractive");
  });
}

beforeAll(async () => {
  const dataDir = tempDataDir();
  await createAdmin(dataDir);
  server = await startServer({ dataDir });
  const admin = await signIn(server.url);
  tenantId = await createTenant(admin, "Batch");
  apiKey = await makeSecretKey(admin, tenantId);
  const ids = await uploadFixtures(
    admin,
    tenantId,
    cases.map((c) => c.file),
  );
  const jobs = await waitForJobs(admin, tenantId, ids);
  expect(jobs.every((j) => j.state === "done")).toBe(true);
});

afterAll(async () => {
  await server?.stop();
});

describe("batch questions", () => {
  it("answers every question in one JSON response", async () => {
    const queries = [...cases.map((c) => c.question), UNCOVERED, cases[0]!.question.toUpperCase()];
    const res = await ask({ tenant_id: tenantId, queries });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    const body = (await res.json()) as BatchDoneEvent;
    expect(Object.keys(body).sort()).toEqual([
      "conversationId",
      "latencyMs",
      "mode",
      "results",
      "usage",
    ]);
    expect(body.mode).toBe("parallel");
    expect(body.conversationId).toMatch(/^cv_[0-9a-f]{24}$/);
    expect(body.results).toHaveLength(queries.length);
    expectAnswered(body.results);
    expect(body.results[5]).toMatchObject({ abstained: true, citations: [], error: null });
    // A duplicate (case and punctuation aside) gets the same answer.
    expect(body.results[6]!.answer).toBe(body.results[0]!.answer);
    expect(body.usage.estimated).toBe(true);
    expect(body.usage.promptTokens).toBe(
      body.results.reduce((sum, r) => sum + r.usage.promptTokens, 0),
    );
  });

  it("streams batch, progress, result and batch_done events over SSE", async () => {
    const first = await ask({ tenant_id: tenantId, query: cases[0]!.question });
    const { conversationId } = (await first.json()) as { conversationId: string };
    const res = await ask(
      { tenant_id: tenantId, queries: cases.map((c) => c.question), session_id: conversationId },
      false,
    );
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/text\/event-stream/);
    const events: { event: string; data: unknown }[] = [];
    for await (const item of readAskEvents(res.body!)) events.push(item);
    expect(events[0]).toEqual({
      event: "batch",
      data: { conversationId, mode: "parallel", count: cases.length },
    });
    expect(events.at(-1)!.event).toBe("batch_done");
    const results = events.filter((e) => e.event === "result").map((e) => e.data as BatchResult);
    expect(results).toHaveLength(cases.length);
    for (let index = 0; index < cases.length; index++) {
      const states = events
        .filter((e) => e.event === "progress" && (e.data as { index: number }).index === index)
        .map((e) => (e.data as { state: string }).state);
      expect(states).toEqual(["retrieving", "answering", "done"]);
    }
    const done = events.at(-1)!.data as BatchDoneEvent;
    expect(done.conversationId).toBe(conversationId);
    expectAnswered(done.results);
  });
});

describe("bad batch requests", () => {
  it.each([
    ["no questions", { queries: [] }, /queries: Send at least one question/],
    [
      "21 questions",
      { queries: Array.from({ length: 21 }, (_, i) => `Question ${i}?`) },
      /queries: Send at most 20 questions at once/,
    ],
    ["both query and queries", { query: "hi", queries: ["hi"] }, /either query .* or queries/],
    ["neither", {}, /send query .* or queries/],
    ["an empty question", { queries: ["ok?", "  "] }, /queries\.1: Ask a question/],
    ["a question that is too long", { queries: ["x".repeat(2001)] }, /limited to 2000/],
    ["not an array", { queries: "hi" }, /queries/],
  ])("refuses %s", async (_name, body, message) => {
    const res = await ask({ tenant_id: tenantId, ...body });
    expect(res.status).toBe(400);
    const { error } = (await res.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe("validation_failed");
    expect(error.message).toMatch(message);
  });

  it("answers 404 for an unknown tenant", async () => {
    const res = await ask({ tenant_id: "tn_00000000000000000000000000000000", queries: ["hi?"] });
    expect(res.status).toBe(404);
  });
});

describe("with BATCH_ENABLED=false", () => {
  let off: TestServer;
  beforeAll(async () => {
    off = await startServer({ env: { BATCH_ENABLED: "false" } });
  });
  afterAll(async () => {
    await off?.stop();
  });

  it("refuses batches with a clear 400", async () => {
    const res = await fetch(`${off.url}/api/ask`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ tenant_id: tenantId, queries: ["How do I deploy?"] }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: { code: "bad_request", message: "Batch questions are switched off on this server." },
    });
  });
});
