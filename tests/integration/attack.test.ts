// The attack suite: one tenant's credentials against another's data through every public
// and tenant endpoint; odd tenant ids and file names; SQL and FTS5 injection; malformed,
// truncated and oversized bodies; and property-based fuzzing of the public API with
// fast-check. Promises: no 5xx, no cross-tenant read, nothing written by a refused request.
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTenant, signIn, waitForJobs } from "../support/admin.ts";
import { createAdmin } from "../support/cli.ts";
import {
  allowOrigins,
  bearer,
  makeSecretKey,
  visitorSession,
  widgetKeyOf,
} from "../support/keys.ts";
import { type Client, startServer, tempDataDir, type TestServer } from "../support/server.ts";

const SECRET_FACT = "The vault code of Alpha Corp is PELICAN-4242.";
const SHOP = "https://shop.alpha.example";

let server: TestServer;
let admin: Client;
let alpha: string;
let beta: string;
const keys = { alpha: "", beta: "", alphaWidget: "", betaWidget: "" };

beforeAll(async () => {
  const dataDir = tempDataDir();
  await createAdmin(dataDir);
  server = await startServer({
    dataDir,
    env: {
      RATE_LIMIT_TENANT_PER_MINUTE: "0",
      RATE_LIMIT_SESSION_PER_MINUTE: "0",
      RATE_LIMIT_IP_PER_MINUTE: "0",
    },
  });
  admin = await signIn(server.url);
  alpha = await createTenant(admin, "Alpha");
  beta = await createTenant(admin, "Beta");
  keys.alpha = await makeSecretKey(admin, alpha);
  keys.beta = await makeSecretKey(admin, beta);
  keys.alphaWidget = await widgetKeyOf(admin, alpha);
  keys.betaWidget = await widgetKeyOf(admin, beta);
  await allowOrigins(admin, alpha, [SHOP]);
  const res = await admin.json(`/api/tenants/${alpha}/documents`, {
    type: "text",
    title: "Vault",
    text: SECRET_FACT,
  });
  const { jobs } = (await res.json()) as { jobs: { id: number }[] };
  await waitForJobs(
    admin,
    alpha,
    jobs.map((j) => j.id),
  );
}, 120_000);
afterAll(async () => {
  await server?.stop();
});

