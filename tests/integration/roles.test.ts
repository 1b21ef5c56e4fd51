// Every admin page and admin API, loader and action, as four people: nobody (no session, or a
// forged cookie), another tenant's admin, the tenant's own admin, and a platform admin. The
// table is checked against app/routes.ts, so a new route without a row fails this test.
// Also: every state-changing admin request from another origin is refused (CSRF).
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN, createAdmin } from "../support/cli.ts";
import { createTenant, signIn, waitForJobs } from "../support/admin.ts";
import { Client, startServer, tempDataDir, type TestServer } from "../support/server.ts";
import { grantTenant, insertAdmin, openControlDb } from "../../app/server/control-db.server.ts";
import { hashPassword } from "../../app/server/access/password.server.ts";
import type { TenantId } from "../../tenants/id.ts";

type Who = "anonymous" | "forged" | "otherTenantAdmin" | "tenantAdmin" | "platformAdmin";
const everyone: Who[] = ["anonymous", "forged", "otherTenantAdmin", "tenantAdmin", "platformAdmin"];

const ALICE = { email: "alice@tenant-a.example", password: "alice's long passphrase" };
const BOB = { email: "bob@tenant-b.example", password: "bob's long passphrase too" };

let server: TestServer;
let clients: Record<Who, Client>;
let tenantA: string;
let tenantB: string;
/** Documents of tenant A, one per deleting role. */
const docs: number[] = [];
/** A website crawl of tenant A (of an address that does not answer). */
let crawlA: number;

async function signInAs(url: string, who: { email: string; password: string }) {
  const client = new Client(url);
  const res = await client.fetch("/login", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(who),
  });
  expect(res.status, `sign-in of ${who.email}`).toBe(302);
  return client;
}

async function addText(admin: Client, tenantId: string, title: string): Promise<number> {
  const res = await admin.json(`/api/tenants/${tenantId}/documents`, {
    type: "text",
    title,
    text: `${title}: the roles test keeps this text so there is a document to read and delete.`,
  });
  expect(res.status).toBe(202);
  const [job] = ((await res.json()) as { jobs: { id: number }[] }).jobs;
  const [done] = await waitForJobs(admin, tenantId, [job!.id]);
  expect(done?.state).toBe("done");
  return done!.documentId as number;
}

beforeAll(async () => {
  const dataDir = tempDataDir();
  await createAdmin(dataDir);
  server = await startServer({ dataDir });
  const platform = await signIn(server.url);
  tenantA = await createTenant(platform, "Tenant A");
  tenantB = await createTenant(platform, "Tenant B");
  // Tenant admins: made in the control database, as an operator's tooling would.
  const control = openControlDb(dataDir);
  try {
    const alice = insertAdmin(control, {
      email: ALICE.email,
      passwordHash: await hashPassword(ALICE.password),
      role: "tenant",
    });
    grantTenant(control, alice.id, tenantA as TenantId);
    const bob = insertAdmin(control, {
      email: BOB.email,
      passwordHash: await hashPassword(BOB.password),
      role: "tenant",
    });
    grantTenant(control, bob.id, tenantB as TenantId);
  } finally {
    control.close();
  }
  const forged = new Client(server.url);
  forged.cookie = "__bitb_admin=eyJhZG1pbklkIjoxfQ%3D%3D.forged";
  clients = {
    anonymous: new Client(server.url),
    forged,
    otherTenantAdmin: await signInAs(server.url, BOB),
    tenantAdmin: await signInAs(server.url, ALICE),
    platformAdmin: platform,
  };
  for (let i = 0; i < 3; i++) docs.push(await addText(platform, tenantA, `Roles document ${i}`));
  const crawl = await platform.json(`/api/tenants/${tenantA}/crawls`, {
    url: "http://127.0.0.1:9/roles",
  });
  expect(crawl.status).toBe(202);
  crawlA = ((await crawl.json()) as { crawlId: number }).crawlId;
});

