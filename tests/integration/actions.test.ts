// Actions through the built server (issue 11; docs/decisions/027): the embedded default
// offers a matching action as an `action` event, a hosted LLM (the fake one) proposes one
// through tool calls (invalid, corrected, chained after a search); nothing is stored until
// the visitor confirms; a confirmed booking takes its slot (a second one gets 409); contact
// details need consent; offers are single use and bound to their visitor session and
// tenant; the tenant's webhook is called signed, and its failure is a 502 after retries
// until its breaker opens; every run is audited.
import { createHmac } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ActionEvent, type AskEventMap, readAskEvents } from "../../app/shared/ask-events.ts";
import { createTenant, signIn, uploadFixtures, waitForJobs } from "../support/admin.ts";
import { createAdmin } from "../support/cli.ts";
import { type FakeLlm, startFakeLlm } from "../support/fake-llm.ts";
import { allowOrigins, visitorSession, widgetKeyOf } from "../support/keys.ts";
import { type Client, startServer, tempDataDir, type TestServer } from "../support/server.ts";

interface Visitor {
  tenantId: string;
  key: string;
  sessionToken: string;
}

type Events = Array<{ event: string; data: unknown }>;

async function ask(server: TestServer, visitor: Visitor, query: string): Promise<Events> {
  const res = await fetch(`${server.url}/api/ask`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      tenant_id: visitor.tenantId,
      key: visitor.key,
      session_token: visitor.sessionToken,
      query,
    }),
  });
  expect(res.status).toBe(200);
  const events: Events = [];
  for await (const item of readAskEvents(res.body!)) events.push(item);
  return events;
}

const actionOf = (events: Events) =>
  events.find((item) => item.event === "action")?.data as ActionEvent | undefined;

function confirm(server: TestServer, visitor: Visitor, body: Record<string, unknown>) {
  return fetch(`${server.url}/api/actions/confirm`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      tenantId: visitor.tenantId,
      key: visitor.key,
      sessionToken: visitor.sessionToken,
      consent: false,
      args: {},
      ...body,
    }),
  });
}

async function newVisitor(server: TestServer, admin: Client, tenantId: string): Promise<Visitor> {
  const key = await widgetKeyOf(admin, tenantId);
  return { tenantId, key, sessionToken: await visitorSession(server.url, tenantId, key) };
}

async function records(admin: Client, tenantId: string, kind: string) {
  const res = await admin.fetch(`/api/tenants/${tenantId}/actions/records?kind=${kind}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { records: Array<Record<string, unknown>> }).records;
}

async function putSettings(admin: Client, tenantId: string, body: unknown) {
  return admin.json(`/api/tenants/${tenantId}/actions`, body, "PUT");
}

/** A weekday at least two days ahead (UTC), inside the default opening hours. */
function nextWeekday(): string {
  const day = new Date(Date.now() + 2 * 24 * 3600 * 1000);
  while (day.getUTCDay() === 0 || day.getUTCDay() === 6) day.setUTCDate(day.getUTCDate() + 1);
  return day.toISOString().slice(0, 10);
}

// ---- a tenant's system, receiving webhooks ----------------------------------------------------

interface TenantSystem {
  url: string;
  calls: Array<{ body: Record<string, unknown>; verified: boolean }>;
  failing: boolean;
  secret: string;
  close(): Promise<void>;
}

async function startTenantSystem(): Promise<TenantSystem> {
  const system = { calls: [], failing: false, secret: "" } as unknown as TenantSystem;
  const server = http.createServer(async (req, res) => {
    const parts: Buffer[] = [];
    for await (const part of req) parts.push(part as Buffer);
    const raw = Buffer.concat(parts).toString("utf8");
    // The README's verification: t=<seconds>,v1=<hex HMAC-SHA256 of "t.body">.
    const header = String(req.headers["bitb-signature"] ?? "");
    const fields = Object.fromEntries(header.split(",").map((part) => part.split("=", 2)));
    const expected = createHmac("sha256", system.secret).update(`${fields.t}.${raw}`).digest("hex");
    const fresh = Math.abs(Date.now() / 1000 - Number(fields.t)) < 300;
    const verified = fields.v1 === expected && fresh;
    system.calls.push({ body: JSON.parse(raw) as Record<string, unknown>, verified });
    if (!verified) {
      res.writeHead(401).end();
    } else if (system.failing) {
      res.writeHead(503).end("down");
    } else {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({ message: "Order 10452 left our warehouse today.", reference: "SHIP-9" }),
      );
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  system.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/bitb`;
  system.close = () => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(() => resolve()));
  };
  return system;
}