const json = (body: unknown, headers: Record<string, string> = {}) => ({
  method: "POST",
  headers: { "content-type": "application/json", accept: "application/json", ...headers },
  body: JSON.stringify(body),
});
const post = (pathname: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${server.url}${pathname}`, json(body, headers));

/** Row counts of everything a request could write (the audit log is meant to grow). */
function rowCounts(): Record<string, number> {
  const counts: Record<string, number> = {};
  const control = new Database(path.join(server.dataDir, "control.db"), { readonly: true });
  for (const table of ["tenants", "api_keys", "tenant_origins", "admins"]) {
    counts[`control.${table}`] = (
      control.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }
    ).n;
  }
  control.close();
  for (const id of [alpha, beta]) {
    const db = new Database(path.join(server.dataDir, `${id}.db`), { readonly: true });
    for (const table of ["documents", "chunks", "ingest_jobs", "conversations", "messages"]) {
      counts[`${id}.${table}`] = (
        db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }
      ).n;
    }
    counts[`${id}.feedback`] = (
      db.prepare("SELECT count(*) AS n FROM messages WHERE feedback IS NOT NULL").get() as {
        n: number;
      }
    ).n;
    db.close();
  }
  return counts;
}

const files = () => fs.readdirSync(server.dataDir).sort();

describe("one tenant's credentials against another tenant", () => {
  it("a secret key works for its own tenant only, everywhere", async () => {
    const own = await post(
      "/api/ask",
      { tenant_id: alpha, query: "What is the vault code?" },
      bearer(keys.alpha),
    );
    expect(own.status).toBe(200);
    expect(((await own.json()) as { answer: string }).answer).toMatch(/PELICAN-4242/);

    const before = rowCounts();
    const cross = await post(
      "/api/ask",
      { tenant_id: alpha, query: "What is the vault code?" },
      bearer(keys.beta),
    );
    expect(cross.status).toBe(401);
    expect(await cross.text()).not.toMatch(/PELICAN/);
    for (const pathname of [
      `/api/tenants/${alpha}/documents`,
      `/api/tenants/${alpha}/documents/1`,
      `/api/tenants/${alpha}/jobs`,
    ]) {
      const res = await fetch(`${server.url}${pathname}`, { headers: bearer(keys.beta) });
      expect(res.status, pathname).toBe(404);
      expect(await res.text()).not.toMatch(/PELICAN|Vault/);
    }
    const write = await post(
      `/api/tenants/${alpha}/documents`,
      { type: "text", title: "x", text: "y" },
      bearer(keys.beta),
    );
    expect(write.status).toBe(404);
    const del = await fetch(`${server.url}/api/tenants/${alpha}/documents/1`, {
      method: "DELETE",
      headers: bearer(keys.beta),
    });
    expect(del.status).toBe(404);
    // Keys cannot manage keys, origins or the audit log, even their own tenant's.
    for (const pathname of [`/api/tenants/${beta}/keys`, `/api/tenants/${beta}/embed`]) {
      const res = await fetch(`${server.url}${pathname}`, { headers: bearer(keys.beta) });
      expect([401, 403], pathname).toContain(res.status);
    }
    expect(rowCounts()).toEqual(before);
  });

  it("a revoked key stops working at once", async () => {
    const res = await admin.json(`/api/tenants/${beta}/keys`, { name: "short-lived" });
    const { key, secret } = (await res.json()) as { key: { id: number }; secret: string };
    expect(
      (await fetch(`${server.url}/api/tenants/${beta}/jobs`, { headers: bearer(secret) })).status,
    ).toBe(200);
    const list = (await (await admin.fetch(`/api/tenants/${beta}/keys`)).json()) as {
      keys: Array<{ id: number; lastUsedAt: number | null }>;
    };
    expect(list.keys.find((k) => k.id === key.id)?.lastUsedAt).not.toBeNull();
    expect(JSON.stringify(list)).not.toContain(secret);
    // Another tenant's key id cannot be revoked through this tenant.
    const other = await admin.fetch(`/api/tenants/${alpha}/keys/${key.id}`, { method: "DELETE" });
    expect(other.status).toBe(404);
    const revoked = await admin.fetch(`/api/tenants/${beta}/keys/${key.id}`, { method: "DELETE" });
    expect(revoked.status).toBe(204);
    expect(
      (await fetch(`${server.url}/api/tenants/${beta}/jobs`, { headers: bearer(secret) })).status,
    ).toBe(401);
  });

  it("widget keys, sessions and origins are bound to their tenant", async () => {
    const before = rowCounts();
    // Beta's widget key on Alpha.
    const wrongKey = await fetch(`${server.url}/api/widget/${alpha}/config?key=${keys.betaWidget}`);
    expect(wrongKey.status).toBe(403);
    expect(await wrongKey.json()).toMatchObject({ error: { code: "forbidden" } });
    // Beta's visitor session on Alpha.
    const betaToken = await visitorSession(server.url, beta, keys.betaWidget);
    const crossSession = await post("/api/ask", {
      tenant_id: alpha,
      key: keys.alphaWidget,
      session_token: betaToken,
      query: "What is the vault code?",
    });
    expect(crossSession.status).toBe(401);
    expect(await crossSession.text()).not.toMatch(/PELICAN/);
    // A forged token: Beta's token with Alpha's id swapped in.
    const forged = betaToken.replace(beta, alpha);
    const forgedAsk = await post("/api/ask", {
      tenant_id: alpha,
      key: keys.alphaWidget,
      session_token: forged,
      query: "What is the vault code?",
    });
    expect(forgedAsk.status).toBe(401);
    // An origin Alpha does not allow: 403 and no CORS grant, for config, session and ask.
    const evil = { origin: "https://evil.example" };
    const cfg = await fetch(`${server.url}/api/widget/${alpha}/config?key=${keys.alphaWidget}`, {
      headers: evil,
    });
    expect(cfg.status).toBe(403);
    expect(cfg.headers.get("access-control-allow-origin")).toBeNull();
    const sess = await post(`/api/widget/${alpha}/session`, { key: keys.alphaWidget }, evil);
    expect(sess.status).toBe(403);
    expect(sess.headers.get("access-control-allow-origin")).toBeNull();
    const alphaToken = await visitorSession(server.url, alpha, keys.alphaWidget, SHOP);
    const evilAsk = await post(
      "/api/ask",
      { tenant_id: alpha, key: keys.alphaWidget, session_token: alphaToken, query: "code?" },
      evil,
    );
    expect(evilAsk.status).toBe(403);
    expect(evilAsk.headers.get("access-control-allow-origin")).toBeNull();
    // A visitor may not choose a conversation id.
    const chosen = await post("/api/ask", {
      tenant_id: alpha,
      key: keys.alphaWidget,
      session_token: alphaToken,
      session_id: "cv_someone_elses_conversation",
      query: "What did we talk about?",
    });
    expect(chosen.status).toBe(400);
    expect(rowCounts()).toEqual(before);
  });

  it("a visitor can neither continue nor rate another visitor's conversation", async () => {
    const first = await visitorSession(server.url, alpha, keys.alphaWidget, SHOP);
    const res = await post(
      "/api/ask",
      {
        tenant_id: alpha,
        key: keys.alphaWidget,
        session_token: first,
        query: "What is the vault code?",
      },
      { origin: SHOP },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe(SHOP);
    expect(res.headers.get("vary")).toMatch(/origin/i);
    const done = (await res.json()) as { messageId: number; conversationId: string };

    const second = await visitorSession(server.url, alpha, keys.alphaWidget, SHOP);
    const before = rowCounts();
    const rate = await post(
      "/api/feedback",
      {
        tenant_id: alpha,
        key: keys.alphaWidget,
        session_token: second,
        message_id: done.messageId,
        rating: "down",
      },
      { origin: SHOP },
    );
    expect(rate.status).toBe(404);
    expect(rowCounts()).toEqual(before);
    const follow = await post(
      "/api/ask",
      {
        tenant_id: alpha,
        key: keys.alphaWidget,
        session_token: second,
        query: "What did I just ask?",
      },
      { origin: SHOP },
    );
    const followed = (await follow.json()) as { conversationId: string };
    expect(followed.conversationId).not.toBe(done.conversationId);
    // The owner can rate it.
    const own = await post(
      "/api/feedback",
      {
        tenant_id: alpha,
        key: keys.alphaWidget,
        session_token: first,
        message_id: done.messageId,
        rating: "up",
      },
      { origin: SHOP },
    );
    expect(own.status).toBe(204);
  });
});

describe("odd tenant ids, file names and injection strings", () => {
  const oddIds = [
    "..%2F..%2Fcontrol",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "trial%00",
    "TRIAL",
    `tn_${"a".repeat(32)}%20`,
    `TN_${"A".repeat(32)}`,
    "tn_%E2%80%AE",
    "..",
    "control",
  ];
  it.each(oddIds)("%s is a 404 everywhere and creates no file", async (id) => {
    const before = files();
    for (const [method, pathname] of [
      ["GET", `/api/widget/${id}/config?key=${keys.alphaWidget}`],
      ["POST", `/api/widget/${id}/session`],
      ["GET", `/api/tenants/${id}/documents`],
      ["GET", `/api/tenants/${id}/audit`],
    ] as const) {
      const res =
        method === "GET"
          ? await admin.fetch(pathname)
          : await admin.json(pathname, { key: keys.alphaWidget });
      expect([400, 404], `${method} ${pathname}`).toContain(res.status);
    }
    expect(files()).toEqual(before);
  });

  it("SQL and FTS5 injection in questions, titles and file names is plain text", async () => {
    const nasty = [
      "'; DROP TABLE documents; --",
      '" OR 1=1 --',
      "NEAR(vault code, 1) OR title:*",
      "vault* AND ^code",
      "\u0000\u202e",
      "(((",
    ];
    for (const query of nasty) {
      const res = await post("/api/ask", { tenant_id: alpha, query }, bearer(keys.alpha));
      expect(res.status, query).toBe(200);
    }
    const text = await admin.json(`/api/tenants/${beta}/documents`, {
      type: "text",
      title: "'); DELETE FROM chunks; --",
      text: "Robert'); DROP TABLE documents;-- is a student.",
    });
    expect(text.status).toBe(202);
    const form = new FormData();
    form.append("file", new Blob(["Path traversal as a file name."]), "../../../evil'; --.txt");
    const upload = await admin.fetch(`/api/tenants/${beta}/documents`, {
      method: "POST",
      body: form,
    });
    expect(upload.status).toBe(202);
    const { jobs } = (await upload.json()) as { jobs: { id: number }[] };
    const textJobs = ((await text.json()) as { jobs: { id: number }[] }).jobs;
    await waitForJobs(
      admin,
      beta,
      [...jobs, ...textJobs].map((j) => j.id),
    );
    expect(fs.existsSync(path.resolve(server.dataDir, "../../../evil'; --.txt"))).toBe(false);
    const still = await post(
      "/api/ask",
      { tenant_id: alpha, query: "What is the vault code?" },
      bearer(keys.alpha),
    );
    expect(((await still.json()) as { answer: string }).answer).toMatch(/PELICAN-4242/);
  });
});

describe("malformed bodies", () => {
  it("truncated, oversized, mistyped and deeply nested bodies are 4xx in one shape", async () => {
    const before = rowCounts();
    const cases: Array<[string, RequestInit, number]> = [
      [
        "truncated",
        { method: "POST", headers: { "content-type": "application/json" }, body: '{"tenant_id":"' },
        400,
      ],
      [
        "not JSON",
        { method: "POST", headers: { "content-type": "application/json" }, body: "nope" },
        400,
      ],
      [
        "wrong type",
        { method: "POST", headers: { "content-type": "text/plain" }, body: "{}" },
        415,
      ],
      ["no type", { method: "POST", body: "{}" }, 415],
      [
        "oversized",
        {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: `{"q":"${"x".repeat(100_000)}"}`,
        },
        413,
      ],
      [
        "nested",
        {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: "[".repeat(400) + "]".repeat(400),
        },
        400,
      ],
      [
        "array",
        { method: "POST", headers: { "content-type": "application/json" }, body: "[]" },
        400,
      ],
      [
        "null",
        { method: "POST", headers: { "content-type": "application/json" }, body: "null" },
        400,
      ],
    ];
    for (const endpoint of ["/api/ask", "/api/feedback", `/api/widget/${alpha}/session`]) {
      for (const [name, init, status] of cases) {
        const res = await fetch(`${server.url}${endpoint}`, init);
        expect(res.status, `${endpoint} ${name}`).toBe(status);
        const body = (await res.json()) as { error: { code: string; message: string } };
        expect(Object.keys(body), `${endpoint} ${name}`).toEqual(["error"]);
        expect(typeof body.error.code).toBe("string");
      }
    }
    expect(rowCounts()).toEqual(before);
  });
});

describe("property-based fuzzing of the public API", () => {
  it("thousands of random requests: no 5xx, no leak, nothing written", async () => {
    const before = rowCounts();
    const token = await visitorSession(server.url, alpha, keys.alphaWidget);
    const anyValue = fc.oneof(
      fc.string(),
      fc.integer(),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.array(fc.string(), { maxLength: 3 }),
      fc.constantFrom(
        alpha,
        beta,
        "trial",
        keys.alphaWidget,
        keys.betaWidget,
        token,
        "../x",
        "%00",
      ),
    );
    const body = fc.oneof(
      fc.dictionary(
        fc.constantFrom(
          "tenant_id",
          "query",
          "queries",
          "key",
          "session_token",
          "session_id",
          "message_id",
          "rating",
          "admin",
          "__proto__",
        ),
        anyValue,
        { maxKeys: 6 },
      ),
      fc.json(),
      fc.string(),
    );
    const request = fc.record({
      endpoint: fc.constantFrom(
        "/api/ask",
        "/api/feedback",
        `/api/widget/${alpha}/session`,
        `/api/widget/${beta}/session`,
      ),
      body,
      origin: fc.constantFrom(undefined, SHOP, "https://evil.example", "null"),
      authorization: fc.constantFrom(
        undefined,
        `Bearer ${keys.beta}`,
        "Bearer bitb_sk_forged",
        "Basic x",
      ),
      contentType: fc.constantFrom(
        "application/json",
        "application/json; charset=utf-8",
        "text/plain",
        "multipart/form-data",
      ),
    });
    let sent = 0;
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const headers: Record<string, string> = {
          "content-type": r.contentType,
          accept: "application/json",
        };
        if (r.origin) headers.origin = r.origin;
        if (r.authorization) headers.authorization = r.authorization;
        const res = await fetch(`${server.url}${r.endpoint}`, {
          method: "POST",
          headers,
          body: typeof r.body === "string" ? r.body : JSON.stringify(r.body),
        });
        sent++;
        if (res.ok) accepted++;
        const text = await res.text();
        expect(res.status, text).toBeLessThan(500);
        expect(text).not.toMatch(/PELICAN/);
        if (res.status >= 400) expect(JSON.parse(text)).toHaveProperty("error.code");
        // Only allowed origins ever get a CORS grant, and only their own.
        const granted = res.headers.get("access-control-allow-origin");
        if (granted !== null) expect(granted).toBe(SHOP);
      }),
      { numRuns: 2000, seed: 5 },
    );
    expect(sent).toBe(2000);
    // Only an accepted request (a well-formed ask or rating that happened to be generated)
    // may write; refused ones never do.
    const after = rowCounts();
    if (accepted === 0) expect(after).toEqual(before);
    for (const key of Object.keys(before).filter(
      (k) => !/conversations|messages|feedback/.test(k),
    )) {
      expect(after[key], key).toBe(before[key]);
    }
  }, 240_000);
});
