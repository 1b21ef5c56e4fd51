import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { listAudit } from "#tenants/audit.ts";
import { newTenantId, type TenantId } from "#tenants/id.ts";
import { replaceDocument } from "#tenants/knowledge-base.ts";
import { TenantPool } from "#tenants/store.ts";
import { FakeEmbedder } from "../../../tests/support/fake-embedder.ts";
import { createRetrievalCache } from "../ask/retrieval-cache.server.ts";
import { parseConfig } from "../config.server.ts";
import type { TenantRecord } from "../control-db.server.ts";
import { ApiError } from "../errors.server.ts";
import { silentLogger } from "../logger.server.ts";
import { confirmAction, parseActionArgs } from "./confirm.server.ts";
import { issueOffer, offerKey } from "./offers.server.ts";
import { listActionRecords } from "./records.server.ts";
import { runAction } from "./run.server.ts";
import { getActionSettings, rotateWebhookSecret, saveActionSettings } from "./settings.server.ts";

const embedder = new FakeEmbedder({ dimension: 16 });
let dir: string;
let pool: TenantPool;
let tenant: TenantRecord;

function runtime(allowPrivate = true) {
  return {
    tenants: pool,
    embedder,
    config: parseConfig({
      DATA_DIR: dir,
      LOG_LEVEL: "silent",
      INGEST_ALLOW_PRIVATE_URLS: allowPrivate ? "true" : "false",
    }),
    logger: silentLogger,
    retrievalCache: createRetrievalCache(parseConfig({ DATA_DIR: dir })),
  };
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-run-"));
  pool = new TenantPool(dir, { model: embedder.model, dimension: embedder.dimension }, 4);
  const id: TenantId = newTenantId();
  const db = pool.create(id);
  tenant = {
    id,
    name: "T",
    plan: "trial",
    status: "active",
    llmModel: null,
    maskTranscripts: false,
    createdAt: 0,
  };
  const text =
    "Returns and refunds: a damaged item can be returned within 30 days for a full refund.";
  replaceDocument(db, {
    sourceKey: "text:returns",
    sourceType: "text",
    title: "Returns policy",
    contentHash: "h",
    bytes: text.length,
    chunks: [
      { ord: 0, headingPath: "Returns", text, tokenCount: 20, embedding: embedder.vector(text) },
    ],
  });
});
afterEach(() => {
  pool.closeAll();
  fs.rmSync(dir, { recursive: true, force: true });
});

const conversationId = "cv_0123456789abcdef01234567";
const settingsOf = () => getActionSettings(pool.get(tenant.id));

function nextWeekday(): string {
  const day = new Date(Date.now() + 2 * 24 * 3600 * 1000);
  while (day.getUTCDay() === 0 || day.getUTCDay() === 6) day.setUTCDate(day.getUTCDate() + 1);
  return day.toISOString().slice(0, 10);
}

async function codeOf(promise: Promise<unknown>) {
  try {
    await promise;
    return null;
  } catch (error) {
    return error instanceof ApiError ? { code: error.code, fields: error.fields } : error;
  }
}

describe("built-in back-ends", () => {
  it("books a free slot once; a closed or taken time is refused", async () => {
    const date = nextWeekday();
    const run = (time?: string) =>
      runAction(runtime(), tenant, {
        name: "book_appointment",
        args: time ? { date, time } : { date },
        contact: { name: "Ada" },
        conversationId,
        offerId: null,
        settings: settingsOf(),
      });
    const booked = await run("10:00");
    expect(booked.message).toMatch(/^Booked for .* at 10:00\. Reference [A-Z2-9]{6}\.$/);
    expect(booked.details).toEqual({ date, time: "10:00", timezone: "UTC" });
    expect(await codeOf(run("10:00"))).toMatchObject({ code: "slot_taken" });
    expect(await codeOf(run("20:00"))).toMatchObject({
      code: "invalid_request",
      fields: { time: expect.stringMatching(/free slots/) },
    });
    expect(await codeOf(run())).toMatchObject({
      code: "invalid_request",
      fields: { time: "Choose a time." },
    });
    const [appointment] = listActionRecords(pool.get(tenant.id), "appointment");
    expect(appointment).toMatchObject({ reference: booked.reference, contact: { name: "Ada" } });
  });

  it("stores leads and hand-off tickets, answers returns from the knowledge base", async () => {
    const base = { contact: null, conversationId, offerId: null, settings: settingsOf() };
    const lead = await runAction(runtime(), tenant, {
      ...base,
      name: "qualify_lead",
      args: { interest: "A quote for 20 seats", timeline: "now" },
    });
    expect(lead.message).toMatch(/follow up with you in this chat/);
    const handoff = await runAction(runtime(), tenant, {
      ...base,
      name: "handoff_to_human",
      args: { reason: "Billing question", urgency: "high" },
      contact: { email: "a@b.example" },
    });
    expect(handoff.message).toMatch(/^A person from the team will get back to you as soon/);
    expect(listActionRecords(pool.get(tenant.id), "lead")[0]?.summary).toBe("A quote for 20 seats");
    expect(listActionRecords(pool.get(tenant.id), "handoff")[0]?.details).toEqual({
      reason: "Billing question",
      urgency: "high",
    });
    const returns = await runAction(runtime(), tenant, {
      ...base,
      name: "returns_and_refunds",
      args: { reason: "damaged" },
    });
    expect(returns.message).toMatch(/within 30 days/);
    expect(returns.details).toEqual({ source: "Returns policy" });
    const search = await runAction(runtime(), tenant, {
      ...base,
      name: "search_knowledge_base",
      args: { query: "refund damaged item" },
    });
    expect(search.message).toMatch(/^\[1\] Returns policy: /);
    const tracking = await runAction(runtime(), tenant, {
      ...base,
      name: "order_tracking",
      args: { order_number: "A-1" },
    });
    expect(tracking.message).toMatch(/not connected/);
  });
});