afterAll(async () => {
  await server?.stop();
});

interface Case {
  /** The route pattern in app/routes.ts this case exercises. */
  route: string;
  name: string;
  request: (who: Who) => { path: string; init?: RequestInit };
  expect: Record<Who, number>;
  /** For pages: where a 302 must lead. */
  redirectTo?: Partial<Record<Who, RegExp>>;
}

const json = (method: string, body: unknown): RequestInit => ({
  method,
  headers: { "content-type": "application/json", accept: "application/json" },
  body: JSON.stringify(body),
});
const form = (fields: Record<string, string>): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/x-www-form-urlencoded" },
  body: new URLSearchParams(fields),
});

const toLogin = /^\/login\?redirectTo=/;
const pageOnly = { anonymous: toLogin, forged: toLogin };

// The same status for the tenant's own admins and platform admins; `api`: 401 for nobody.
function tenantScoped(ok: number, api: boolean): Record<Who, number> {
  const nobody = api ? 401 : 302;
  return {
    anonymous: nobody,
    forged: nobody,
    otherTenantAdmin: 404,
    tenantAdmin: ok,
    platformAdmin: ok,
  };
}

const cases: Case[] = [
  // ---- admin pages (loaders) ----
  {
    route: "admin",
    name: "GET /admin (tenant list)",
    request: () => ({ path: "/admin" }),
    expect: {
      anonymous: 302,
      forged: 302,
      otherTenantAdmin: 200,
      tenantAdmin: 200,
      platformAdmin: 200,
    },
    redirectTo: pageOnly,
  },
  {
    route: "admin",
    name: "POST /admin?index (create a tenant: platform admins only)",
    request: () => ({ path: "/admin?index", init: form({ name: "Made by the roles test" }) }),
    expect: {
      anonymous: 302,
      forged: 302,
      otherTenantAdmin: 403,
      tenantAdmin: 403,
      platformAdmin: 302,
    },
    redirectTo: { ...pageOnly, platformAdmin: /^\/admin\/tenants\/tn_[0-9a-f]{32}$/ },
  },
  {
    route: "tenants/:tenantId",
    name: "GET /admin/tenants/:id",
    request: () => ({ path: `/admin/tenants/${tenantA}` }),
    expect: tenantScoped(200, false),
    redirectTo: pageOnly,
  },
  {
    route: "tenants/:tenantId",
    name: "POST /admin/tenants/:id (set-model)",
    request: () => ({
      path: `/admin/tenants/${tenantA}`,
      init: form({ intent: "set-model", llmModel: "" }),
    }),
    expect: tenantScoped(200, false),
    redirectTo: pageOnly,
  },
  {
    route: "tenants/:tenantId",
    name: "POST /admin/tenants/:id (set-privacy)",
    request: () => ({
      path: `/admin/tenants/${tenantA}`,
      init: form({ intent: "set-privacy", maskTranscripts: "on" }),
    }),
    expect: tenantScoped(200, false),
    redirectTo: pageOnly,
  },
  {
    route: "tenants/:tenantId",
    name: "GET /admin/tenants/:id with an unknown tenant id",
    request: () => ({ path: `/admin/tenants/tn_${"0".repeat(32)}` }),
    expect: {
      anonymous: 302,
      forged: 302,
      otherTenantAdmin: 404,
      tenantAdmin: 404,
      platformAdmin: 404,
    },
    redirectTo: pageOnly,
  },
  {
    route: "tenants/:tenantId/playground",
    name: "GET /admin/tenants/:id/playground",
    request: () => ({ path: `/admin/tenants/${tenantA}/playground` }),
    expect: tenantScoped(200, false),
    redirectTo: pageOnly,
  },
  {
    route: "tenants/:tenantId/playground",
    name: "POST /admin/tenants/:id/playground (it has no action)",
    request: () => ({ path: `/admin/tenants/${tenantA}/playground`, init: form({ x: "1" }) }),
    expect: {
      anonymous: 405,
      forged: 405,
      otherTenantAdmin: 405,
      tenantAdmin: 405,
      platformAdmin: 405,
    },
  },
  {
    route: "tenants/:tenantId/usage",
    name: "GET /admin/tenants/:id/usage",
    request: () => ({ path: `/admin/tenants/${tenantA}/usage` }),
    expect: tenantScoped(200, false),
    redirectTo: pageOnly,
  },
  {
    route: "tenants/:tenantId/conversations",
    name: "GET /admin/tenants/:id/conversations (search, transcript)",
    request: () => ({ path: `/admin/tenants/${tenantA}/conversations?q=x&id=cv_nosuchone` }),
    expect: tenantScoped(200, false),
    redirectTo: pageOnly,
  },
  {
    route: "tenants/:tenantId/conversations",
    name: "POST /admin/tenants/:id/conversations (it has no action)",
    request: () => ({ path: `/admin/tenants/${tenantA}/conversations`, init: form({ x: "1" }) }),
    expect: {
      anonymous: 405,
      forged: 405,
      otherTenantAdmin: 405,
      tenantAdmin: 405,
      platformAdmin: 405,
    },
  },
  {
    route: "tenants/:tenantId",
    name: "GET /admin/tenants/:id.data (client navigation)",
    request: () => ({ path: `/admin/tenants/${tenantA}.data` }),
    // Single-fetch data requests carry redirects in the body (202) instead of a 302.
    expect: {
      anonymous: 202,
      forged: 202,
      otherTenantAdmin: 404,
      tenantAdmin: 200,
      platformAdmin: 200,
    },
  },
  // ---- issue 6: the Knowledge tab and website crawls (begin) ----
  {
    route: "tenants/:tenantId/knowledge",
    name: "GET /admin/tenants/:id/knowledge",
    request: () => ({ path: `/admin/tenants/${tenantA}/knowledge` }),
    expect: tenantScoped(200, false),
    redirectTo: pageOnly,
  },
  {
    route: "tenants/:tenantId/knowledge",
    name: "POST /admin/tenants/:id/knowledge (add-text)",
    request: (who) => ({
      path: `/admin/tenants/${tenantA}/knowledge`,
      init: form({ intent: "add-text", title: `Page text by ${who}`, text: "Some knowledge." }),
    }),
    expect: tenantScoped(200, false),
    redirectTo: pageOnly,
  },
  // ---- issue 6 (end) ----
  // ---- issue 6 / 11: the knowledge-base check and suggested actions (begin) ----
  {
    route: "tenants/:tenantId/check",
    name: "GET /admin/tenants/:id/check",
    request: () => ({ path: `/admin/tenants/${tenantA}/check` }),
    expect: tenantScoped(200, false),
    redirectTo: pageOnly,
  },
  {
    route: "tenants/:tenantId/check",
    name: "POST /admin/tenants/:id/check (decide on no such suggestion)",
    request: () => ({
      path: `/admin/tenants/${tenantA}/check`,
      init: form({ intent: "decide", id: "999999", decision: "reject" }),
    }),
    expect: tenantScoped(404, false),
    redirectTo: pageOnly,
  },
  // ---- issue 11: the Actions tab (docs/decisions/028) ----
  {
    route: "tenants/:tenantId/actions",
    name: "GET /admin/tenants/:id/actions",
    request: () => ({ path: `/admin/tenants/${tenantA}/actions` }),
    expect: tenantScoped(200, false),
    redirectTo: pageOnly,
  },
  {
    route: "tenants/:tenantId/actions",
    name: "POST /admin/tenants/:id/actions (mark no such record done)",
    request: () => ({
      path: `/admin/tenants/${tenantA}/actions`,
      init: form({ intent: "set-record-status", kind: "lead", id: "999999", status: "done" }),
    }),
    expect: tenantScoped(404, false),
    redirectTo: pageOnly,
  },
  // ---- the trial's Widget tab, its preview, and the sign-up steps (docs/decisions/030) ----
  {
    route: "tenants/:tenantId/widget",
    name: "GET /admin/tenants/:id/widget",
    request: () => ({ path: `/admin/tenants/${tenantA}/widget` }),
    expect: tenantScoped(200, false),
    redirectTo: pageOnly,
  },
  {
    route: "tenants/:tenantId/widget",
    name: "POST /admin/tenants/:id/widget (a refused style changes nothing)",
    request: () => ({
      path: `/admin/tenants/${tenantA}/widget`,
      init: form({ intent: "save-widget", title: "", color: "nope" }),
    }),
    expect: tenantScoped(400, false),
    redirectTo: pageOnly,
  },
  {
    route: "admin/tenants/:tenantId/widget/preview",
    name: "GET /admin/tenants/:id/widget/preview",
    request: () => ({ path: `/admin/tenants/${tenantA}/widget/preview` }),
    expect: tenantScoped(200, false),
    redirectTo: pageOnly,
  },
  ...(["knowledge", "widget", "embed"] as const).map((step): Case => ({
    route: step,
    name: `GET /signup/${step} (only for an admin who signed up; these did not)`,
    request: () => ({ path: `/signup/${step}` }),
    expect: {
      anonymous: 302,
      forged: 302,
      otherTenantAdmin: 302,
      tenantAdmin: 302,
      platformAdmin: 302,
    },
    redirectTo: {
      anonymous: toLogin,
      forged: toLogin,
      otherTenantAdmin: /^\/signup$/,
      tenantAdmin: /^\/signup$/,
      platformAdmin: /^\/signup$/,
    },
  })),
  {
    route: "api/tenants/:tenantId/check",
    name: "GET /api/tenants/:id/check",
    request: () => ({ path: `/api/tenants/${tenantA}/check` }),
    expect: tenantScoped(200, true),
  },
  {
    route: "api/tenants/:tenantId/check",
    name: "POST /api/tenants/:id/check",
    request: () => ({ path: `/api/tenants/${tenantA}/check`, init: json("POST", { wait: true }) }),
    expect: tenantScoped(200, true),
  },
  {
    route: "api/tenants/:tenantId/suggestions/:suggestionId",
    name: "POST /api/tenants/:id/suggestions/:suggestionId (no such suggestion)",
    request: () => ({
      path: `/api/tenants/${tenantA}/suggestions/999999`,
      init: json("POST", { decision: "accept" }),
    }),
    expect: tenantScoped(404, true),
  },
  // ---- issue 6 / 11 (end) ----
  {
    route: "logout",
    name: "GET /logout (no state change)",
    request: () => ({ path: "/logout" }),
    expect: {
      anonymous: 302,
      forged: 302,
      otherTenantAdmin: 302,
      tenantAdmin: 302,
      platformAdmin: 302,
    },
  },

  // ---- admin API ----
  {
    route: "api/tenants",
    name: "GET /api/tenants",
    request: () => ({ path: "/api/tenants", init: { headers: { accept: "application/json" } } }),
    expect: {
      anonymous: 401,
      forged: 401,
      otherTenantAdmin: 200,
      tenantAdmin: 200,
      platformAdmin: 200,
    },
  },
  {
    route: "api/tenants",
    name: "POST /api/tenants (platform admins only)",
    request: () => ({ path: "/api/tenants", init: json("POST", { name: "API-made" }) }),
    expect: {
      anonymous: 401,
      forged: 401,
      otherTenantAdmin: 403,
      tenantAdmin: 403,
      platformAdmin: 201,
    },
  },
  {
    route: "api/tenants/:tenantId",
    name: "GET /api/tenants/:id",
    request: () => ({ path: `/api/tenants/${tenantA}` }),
    expect: tenantScoped(200, true),
  },
  {
    route: "api/tenants/:tenantId",
    name: "PATCH /api/tenants/:id",
    request: () => ({
      path: `/api/tenants/${tenantA}`,
      init: json("PATCH", { mask_transcripts: false }),
    }),
    expect: tenantScoped(200, true),
  },
  {
    route: "api/tenants/:tenantId",
    name: "GET /api/tenants/:id with an invalid id",
    request: () => ({ path: "/api/tenants/..%2Fcontrol" }),
    expect: {
      anonymous: 401,
      forged: 401,
      otherTenantAdmin: 404,
      tenantAdmin: 404,
      platformAdmin: 404,
    },
  },
  {
    route: "api/tenants/:tenantId/documents",
    name: "GET /api/tenants/:id/documents",
    request: () => ({ path: `/api/tenants/${tenantA}/documents` }),
    expect: tenantScoped(200, true),
  },
  {
    route: "api/tenants/:tenantId/documents",
    name: "POST /api/tenants/:id/documents",
    request: (who) => ({
      path: `/api/tenants/${tenantA}/documents`,
      init: json("POST", { type: "text", title: `Added by ${who}`, text: "Some knowledge." }),
    }),
    expect: tenantScoped(202, true),
  },
  {
    route: "api/tenants/:tenantId/documents/:documentId",
    name: "GET /api/tenants/:id/documents/:documentId",
    request: () => ({ path: `/api/tenants/${tenantA}/documents/${docs[0]}` }),
    expect: tenantScoped(200, true),
  },
  {
    route: "api/tenants/:tenantId/documents/:documentId",
    name: "DELETE /api/tenants/:id/documents/:documentId",
    // Each role that may delete deletes its own document, so each sees a 204.
    request: (who) => ({
      path: `/api/tenants/${tenantA}/documents/${who === "platformAdmin" ? docs[2] : docs[1]}`,
      init: { method: "DELETE" },
    }),
    expect: tenantScoped(204, true),
  },
  {
    route: "api/tenants/:tenantId/jobs",
    name: "GET /api/tenants/:id/jobs",
    request: () => ({ path: `/api/tenants/${tenantA}/jobs` }),
    expect: tenantScoped(200, true),
  },
  // ---- issue 6: website crawls (begin) ----
  {
    route: "api/tenants/:tenantId/crawls",
    name: "GET /api/tenants/:id/crawls",
    request: () => ({ path: `/api/tenants/${tenantA}/crawls` }),
    expect: tenantScoped(200, true),
  },
  {
    route: "api/tenants/:tenantId/crawls",
    name: "POST /api/tenants/:id/crawls",
    // A different address per role: one address is crawled once at a time.
    request: (who) => ({
      path: `/api/tenants/${tenantA}/crawls`,
      init: json("POST", { url: `http://127.0.0.1:9/${who}` }),
    }),
    expect: tenantScoped(202, true),
  },
  {
    route: "api/tenants/:tenantId/crawls/:crawlId",
    name: "GET /api/tenants/:id/crawls/:crawlId",
    request: () => ({ path: `/api/tenants/${tenantA}/crawls/${crawlA}` }),
    expect: tenantScoped(200, true),
  },
  {
    route: "api/tenants/:tenantId/crawls/:crawlId",
    name: "PATCH /api/tenants/:id/crawls/:crawlId",
    request: () => ({
      path: `/api/tenants/${tenantA}/crawls/${crawlA}`,
      init: json("PATCH", { recrawl: "off" }),
    }),
    expect: tenantScoped(200, true),
  },
  {
    route: "api/tenants/:tenantId/crawls/:crawlId",
    name: "DELETE /api/tenants/:id/crawls/:crawlId (no such crawl)",
    request: () => ({
      path: `/api/tenants/${tenantA}/crawls/999999`,
      init: { method: "DELETE" },
    }),
    expect: tenantScoped(404, true),
  },
  // ---- issue 6 (end) ----
  {
    route: "api/tenants/:tenantId/unanswered",
    name: "GET /api/tenants/:id/unanswered",
    request: () => ({ path: `/api/tenants/${tenantA}/unanswered` }),
    expect: tenantScoped(200, true),
  },
  {
    route: "api/tenants/:tenantId/embed",
    name: "GET /api/tenants/:id/embed",
    request: () => ({ path: `/api/tenants/${tenantA}/embed` }),
    expect: tenantScoped(200, true),
  },
  {
    route: "api/tenants/:tenantId/embed",
    name: "PATCH /api/tenants/:id/embed",
    request: () => ({
      path: `/api/tenants/${tenantA}/embed`,
      init: json("PATCH", { allowed_origins: ["https://roles.example"] }),
    }),
    expect: tenantScoped(200, true),
  },
  {
    route: "api/tenants/:tenantId/keys",
    name: "GET /api/tenants/:id/keys",
    request: () => ({ path: `/api/tenants/${tenantA}/keys` }),
    expect: tenantScoped(200, true),
  },
  {
    route: "api/tenants/:tenantId/keys",
    name: "POST /api/tenants/:id/keys",
    request: (who) => ({
      path: `/api/tenants/${tenantA}/keys`,
      init: json("POST", { name: `made by ${who}` }),
    }),
    expect: tenantScoped(201, true),
  },
  {
    route: "api/tenants/:tenantId/keys/:keyId",
    name: "DELETE /api/tenants/:id/keys/:keyId (no such key)",
    request: () => ({ path: `/api/tenants/${tenantA}/keys/999999`, init: { method: "DELETE" } }),
    expect: tenantScoped(404, true),
  },
  {
    route: "api/tenants/:tenantId/plan",
    name: "GET /api/tenants/:id/plan",
    request: () => ({ path: `/api/tenants/${tenantA}/plan` }),
    expect: tenantScoped(200, true),
  },
  {
    route: "api/tenants/:tenantId/plan",
    name: "PATCH /api/tenants/:id/plan (platform admins only)",
    request: () => ({
      path: `/api/tenants/${tenantA}/plan`,
      init: json("PATCH", { token_budget: 5_000_000 }),
    }),
    expect: {
      anonymous: 401,
      forged: 401,
      otherTenantAdmin: 404,
      tenantAdmin: 403,
      platformAdmin: 200,
    },
  },
  {
    route: "api/tenants/:tenantId/export",
    name: "GET /api/tenants/:id/export (platform admins only)",
    request: () => ({ path: `/api/tenants/${tenantA}/export` }),
    expect: {
      anonymous: 401,
      forged: 401,
      otherTenantAdmin: 403,
      tenantAdmin: 403,
      platformAdmin: 200,
    },
  },
  {
    route: "api/tenants/:tenantId",
    name: "DELETE /api/tenants/:id (platform admins only; no such tenant)",
    request: () => ({ path: `/api/tenants/tn_${"0".repeat(32)}`, init: { method: "DELETE" } }),
    expect: {
      anonymous: 401,
      forged: 401,
      otherTenantAdmin: 403,
      tenantAdmin: 403,
      platformAdmin: 404,
    },
  },
  {
    route: "api/tenants/:tenantId/audit",
    name: "GET /api/tenants/:id/audit",
    request: () => ({ path: `/api/tenants/${tenantA}/audit` }),
    expect: tenantScoped(200, true),
  },
  {
    route: "api/tenants/:tenantId/actions",
    name: "GET /api/tenants/:id/actions",
    request: () => ({ path: `/api/tenants/${tenantA}/actions` }),
    expect: tenantScoped(200, true),
  },
  {
    route: "api/tenants/:tenantId/actions",
    name: "PUT /api/tenants/:id/actions",
    request: () => ({
      path: `/api/tenants/${tenantA}/actions`,
      init: json("PUT", { slotMinutes: 45 }),
    }),
    expect: tenantScoped(200, true),
  },
  {
    route: "api/tenants/:tenantId/actions/secret",
    name: "POST /api/tenants/:id/actions/secret",
    request: () => ({ path: `/api/tenants/${tenantA}/actions/secret`, init: json("POST", {}) }),
    expect: tenantScoped(201, true),
  },
  {
    route: "api/tenants/:tenantId/actions/records",
    name: "GET /api/tenants/:id/actions/records",
    request: () => ({ path: `/api/tenants/${tenantA}/actions/records?kind=lead` }),
    expect: tenantScoped(200, true),
  },
  {
    route: "api/tenants/:tenantId/actions/records/:recordId",
    name: "PATCH /api/tenants/:id/actions/records/:recordId (no such record)",
    request: () => ({
      path: `/api/tenants/${tenantA}/actions/records/999999`,
      init: json("PATCH", { kind: "lead", status: "done" }),
    }),
    expect: tenantScoped(404, true),
  },
  // MCP takes a tenant's secret key and nothing else: an admin's cookie is no key
  // (tests/integration/mcp.test.ts covers the keys).
  ...["api/mcp", "api/tenants/:tenantId/mcp"].map((route): Case => ({
    route,
    name: `POST /${route} (secret keys only)`,
    request: () => ({
      path: `/${route.replace(":tenantId", tenantA)}`,
      init: json("POST", { jsonrpc: "2.0", id: 1, method: "tools/list" }),
    }),
    expect: {
      anonymous: 401,
      forged: 401,
      otherTenantAdmin: 401,
      tenantAdmin: 401,
      platformAdmin: 401,
    },
  })),
  // The OpenAI-compatible API, likewise: secret keys only (tests/integration/openai-api.test.ts).
  ...[
    { route: "v1/models", init: undefined },
    {
      route: "v1/chat/completions",
      init: json("POST", { model: "x", messages: [{ role: "user", content: "Hi" }] }),
    },
  ].map(({ route, init }): Case => ({
    route,
    name: `${init ? "POST" : "GET"} /${route} (secret keys only)`,
    request: () => ({ path: `/${route}`, init }),
    expect: {
      anonymous: 401,
      forged: 401,
      otherTenantAdmin: 401,
      tenantAdmin: 401,
      platformAdmin: 401,
    },
  })),
];