// ---- the embedded default: matching ----------------------------------------------------------

describe("actions with the embedded default (matching)", () => {
  let server: TestServer;
  let admin: Client;
  let shop: string;
  let other: string;
  let system: TenantSystem;

  beforeAll(async () => {
    const dataDir = tempDataDir();
    await createAdmin(dataDir);
    server = await startServer({ dataDir });
    admin = await signIn(server.url);
    shop = await createTenant(admin, "Lumen Espresso");
    other = await createTenant(admin, "Kestrel Ferries");
    await waitForJobs(admin, shop, await uploadFixtures(admin, shop, ["sample.md"]));
    const saved = await putSettings(admin, shop, {
      actions: { handoff_to_human: { enabled: true }, qualify_lead: { enabled: true } },
    });
    expect(saved.status).toBe(200);
    system = await startTenantSystem();
  });
  afterAll(async () => {
    await system?.close();
    await server?.stop();
  });

  it("offers handoff_to_human for 'Can I talk to a person?' and stores nothing before the confirm", async () => {
    const visitor = await newVisitor(server, admin, shop);
    const events = await ask(server, visitor, "Can I talk to a person?");
    const names = events.map((item) => item.event);
    expect(names.indexOf("action")).toBe(names.indexOf("done") - 1);
    const offer = actionOf(events)!;
    expect(offer).toMatchObject({
      name: "handoff_to_human",
      title: "Talk to a person",
      source: "match",
      contact: true,
    });
    expect(offer.expiresAt).toBeGreaterThan(Date.now() + 25 * 60 * 1000);
    expect(offer.fields.map((field) => field.name)).toEqual(["reason", "urgency"]);
    expect(await records(admin, shop, "handoff")).toEqual([]);

    // Contact details without consent: refused, nothing stored, the offer still usable.
    const noConsent = await confirm(server, visitor, {
      offerId: offer.offerId,
      args: { reason: "My machine leaks" },
      contact: { name: "Ada", email: "ada@example.com" },
    });
    expect(noConsent.status).toBe(400);
    expect(((await noConsent.json()) as { error: { code: string } }).error.code).toBe(
      "consent_required",
    );
    // Bad arguments: 400 with a message per field.
    const bad = await confirm(server, visitor, {
      offerId: offer.offerId,
      args: { reason: "", urgency: "extreme" },
    });
    expect(bad.status).toBe(400);
    const badBody = (await bad.json()) as {
      error: { code: string; fields: Record<string, string> };
    };
    expect(badBody.error.code).toBe("invalid_request");
    expect(Object.keys(badBody.error.fields).sort()).toEqual(["reason", "urgency"]);
    expect(await records(admin, shop, "handoff")).toEqual([]);

    // Another visitor of the same tenant, or another tenant, cannot use the offer.
    const stranger = await newVisitor(server, admin, shop);
    const stolen = await confirm(server, stranger, {
      offerId: offer.offerId,
      args: { reason: "x" },
    });
    expect(stolen.status).toBe(410);
    const elsewhere = await newVisitor(server, admin, other);
    const crossTenant = await confirm(server, elsewhere, {
      offerId: offer.offerId,
      args: { reason: "x" },
    });
    expect(crossTenant.status).toBe(410);
    const mixed = await confirm(
      server,
      { ...visitor, tenantId: other },
      {
        offerId: offer.offerId,
        args: { reason: "x" },
      },
    );
    expect(mixed.status).toBe(403);

    const ok = await confirm(server, visitor, {
      offerId: offer.offerId,
      args: { reason: "My machine leaks" },
      contact: { name: "Ada", email: "ada@example.com" },
      consent: true,
    });
    expect(ok.status).toBe(200);
    const done = (await ok.json()) as { status: string; message: string; reference: string };
    expect(done.status).toBe("done");
    expect(done.message).toContain(done.reference);
    const [ticket] = await records(admin, shop, "handoff");
    expect(ticket).toMatchObject({
      status: "open",
      summary: "My machine leaks",
      reference: done.reference,
      contact: { name: "Ada", email: "ada@example.com", phone: "" },
      details: { reason: "My machine leaks", urgency: "normal" },
    });

    // Single use.
    const again = await confirm(server, visitor, {
      offerId: offer.offerId,
      args: { reason: "again" },
    });
    expect(again.status).toBe(410);

    // The admin marks it done and exports the tickets.
    const patched = await admin.json(
      `/api/tenants/${shop}/actions/records/${String(ticket!.id)}`,
      { kind: "handoff", status: "done" },
      "PATCH",
    );
    expect(patched.status).toBe(200);
    const csv = await admin.fetch(`/api/tenants/${shop}/actions/records?kind=handoff&format=csv`);
    expect(csv.headers.get("content-type")).toMatch(/text\/csv/);
    const text = await csv.text();
    expect(text).toContain(`,${done.reference},done,`);
    expect(text).toContain("ada@example.com");

    // The run is audited: the action, the outcome, masked arguments (no contact values).
    const audit = await admin.fetch(`/api/tenants/${shop}/audit?format=json&limit=50`);
    const entries = ((await audit.json()) as { entries: Array<Record<string, unknown>> }).entries;
    const runs = entries.filter((entry) => entry.action === "action:handoff_to_human");
    expect(runs.map((entry) => entry.outcome)).toEqual(
      expect.arrayContaining(["ok", "consent_required", "invalid_request"]),
    );
    expect(JSON.stringify(runs)).not.toContain("ada@example.com");
  });

  it("answers cross-origin calls like the rest of the widget API: allowed origins only", async () => {
    await allowOrigins(admin, shop, ["https://shop.example"]);
    const visitor = await newVisitor(server, admin, shop);
    const preflight = (origin: string) =>
      fetch(`${server.url}/api/actions/confirm`, {
        method: "OPTIONS",
        headers: { origin, "access-control-request-method": "POST" },
      });
    expect((await preflight("https://evil.example")).status).toBe(403);
    const allowed = await preflight("https://shop.example");
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get("access-control-allow-origin")).toBe("https://shop.example");
    const post = (origin: string) =>
      fetch(`${server.url}/api/actions/confirm`, {
        method: "POST",
        headers: { "content-type": "application/json", origin },
        body: JSON.stringify({ ...visitor, offerId: "of1.x.y", args: {}, consent: false }),
      });
    const evil = await post("https://evil.example");
    expect(evil.status).toBe(403);
    expect(evil.headers.get("access-control-allow-origin")).toBeNull();
    const fromShop = await post("https://shop.example");
    expect(fromShop.status).toBe(410);
    expect(fromShop.headers.get("access-control-allow-origin")).toBe("https://shop.example");
    const slots = await fetch(
      `${server.url}/api/actions/slots?${new URLSearchParams({ ...visitor, date: "2026-12-04" })}`,
      { headers: { origin: "https://evil.example" } },
    );
    expect(slots.status).toBe(403);
    const unknownParam = await fetch(
      `${server.url}/api/actions/slots?${new URLSearchParams({ ...visitor, date: "2026-12-04", x: "1" })}`,
    );
    expect(unknownParam.status).toBe(400);
  });

  it("offers nothing for a question the knowledge base answers", async () => {
    const visitor = await newVisitor(server, admin, shop);
    const events = await ask(
      server,
      visitor,
      "How often must the Lumen X2 espresso machine be descaled?",
    );
    expect(actionOf(events)).toBeUndefined();
    expect((events.at(-1)?.data as AskEventMap["done"]).answer).toMatch(/3 weeks/);
  });

  it("refuses webhook-only actions on the built-in back-end", async () => {
    const res = await putSettings(admin, shop, {
      actions: { order_tracking: { enabled: true, backend: "builtin" } },
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; fields: Record<string, string> } };
    expect(body.error.code).toBe("invalid_request");
    expect(body.error.fields["actions.order_tracking.backend"]).toMatch(/webhook/);
  });

  it("calls the tenant's webhook signed; a failing one is a 502 after retries, then its breaker opens", async () => {
    const rotated = await admin.json(`/api/tenants/${shop}/actions/secret`, {});
    expect(rotated.status).toBe(201);
    system.secret = ((await rotated.json()) as { secret: string }).secret;
    const settings = await admin.fetch(`/api/tenants/${shop}/actions`);
    expect(await settings.text()).not.toContain(system.secret);
    const saved = await putSettings(admin, shop, {
      actions: { order_tracking: { enabled: true, backend: "webhook", webhookUrl: system.url } },
    });
    expect(saved.status).toBe(200);

    const visitor = await newVisitor(server, admin, shop);
    const offer = actionOf(await ask(server, visitor, "Where is my order?"))!;
    expect(offer.name).toBe("order_tracking");
    expect(system.calls).toHaveLength(0);
    const ok = await confirm(server, visitor, {
      offerId: offer.offerId,
      args: { order_number: "10452" },
    });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({
      status: "done",
      message: "Order 10452 left our warehouse today.",
      reference: "SHIP-9",
    });
    expect(system.calls).toHaveLength(1);
    expect(system.calls[0]).toMatchObject({
      verified: true,
      body: {
        action: "order_tracking",
        tenantId: shop,
        offerId: offer.offerId,
        args: { order_number: "10452" },
        contact: null,
      },
    });

    system.failing = true;
    const failing = actionOf(await ask(server, visitor, "Where is my order?"))!;
    for (let run = 1; run <= 3; run++) {
      const res = await confirm(server, visitor, {
        offerId: failing.offerId,
        args: { order_number: "10452" },
      });
      expect(res.status).toBe(502);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe("action_failed");
      expect(body.error.message).toMatch(/could not be completed/);
      // Three attempts per run.
      expect(system.calls).toHaveLength(1 + run * 3);
    }
    // Three failed runs in a row: the breaker is open and the system is left alone.
    const open = await confirm(server, visitor, {
      offerId: failing.offerId,
      args: { order_number: "10452" },
    });
    expect(open.status).toBe(502);
    expect(system.calls).toHaveLength(10);
    expect(server.logs()).not.toContain(system.secret);
  }, 30_000);
});

