// The contract: every response the OpenAPI document (GET /api/openapi.json) promises — each
// route's success and each of its documented errors — is drawn from the built server and
// validated against the document's own schema for that status and media type (Ajv, JSON
// Schema 2020-12, as OpenAPI 3.1 uses). The last test fails if any documented response was
// not exercised, so a route or error added to the document must be added here too. Also:
// unknown paths and wrong methods under /api/ answer JSON in the one error shape.
import Ajv2020 from "ajv/dist/2020.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readAskEvents } from "../../app/shared/ask-events.ts";
import { createTenant, signIn, uploadFixtures, waitForJobs } from "../support/admin.ts";
import { createAdmin } from "../support/cli.ts";
import { bearer, makeSecretKey, visitorSession, widgetKeyOf } from "../support/keys.ts";
import { type Client, startServer, tempDataDir, type TestServer } from "../support/server.ts";

let server: TestServer;
let admin: Client;
let tenant: string;
let secret: string;
let widgetKey: string;
let document: {
  paths: Record<string, Record<string, { responses: Record<string, { content?: object }> }>>;
};
const ajv = new Ajv2020({ strict: false, allErrors: true });
const covered = new Set<string>();
const QUESTION = "How often must the Lumen X2 espresso machine be descaled?";

beforeAll(async () => {
  const dataDir = tempDataDir();
  await createAdmin(dataDir);
  server = await startServer({ dataDir, env: { RATE_LIMIT_KEY_PER_MINUTE: "8" } });
  admin = await signIn(server.url);
  tenant = await createTenant(admin, "Lumen Espresso");
  await waitForJobs(admin, tenant, await uploadFixtures(admin, tenant, ["sample.md"]));
  secret = await makeSecretKey(admin, tenant, "contract");
  widgetKey = await widgetKeyOf(admin, tenant);
  const res = await fetch(`${server.url}/api/openapi.json`);
  expect(res.status).toBe(200);
  document = (await res.clone().json()) as typeof document;
  ajv.addSchema(document, "openapi.json");
  await expectContract(res, "get", "/api/openapi.json");
});
afterAll(async () => {
  await server?.stop();
});

