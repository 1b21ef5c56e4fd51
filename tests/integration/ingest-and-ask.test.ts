// A tenant's documents in, a streamed cited answer out — through the real HTTP surface of
// the built server, with real SQLite files in a temporary folder.
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readAskEvents, type DoneEvent } from "#app/shared/ask-events.ts";
import {
  createTenant,
  fixtureCases,
  fixturesDir,
  signIn,
  waitForJobs as waitForJobsOf,
  type Job,
} from "../support/admin.ts";
import { createAdmin } from "../support/cli.ts";
import type { Client } from "../support/server.ts";
import { startServer, tempDataDir, type TestServer } from "../support/server.ts";
import { allowOrigins, bearer, makeSecretKey } from "../support/keys.ts";

const cases = fixtureCases;
const fixtures = fixturesDir;

let server: TestServer;
let admin: Client;
let tenantId: string;
let apiKey: string;
let site: http.Server;
let siteUrl: string;

function waitForJobs(ids: number[]): Promise<Job[]> {
  return waitForJobsOf(admin, tenantId, ids);
}

async function askJson(query: string, extra: Record<string, unknown> = {}): Promise<DoneEvent> {
  const res = await fetch(`${server.url}/api/ask`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json", ...bearer(apiKey) },
    body: JSON.stringify({ tenant_id: tenantId, query, ...extra }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as DoneEvent;
}

beforeAll(async () => {
  const dataDir = tempDataDir();
  await createAdmin(dataDir);
  server = await startServer({ dataDir });
  admin = await signIn(server.url);
  tenantId = await createTenant(admin, "Acme");
  apiKey = await makeSecretKey(admin, tenantId);
  expect(tenantId).toMatch(/^tn_[0-9a-f]{32}$/);

  site = http.createServer((req, res) => {
    if (req.url === "/hours") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      res.end(
        "<html><head><title>Greenhouse hours</title></head><body><h1>Greenhouse</h1>" +
          "<p>The Copperleaf greenhouse is open from 7 am until 3 pm on Saturdays.</p></body></html>",
      );
    } else {
      res.writeHead(404).end("missing");
    }
  });
  await new Promise<void>((r) => site.listen(0, "127.0.0.1", r));
  siteUrl = `http://127.0.0.1:${(site.address() as { port: number }).port}`;
});

afterAll(async () => {
  await server?.stop();
  await new Promise((r) => site?.close(r));
});

describe("ingesting every file type and asking", () => {
  it("indexes uploaded files, pasted text and a URL", async () => {
    const form = new FormData();
    for (const c of cases) {
      form.append("file", new Blob([fs.readFileSync(path.join(fixtures, c.file))]), c.file);
    }
    const upload = await admin.fetch(`/api/tenants/${tenantId}/documents`, {
      method: "POST",
      body: form,
    });
    expect(upload.status).toBe(202);
    const ids = ((await upload.json()) as { jobs: { id: number }[] }).jobs.map((j) => j.id);
    expect(ids).toHaveLength(cases.length);

    const text = await admin.json(`/api/tenants/${tenantId}/documents`, {
      type: "text",
      title: "Parking",
      text: "Visitors park for free in the Birchwood garage on level minus two.",
    });
    expect(text.status).toBe(202);
    const url = await admin.json(`/api/tenants/${tenantId}/documents`, {
      type: "url",
      url: `${siteUrl}/hours`,
    });
    expect(url.status).toBe(202);
    const missing = await admin.json(`/api/tenants/${tenantId}/documents`, {
      type: "url",
      url: `${siteUrl}/nope`,
    });
    const more = [
      ...((await text.json()) as { jobs: { id: number }[] }).jobs,
      ...((await url.json()) as { jobs: { id: number }[] }).jobs,
      ...((await missing.json()) as { jobs: { id: number }[] }).jobs,
    ].map((j) => j.id);

    const finished = await waitForJobs([...ids, ...more]);
    const failed = finished.filter((j) => j.state === "failed");
    expect(failed).toHaveLength(1);
    expect(failed[0]!.error).toMatch(/404/);
    expect(finished.filter((j) => j.state === "done")).toHaveLength(cases.length + 2);

    const docs = await admin.fetch(`/api/tenants/${tenantId}/documents`);
    const list = (await docs.json()) as { documents: { title: string; chunkCount: number }[] };
    expect(list.documents).toHaveLength(cases.length + 2);
    expect(list.documents.every((d) => d.chunkCount > 0)).toBe(true);
  });

  it.each(cases)("answers from $file with a citation pointing at it", async (c) => {
    const done = await askJson(c.question);
    expect(done.abstained).toBe(false);
    expect(done.answer).toMatch(c.expect);
    expect(done.citations.length).toBeGreaterThan(0);
    expect(done.citations[0]!.fileName ?? done.citations[0]!.title).toBe(c.file);
    expect(done.answer).toMatch(/\[\d+\]/);
    expect(done.provider).toBe("extractive");
    expect(done.usage.estimated).toBe(true);
  });

  it("answers from pasted text and fetched pages", async () => {
    const parking = await askJson("Where can visitors park?");
    expect(parking.answer).toMatch(/Birchwood garage/);
    expect(parking.citations[0]!.title).toBe("Parking");
    const hours = await askJson("When is the Copperleaf greenhouse open on Saturdays?");
    expect(hours.answer).toMatch(/7 am until 3 pm/);
    expect(hours.citations[0]!.url).toBe(`${siteUrl}/hours`);
  });

  it("streams sources, tokens and done over SSE", async () => {
    const res = await fetch(`${server.url}/api/ask`, {
      method: "POST",
      headers: { "content-type": "application/json", ...bearer(apiKey) },
      body: JSON.stringify({ tenant_id: tenantId, query: cases[3]!.question }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/text\/event-stream/);
    // A server-to-server call: no CORS grant.
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    const events: string[] = [];
    let text = "";
    let done: DoneEvent | undefined;
    for await (const item of readAskEvents(res.body!)) {
      events.push(item.event);
      if (item.event === "token") text += item.data.text;
      if (item.event === "done") done = item.data;
    }
    expect(events[0]).toBe("sources");
    expect(events.filter((e) => e === "token").length).toBeGreaterThan(1);
    expect(events.at(-1)).toBe("done");
    expect(done!.answer).toBe(text);
    expect(done!.citations[0]!.fileName).toBe("sample.pdf");
    expect(done!.latency.totalMs).toBeGreaterThanOrEqual(done!.latency.retrievalMs);
  });

  it("keeps a conversation for follow-up questions", async () => {
    const first = await askJson("How often does the harbour ferry to Kestrel Island leave?");
    const follow = await askJson("And the Lumen X2 descaling?", {
      session_id: first.conversationId,
    });
    expect(follow.conversationId).toBe(first.conversationId);
    expect(follow.answer).toMatch(/3 weeks/);
  });

  it("answers a repeated question from the cache, and afresh after the knowledge changes", async () => {
    const question = "Which lot do visitors use for parking at the museum?";
    const first = await askJson(question);
    const again = await askJson(question.toUpperCase());
    expect(first.cached).toBe(false);
    expect(again).toMatchObject({ cached: true, answer: first.answer, citations: first.citations });
    expect(again.usage).toEqual({ promptTokens: 0, completionTokens: 0, estimated: false });
  });

  it("says plainly when the knowledge base does not cover the question", async () => {
    const done = await askJson("What is the airspeed velocity of an unladen swallow?");
    expect(done.abstained).toBe(true);
    expect(done.answer).toMatch(/don't know/i);
    expect(done.citations).toEqual([]);

    // The tenant's admins see it in the content-gap list, asked twice.
    await askJson("what is the airspeed velocity of an unladen swallow");
    // Another wording of it: grouped with it in the content gaps.
    await askJson("Airspeed velocity of unladen swallows?");
    const res = await admin.fetch(`/api/tenants/${tenantId}/unanswered`);
    expect(res.status).toBe(200);
    const { questions, gaps } = (await res.json()) as {
      questions: { question: string; count: number; conversationId: string }[];
      gaps: { question: string; count: number; variants: unknown[] }[];
    };
    expect(questions[0]).toMatchObject({
      question: "what is the airspeed velocity of an unladen swallow",
      count: 2,
    });
    expect(gaps[0]).toMatchObject({
      question: "what is the airspeed velocity of an unladen swallow",
      count: 3,
    });
    expect(gaps[0]?.variants).toHaveLength(2);
    const bad = await admin.fetch(`/api/tenants/${tenantId}/unanswered?limit=0`);
    expect(bad.status).toBe(400);
    const anonymous = await fetch(`${server.url}/api/tenants/${tenantId}/unanswered`);
    expect(anonymous.status).toBe(401);
  });

  it("treats FTS5 syntax in questions as plain text", async () => {
    for (const query of [
      '"unbalanced quote',
      "NEAR(ferry island, 2)",
      "ferry* AND title:Kestrel OR -island ^start",
      "(((",
      "'; DROP TABLE chunks; --",
      "*",
    ]) {
      const res = await fetch(`${server.url}/api/ask`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json",
          ...bearer(apiKey),
        },
        body: JSON.stringify({ tenant_id: tenantId, query }),
      });
      expect(res.status, query).toBe(200);
    }
    const still = await askJson(cases[0]!.question);
    expect(still.answer).toMatch(/40 minutes/);
  });

  it("skips re-ingesting an unchanged file and replaces a changed one", async () => {
    const again = new FormData();
    again.append(
      "file",
      new Blob([fs.readFileSync(path.join(fixtures, "sample.txt"))]),
      "sample.txt",
    );
    const res = await admin.fetch(`/api/tenants/${tenantId}/documents`, {
      method: "POST",
      body: again,
    });
    const [job] = await waitForJobs(
      ((await res.json()) as { jobs: { id: number }[] }).jobs.map((j) => j.id),
    );
    expect(job!.outcome).toBe("unchanged");

    const changed = await admin.json(`/api/tenants/${tenantId}/documents`, {
      type: "text",
      title: "Parking",
      text: "Visitors now park in the Maplestone lot behind the museum.",
    });
    const [replaced] = await waitForJobs(
      ((await changed.json()) as { jobs: { id: number }[] }).jobs.map((j) => j.id),
    );
    expect(replaced!.outcome).toBe("replaced");
    const parking = await askJson("Where can visitors park?");
    expect(parking.answer).toMatch(/Maplestone/);
    expect(parking.answer).not.toMatch(/Birchwood/);
  });

  it("deletes a document from both indexes", async () => {
    const docs = (await (await admin.fetch(`/api/tenants/${tenantId}/documents`)).json()) as {
      documents: { id: number; title: string }[];
    };
    const pdf = docs.documents.find((d) => d.title === "sample.pdf" || d.title.includes("Aurora"))!;
    const del = await admin.fetch(`/api/tenants/${tenantId}/documents/${pdf.id}`, {
      method: "DELETE",
    });
    expect(del.status).toBe(204);
    const gone = await admin.fetch(`/api/tenants/${tenantId}/documents/${pdf.id}`);
    expect(gone.status).toBe(404);
    const done = await askJson(cases[3]!.question);
    expect(done.citations.every((c) => c.documentId !== pdf.id)).toBe(true);
    expect(done.answer).not.toMatch(/9 am on Mondays/);
  });
});

describe("bad requests get a clear error in one shape", () => {
  const ask = (
    body: BodyInit,
    headers: Record<string, string> = { "content-type": "application/json" },
  ) => fetch(`${server.url}/api/ask`, { method: "POST", headers, body });

  it.each([
    ["missing query", JSON.stringify({ tenant_id: "trial" }), 400, "validation_failed"],
    ["empty query", JSON.stringify({ tenant_id: "trial", query: "  " }), 400, "validation_failed"],
    [
      "unknown field",
      JSON.stringify({ tenant_id: "trial", query: "hi", admin: true }),
      400,
      "validation_failed",
    ],
    [
      "bad session id",
      JSON.stringify({ tenant_id: "trial", query: "hi", session_id: "../../x" }),
      400,
      "validation_failed",
    ],
    ["not JSON", "{nope", 400, "bad_request"],
    [
      "too long",
      JSON.stringify({ tenant_id: "trial", query: "x".repeat(2001) }),
      400,
      "validation_failed",
    ],
  ])("%s", async (_name, body, status, code) => {
    const res = await ask(body);
    expect(res.status).toBe(status);
    expect(await res.json()).toMatchObject({ error: { code } });
  });

  it("refuses other content types (415) and huge bodies (413)", async () => {
    const wrongType = await ask("tenant_id=trial", {
      "content-type": "application/x-www-form-urlencoded",
    });
    expect(wrongType.status).toBe(415);
    const huge = await ask(JSON.stringify({ tenant_id: "trial", query: "x".repeat(200_000) }));
    expect(huge.status).toBe(413);
    expect(await huge.json()).toMatchObject({ error: { code: "payload_too_large" } });
  });

  it("answers the CORS preflight of the widget only for allowed origins", async () => {
    const preflight = (origin: string) =>
      fetch(`${server.url}/api/ask`, {
        method: "OPTIONS",
        headers: { origin, "access-control-request-method": "POST" },
      });
    const refused = await preflight("https://shop.example");
    expect(refused.status).toBe(403);
    expect(refused.headers.get("access-control-allow-origin")).toBeNull();
    await allowOrigins(admin, tenantId, ["https://shop.example"]);
    const res = await preflight("https://shop.example");
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("https://shop.example");
    expect(res.headers.get("vary")).toMatch(/origin/i);
    await allowOrigins(admin, tenantId, []);
  });

  it("refuses unsupported uploads and anonymous or cross-site admin calls", async () => {
    const form = new FormData();
    form.append("file", new Blob(["MZ\u0000\u0001"]), "tool.exe");
    const exe = await admin.fetch(`/api/tenants/${tenantId}/documents`, {
      method: "POST",
      body: form,
    });
    expect(exe.status).toBe(415);

    const anonymous = await fetch(`${server.url}/api/tenants/${tenantId}/documents`);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ error: { code: "unauthorized" } });

    const crossSite = await admin.fetch(`/api/tenants`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: "https://evil.example" },
      body: JSON.stringify({ name: "Evil" }),
    });
    expect(crossSite.status).toBe(403);
  });
});