// ---- a hosted LLM: tool calls -------------------------------------------------------------------

describe("actions with a hosted LLM (tool calls)", () => {
  let server: TestServer;
  let llm: FakeLlm;
  let admin: Client;
  let clinic: string;

  beforeAll(async () => {
    llm = await startFakeLlm();
    const dataDir = tempDataDir();
    await createAdmin(dataDir);
    server = await startServer({
      dataDir,
      env: { LLM_BASE_URL: `${llm.url}/v1`, LLM_MODEL: "house-model", LLM_API_KEY: "sk-test" },
    });
    admin = await signIn(server.url);
    clinic = await createTenant(admin, "Harbour Clinic");
    const saved = await putSettings(admin, clinic, {
      actions: { book_appointment: { enabled: true } },
    });
    expect(saved.status).toBe(200);
  });
  afterAll(async () => {
    await server?.stop();
    await llm?.close();
  });

  it("books after a chained search, an invalid call and its correction — only once confirmed", async () => {
    const date = nextWeekday();
    llm.setBehaviour({
      toolTurns: [
        { toolCalls: [{ name: "search_knowledge_base", arguments: '{"query":"opening hours"}' }] },
        { toolCalls: [{ name: "book_appointment", arguments: '{"date":"next friday"}' }] },
        {
          text: "I can book that for you.",
          toolCalls: [
            { name: "book_appointment", arguments: JSON.stringify({ date, time: "10:00" }) },
          ],
        },
      ],
    });
    const visitor = await newVisitor(server, admin, clinic);
    const events = await ask(server, visitor, "Can I come in at 10 on " + date + "?");
    const offer = actionOf(events)!;
    expect(offer).toMatchObject({ name: "book_appointment", source: "tool", contact: true });
    const time = offer.fields.find((field) => field.name === "time")!;
    expect(time).toMatchObject({ type: "select", required: true, value: "10:00" });
    expect(time.options).toContain("10:00");
    expect(offer.fields.find((field) => field.name === "date")?.value).toBe(date);
    const done = events.at(-1)!;
    expect(done.event).toBe("done");
    expect((done.data as AskEventMap["done"]).answer).toBe("I can book that for you.");

    // The model was told its invalid call's error, and got the search result.
    const toolMessages = llm.requests
      .map((request) => request.body as { messages?: Array<{ role: string; content: string }> })
      .flatMap((body) => body.messages ?? [])
      .filter((message) => message.role === "tool")
      .map((message) => message.content);
    expect(
      toolMessages.some((content) => /Invalid arguments for book_appointment/.test(content)),
    ).toBe(true);
    // Nothing booked before the visitor confirms.
    expect(await records(admin, clinic, "appointment")).toEqual([]);

    const booked = await confirm(server, visitor, {
      offerId: offer.offerId,
      args: { date, time: "10:00" },
      contact: { name: "Bo", phone: "+44 20 7946 0000" },
      consent: true,
    });
    expect(booked.status).toBe(200);
    const result = (await booked.json()) as { message: string; reference: string };
    expect(result.message).toMatch(
      /^Booked for \w{3} \d{1,2} \w{3} at 10:00\. Reference [A-Z2-9]{6}\.$/,
    );
    const [appointment] = await records(admin, clinic, "appointment");
    expect(appointment).toMatchObject({ reference: result.reference, status: "open" });

    // The slot is now taken: gone from the free slots, and a second booking gets 409.
    const slots = await fetch(
      `${server.url}/api/actions/slots?${new URLSearchParams({ ...visitor, date })}`,
    );
    expect(slots.status).toBe(200);
    const free = (await slots.json()) as { date: string; slots: string[] };
    expect(free.date).toBe(date);
    expect(free.slots).toContain("10:30");
    expect(free.slots).not.toContain("10:00");

    llm.setBehaviour({
      toolTurns: [
        { toolCalls: [{ name: "book_appointment", arguments: JSON.stringify({ date }) }] },
      ],
    });
    const second = await newVisitor(server, admin, clinic);
    const offer2 = actionOf(await ask(server, second, `Book me on ${date}`))!;
    expect(offer2.fields.find((field) => field.name === "time")?.options).not.toContain("10:00");
    const taken = await confirm(server, second, {
      offerId: offer2.offerId,
      args: { date, time: "10:00" },
    });
    expect(taken.status).toBe(409);
    expect(((await taken.json()) as { error: { code: string } }).error.code).toBe("slot_taken");
    expect(await records(admin, clinic, "appointment")).toHaveLength(1);
  });

  it("answers a tenant without actions on the ordinary streamed path", async () => {
    const plain = await createTenant(admin, "Plain Tenant");
    const before = llm.requests.length;
    llm.setBehaviour({ toolTurns: [], reply: "Streamed as usual." });
    const visitor = await newVisitor(server, admin, plain);
    const events = await ask(server, visitor, "Hello?");
    expect(actionOf(events)).toBeUndefined();
    const sent = llm.requests
      .slice(before)
      .map((request) => request.body as { stream?: boolean; tools?: unknown });
    expect(sent.every((body) => body.tools === undefined)).toBe(true);
  });
});