const pointer = (...parts: string[]) =>
  parts.map((part) => encodeURIComponent(part.replace(/~/g, "~0").replace(/\//g, "~1"))).join("/");

function validatorFor(path: string, method: string, status: string, type: string) {
  const ref = `openapi.json#/${pointer("paths", path, method, "responses", status, "content", type, "schema")}`;
  const validate = ajv.getSchema(ref);
  if (!validate) throw new Error(`no schema at ${ref}`);
  return validate;
}

function assertValid(validate: ReturnType<typeof validatorFor>, value: unknown, what: string) {
  if (!validate(value)) {
    throw new Error(
      `${what} does not match the document: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(value).slice(0, 500)}`,
    );
  }
}

/** Checks a response against the document; returns its parsed body (JSON or text). */
async function expectContract(res: Response, method: string, path: string): Promise<unknown> {
  const status = String(res.status);
  const operation = document.paths[path]?.[method];
  expect(operation, `${method.toUpperCase()} ${path} is documented`).toBeDefined();
  const documented = operation!.responses[status];
  expect(documented, `${method.toUpperCase()} ${path} documents ${status}`).toBeDefined();
  covered.add(`${method} ${path} ${status}`);
  const content = documented!.content as Record<string, unknown> | undefined;
  if (!content) {
    expect(await res.text()).toBe("");
    return undefined;
  }
  const type = (res.headers.get("content-type") ?? "").split(";")[0]!.trim();
  expect(Object.keys(content), `${path} ${status} documents ${type}`).toContain(type);
  const validate = validatorFor(path, method, status, type);
  if (type === "application/json") {
    const body = await res.json();
    assertValid(validate, body, `${method.toUpperCase()} ${path} ${status}`);
    return body;
  }
  const text = await res.text();
  assertValid(validate, text, `${method.toUpperCase()} ${path} ${status}`);
  return text;
}

const json = (body: unknown, headers: Record<string, string> = {}) => ({
  method: "POST",
  headers: { "content-type": "application/json", accept: "application/json", ...headers },
  body: JSON.stringify(body),
});
const post = (path: string, init: RequestInit) => fetch(`${server.url}${path}`, init);

describe("the OpenAPI contract", () => {
  it("POST /api/ask: answers (JSON, batch, SSE) and each documented error", async () => {
    const path = "/api/ask";
    const done = (await expectContract(
      await post(path, json({ tenant_id: tenant, query: QUESTION }, bearer(secret))),
      "post",
      path,
    )) as { answer: string };
    expect(done.answer).toMatch(/3 weeks/);
    await expectContract(
      await post(
        path,
        json({ tenant_id: tenant, queries: [QUESTION, "Who makes the X2?"] }, bearer(secret)),
      ),
      "post",
      path,
    );
    const sse = await post(path, {
      ...json({ tenant_id: tenant, query: QUESTION }, bearer(secret)),
      headers: { "content-type": "application/json", ...bearer(secret) },
    });
    const events: string[] = [];
    for await (const event of readAskEvents(sse.clone().body!)) events.push(event.event);
    expect(events.at(-1)).toBe("done");
    await expectContract(sse, "post", path);

    await expectContract(await post(path, json({ tenant_id: tenant })), "post", path);
    await expectContract(
      await post(
        path,
        json({ tenant_id: tenant, query: QUESTION }, bearer(`bitb_sk_${"A".repeat(32)}`)),
      ),
      "post",
      path,
    );
    await expectContract(
      await post(
        path,
        json({ tenant_id: tenant, query: QUESTION, key: "pk_wrong", session_token: "x" }),
      ),
      "post",
      path,
    );
    await expectContract(
      await post(path, json({ tenant_id: "tn_nope", query: QUESTION }, bearer(secret))),
      "post",
      path,
    );
    await expectContract(
      await post(path, json({ tenant_id: tenant, query: "x".repeat(70_000) }, bearer(secret))),
      "post",
      path,
    );
    await expectContract(
      await post(path, { method: "POST", headers: { "content-type": "text/plain" }, body: "hi" }),
      "post",
      path,
    );
    // A key of its own: a batch of 8 spends its bucket, the next ask is refused.
    const burst = await makeSecretKey(admin, tenant, "burst");
    const spent = await post(
      path,
      json(
        { tenant_id: tenant, queries: Array.from({ length: 8 }, (_, i) => `${QUESTION} ${i}`) },
        bearer(burst),
      ),
    );
    expect(spent.status).toBe(200);
    await spent.body?.cancel();
    const refused = await post(path, json({ tenant_id: tenant, query: QUESTION }, bearer(burst)));
    expect(refused.headers.get("retry-after")).toMatch(/^\d+$/);
    await expectContract(refused, "post", path);
    // The same key's bucket is spent for the OpenAI-compatible API too: one key, one bucket.
    await expectContract(
      await post(
        "/v1/chat/completions",
        json({ model: tenant, messages: [{ role: "user", content: QUESTION }] }, bearer(burst)),
      ),
      "post",
      "/v1/chat/completions",
    );
  });

  it("the widget's settings, session and rating, and each documented error", async () => {
    const configPath = "/api/widget/{tenantId}/config";
    const config = (await expectContract(
      await fetch(`${server.url}/api/widget/${tenant}/config?key=${widgetKey}`),
      "get",
      configPath,
    )) as { title: string };
    expect(config.title.length).toBeGreaterThan(0);
    await expectContract(
      await fetch(`${server.url}/api/widget/${tenant}/config`),
      "get",
      configPath,
    );
    await expectContract(
      await fetch(`${server.url}/api/widget/${tenant}/config?key=pk_wrong`),
      "get",
      configPath,
    );
    await expectContract(
      await fetch(`${server.url}/api/widget/tn_nope/config?key=${widgetKey}`),
      "get",
      configPath,
    );

    const sessionPath = "/api/widget/{tenantId}/session";
    const sessionUrl = `/api/widget/${tenant}/session`;
    await expectContract(await post(sessionUrl, json({ key: widgetKey })), "post", sessionPath);
    await expectContract(await post(sessionUrl, json({})), "post", sessionPath);
    await expectContract(await post(sessionUrl, json({ key: "pk_wrong" })), "post", sessionPath);
    await expectContract(
      await post("/api/widget/tn_nope/session", json({ key: widgetKey })),
      "post",
      sessionPath,
    );

    const token = await visitorSession(server.url, tenant, widgetKey);
    const answer = await post(
      "/api/ask",
      json({ tenant_id: tenant, query: QUESTION, key: widgetKey, session_token: token }),
    );
    const { messageId } = (await answer.json()) as { messageId: number };
    const rating = { tenant_id: tenant, key: widgetKey, session_token: token, rating: "up" };
    await expectContract(
      await post("/api/feedback", json({ ...rating, message_id: messageId })),
      "post",
      "/api/feedback",
    );
    await expectContract(await post("/api/feedback", json({})), "post", "/api/feedback");
    await expectContract(
      await post(
        "/api/feedback",
        json({ ...rating, message_id: messageId, session_token: "v1.nope" }),
      ),
      "post",
      "/api/feedback",
    );
    await expectContract(
      await post("/api/feedback", json({ ...rating, message_id: messageId, key: "pk_wrong" })),
      "post",
      "/api/feedback",
    );
    await expectContract(
      await post("/api/feedback", json({ ...rating, message_id: 999_999 })),
      "post",
      "/api/feedback",
    );
  });

  it("adding knowledge and following its jobs with the secret key, and each documented error", async () => {
    const docs = "/api/tenants/{tenantId}/documents";
    const docsUrl = `/api/tenants/${tenant}/documents`;
    const text = { type: "text", title: "Opening hours", text: "We open at 9 am on weekdays." };
    const queued = (await expectContract(
      await post(docsUrl, json(text, bearer(secret))),
      "post",
      docs,
    )) as { jobs: Array<{ id: number }> };
    expect(queued.jobs).toHaveLength(1);
    const form = new FormData();
    form.append("file", new Blob(["Returns are accepted within 30 days."]), "returns.txt");
    await expectContract(
      await post(docsUrl, { method: "POST", headers: bearer(secret), body: form }),
      "post",
      docs,
    );
    await expectContract(await post(docsUrl, json({ type: "text" }, bearer(secret))), "post", docs);
    await expectContract(await post(docsUrl, json(text)), "post", docs);
    await expectContract(
      await post("/api/tenants/tn_nope/documents", json(text, bearer(secret))),
      "post",
      docs,
    );
    await expectContract(
      await post(docsUrl, {
        method: "POST",
        headers: { ...bearer(secret), "content-type": "text/plain" },
        body: "hi",
      }),
      "post",
      docs,
    );

    const jobs = "/api/tenants/{tenantId}/jobs";
    const listed = (await expectContract(
      await fetch(`${server.url}/api/tenants/${tenant}/jobs?limit=10`, { headers: bearer(secret) }),
      "get",
      jobs,
    )) as { jobs: Array<{ id: number }> };
    expect(listed.jobs.map((job) => job.id)).toContain(queued.jobs[0]!.id);
    await expectContract(
      await fetch(`${server.url}/api/tenants/${tenant}/jobs?limit=0`, { headers: bearer(secret) }),
      "get",
      jobs,
    );
    await expectContract(await fetch(`${server.url}/api/tenants/${tenant}/jobs`), "get", jobs);
    await expectContract(
      await fetch(`${server.url}/api/tenants/tn_nope/jobs`, { headers: bearer(secret) }),
      "get",
      jobs,
    );
  });

  it("MCP, the reference page and the OpenAI-compatible API", async () => {
    const rpc = { jsonrpc: "2.0", id: 1, method: "tools/list", params: {} };
    const mcpHeaders = {
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": "2025-06-18",
    };
    await expectContract(
      await post("/api/mcp", { ...json(rpc, { ...bearer(secret), ...mcpHeaders }) }),
      "post",
      "/api/mcp",
    );
    await expectContract(await post("/api/mcp", json(rpc, mcpHeaders)), "post", "/api/mcp");

    const docs = await fetch(`${server.url}/api/docs`);
    // No script, nothing from elsewhere: the page's own policy allows neither.
    expect(docs.headers.get("content-security-policy")).toMatch(/^default-src 'none';/);
    const page = (await expectContract(docs, "get", "/api/docs")) as string;
    expect(page).toContain("POST /v1/chat/completions");

    await expectContract(
      await fetch(`${server.url}/v1/models`, { headers: bearer(secret) }),
      "get",
      "/v1/models",
    );
    await expectContract(await fetch(`${server.url}/v1/models`), "get", "/v1/models");

    const chat = "/v1/chat/completions";
    const messages = [{ role: "user", content: QUESTION }];
    await expectContract(
      await post(chat, json({ model: tenant, messages }, bearer(secret))),
      "post",
      chat,
    );
    const stream = (await expectContract(
      await post(chat, json({ model: tenant, messages, stream: true }, bearer(secret))),
      "post",
      chat,
    )) as string;
    const lines = stream.split("\n").filter(Boolean);
    expect(lines.at(-1)).toBe("data: [DONE]");
    const chunk = ajv.getSchema("openapi.json#/components/schemas/ChatCompletionChunk")!;
    for (const line of lines.slice(0, -1)) {
      assertValid(chunk, JSON.parse(line.slice("data: ".length)), "a chunk");
    }
    await expectContract(
      await post(chat, json({ model: tenant, messages: [] }, bearer(secret))),
      "post",
      chat,
    );
    await expectContract(await post(chat, json({ model: tenant, messages })), "post", chat);
    await expectContract(
      await post(chat, json({ model: "gpt-4o", messages }, bearer(secret))),
      "post",
      chat,
    );
  });

  it("answers unknown paths and wrong methods under /api/ in the one error shape", async () => {
    const error = ajv.getSchema("openapi.json#/components/schemas/Error")!;
    const missing = await fetch(`${server.url}/api/no-such-thing`, {
      headers: { accept: "application/json" },
    });
    expect(missing.status).toBe(404);
    expect(missing.headers.get("content-type")).toMatch(/^application\/json/);
    const body = await missing.json();
    assertValid(error, body, "the 404");
    expect(body).toMatchObject({ error: { code: "not_found" } });
    // In a browser too (Accept: text/html): the API never answers the HTML error page.
    expect(
      (await fetch(`${server.url}/api/tenants/x/nothing`)).headers.get("content-type"),
    ).toMatch(/^application\/json/);

    const wrong = await fetch(`${server.url}/api/openapi.json`, { method: "POST" });
    expect(wrong.status).toBe(405);
    const wrongBody = await wrong.json();
    assertValid(error, wrongBody, "the 405");
    expect(wrongBody).toMatchObject({ error: { code: "method_not_allowed" } });
  });

  it("has exercised every documented response", () => {
    const documented = Object.entries(document.paths).flatMap(([path, item]) =>
      Object.entries(item).flatMap(([method, operation]) =>
        Object.keys(operation.responses).map((status) => `${method} ${path} ${status}`),
      ),
    );
    expect(documented.filter((entry) => !covered.has(entry))).toEqual([]);
  });
});