/** Routes that are public on purpose (no admin data, no admin action). */
const publicRoutes = new Set([
  "(index)",
  "healthz",
  "readyz",
  "api/health/rag-pipeline",
  "demo",
  "api/ask",
  "api/widget/:tenantId/config",
  "api/widget/:tenantId/session",
  "api/feedback",
  // Visitor auth (widget key and session), tested in actions.test.ts.
  "api/actions/confirm",
  "api/actions/slots",
  // Behind its own bearer token (METRICS_TOKEN), tested in metrics.test.ts.
  "metrics",
  // Between instances: an HMAC-signed batch only (replication.test.ts, writes.server.test.ts).
  "api/internal/outbox",
  "login",
  "setup",
  // The self-serve trial's sign-up form, and the embed test page (needs the publishable key).
  "signup",
  "embed-test/:tenantId",
  // The OpenAPI document and its reference page (docs/decisions/044).
  "api/openapi.json",
  "api/docs",
]);

describe("every admin route, as every kind of visitor", () => {
  it("has a row for every route in app/routes.ts that is not public", () => {
    const source = fs.readFileSync(
      path.resolve(import.meta.dirname, "../../app/routes.ts"),
      "utf8",
    );
    const routes = [...source.matchAll(/route\("([^"]+)"/g)].map((m) => m[1] as string);
    if (/index\("routes\/home/.test(source)) routes.push("(index)");
    const covered = new Set(cases.map((c) => c.route));
    // admin._index is the index of "admin"; logout's POST is exercised below.
    const missing = routes.filter((r) => !publicRoutes.has(r) && !covered.has(r));
    expect(missing).toEqual([]);
  });

  for (const item of cases) {
    describe(item.name, () => {
      for (const who of everyone) {
        it(`as ${who}`, async () => {
          const { path: target, init } = item.request(who);
          const res = await clients[who].fetch(target, init);
          expect(res.status, `${item.name} as ${who}`).toBe(item.expect[who]);
          const location = item.redirectTo?.[who];
          if (location) expect(res.headers.get("location") ?? "").toMatch(location);
          const body = await res.text();
          // Nobody but tenant A's admins sees its name or documents.
          if (who !== "tenantAdmin" && who !== "platformAdmin") {
            expect(body).not.toContain("Tenant A");
            expect(body).not.toContain("Roles document");
          }
        });
      }
    });
  }

  it("lists only the tenants an admin manages", async () => {
    const names = async (who: Who) => {
      const res = await clients[who].fetch("/api/tenants");
      return ((await res.json()) as { tenants: { id: string }[] }).tenants.map((t) => t.id);
    };
    expect(await names("tenantAdmin")).toEqual([tenantA]);
    expect(await names("otherTenantAdmin")).toEqual([tenantB]);
    expect(await names("platformAdmin")).toEqual(expect.arrayContaining([tenantA, tenantB]));
  });

  it("refuses every state-changing admin request from another origin, and changes nothing", async () => {
    const admin = clients.platformAdmin;
    const evil = { origin: "https://evil.example" };
    const before = await (await admin.fetch("/api/tenants")).text();
    const attempts: Array<[string, RequestInit]> = [
      ["/admin?index", form({ name: "csrf" })],
      [`/admin/tenants/${tenantA}`, form({ intent: "add-text", title: "csrf", text: "x" })],
      ["/api/tenants", json("POST", { name: "csrf" })],
      [`/api/tenants/${tenantA}`, json("PATCH", { llm_model: "csrf-model" })],
      [`/api/tenants/${tenantA}/documents`, json("POST", { type: "text", title: "c", text: "x" })],
      [`/api/tenants/${tenantA}/documents/${docs[0]}`, { method: "DELETE" }],
      ["/logout", { method: "POST" }],
      ["/login", form({ email: ADMIN.email, password: ADMIN.password })],
    ];
    for (const [target, init] of attempts) {
      const headers = new Headers(init.headers);
      headers.set("origin", evil.origin);
      const res = await admin.fetch(target, { ...init, headers });
      // React Router refuses cross-origin page actions itself (400); our check (403) covers
      // the API and runs inside every action as well.
      expect([400, 403], target).toContain(res.status);
    }
    // Without Origin: a foreign Referer, or a cookie with neither header, is refused too.
    const withoutOrigin: Array<Record<string, string>> = [
      { referer: "https://evil.example/page" },
      {},
    ];
    for (const extra of withoutOrigin) {
      const res = await fetch(`${server.url}/api/tenants`, {
        method: "POST",
        headers: { "content-type": "application/json", cookie: admin.cookie, ...extra },
        body: JSON.stringify({ name: "csrf" }),
      });
      expect(res.status).toBe(403);
    }
    expect(await (await admin.fetch("/api/tenants")).text()).toBe(before);
    expect((await admin.fetch(`/api/tenants/${tenantA}/documents/${docs[0]}`)).status).toBe(200);
    // Still signed in: the cross-site sign-out did nothing.
    expect((await admin.fetch("/admin")).status).toBe(200);
  });

  it("signs out with a same-origin POST, after which the old cookie opens nothing", async () => {
    const alice = await signInAs(server.url, ALICE);
    const cookie = alice.cookie;
    const res = await alice.fetch("/logout", { method: "POST" });
    expect(res.status).toBe(302);
    const stale = new Client(server.url);
    stale.cookie = cookie;
    expect((await stale.fetch(`/api/tenants/${tenantA}`)).status).toBe(401);
  });
});