describe("the confirmation", () => {
  const key = offerKey("secret");
  const offerFor = (name: "handoff_to_human" | "order_tracking") =>
    issueOffer(key, { tenantId: tenant.id, conversationId, name, source: "match" });

  it("parses form values: numbers from text, empty fields dropped, a message per bad field", () => {
    expect(parseActionArgs("add_to_cart", { product: "Beans", quantity: "2" })).toEqual({
      product: "Beans",
      quantity: 2,
    });
    expect(parseActionArgs("handoff_to_human", { reason: "Help", urgency: "" })).toEqual({
      reason: "Help",
      urgency: "normal",
    });
    let error: ApiError | undefined;
    try {
      parseActionArgs("add_to_cart", { product: "", quantity: "lots", colour: "red" });
    } catch (caught) {
      error = caught as ApiError;
    }
    expect(error?.code).toBe("invalid_request");
    expect(Object.keys(error?.fields ?? {}).sort()).toEqual(["colour", "product", "quantity"]);
  });

  it("needs consent for contact details, runs once, audits each attempt with masked arguments", async () => {
    const offer = offerFor("handoff_to_human");
    const args = { reason: "Call me about jane@example.com" };
    const contact = { name: "Jane", email: "jane@example.com" };
    // Not switched on (any more): the offer is void.
    expect(
      await codeOf(confirmAction(runtime(), tenant, { offer, args, contact, consent: true })),
    ).toMatchObject({ code: "offer_expired" });
    pool.get(tenant.id).prepare("DELETE FROM audit_log").run();
    saveActionSettings(pool.get(tenant.id), { actions: { handoff_to_human: { enabled: true } } });
    expect(
      await codeOf(confirmAction(runtime(), tenant, { offer, args, contact, consent: false })),
    ).toMatchObject({ code: "consent_required" });
    const done = await confirmAction(runtime(), tenant, { offer, args, contact, consent: true });
    expect(done.reference).toMatch(/^[A-Z2-9]{6}$/);
    expect(
      await codeOf(confirmAction(runtime(), tenant, { offer, args, contact, consent: true })),
    ).toMatchObject({ code: "offer_expired" });
    const entries = listAudit(pool.get(tenant.id), { limit: 10 });
    expect(entries.map((entry) => entry.outcome)).toEqual([
      "offer_expired",
      "ok",
      "consent_required",
    ]);
    expect(entries[1]).toMatchObject({
      kind: "ask",
      action: "action:handoff_to_human",
      actor: conversationId,
    });
    expect(JSON.stringify(entries)).not.toContain("jane@example.com");
    expect(entries[1]?.detail).toEqual({
      arguments: {
        reason: `[text: ${args.reason.length} chars]`,
        urgency: "normal",
        contact: ["name", "email"],
        source: "match",
      },
    });
  });

  it("a failed webhook run is a 502 and leaves the offer usable", async () => {
    const db = pool.get(tenant.id);
    const secret = rotateWebhookSecret(db);
    let calls = 0;
    const server = http.createServer((req, res) => {
      calls++;
      req.resume();
      res.writeHead(calls <= 3 ? 500 : 200, { "content-type": "application/json" });
      res.end(calls <= 3 ? "" : '{"reference":"R-7"}');
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
      saveActionSettings(
        db,
        { actions: { order_tracking: { enabled: true, webhookUrl: url } } },
        { allowHttp: true },
      );
      const offer = offerFor("order_tracking");
      const confirmation = {
        offer,
        args: { order_number: "A-100" },
        contact: undefined,
        consent: false,
      };
      const failed = await codeOf(confirmAction(runtime(), tenant, confirmation));
      expect(failed).toMatchObject({ code: "action_failed" });
      expect(calls).toBe(3);
      const done = await confirmAction(runtime(), tenant, confirmation);
      expect(done).toEqual({ message: "Done. Reference R-7.", reference: "R-7" });
      expect(secret).toMatch(/^whsec_/);
      // Without INGEST_ALLOW_PRIVATE_URLS a loopback webhook is refused without a call.
      const before = calls;
      const refused = await codeOf(
        confirmAction(runtime(false), tenant, {
          ...confirmation,
          offer: offerFor("order_tracking"),
        }),
      );
      expect(refused).toMatchObject({ code: "action_failed" });
      expect(calls).toBe(before);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
