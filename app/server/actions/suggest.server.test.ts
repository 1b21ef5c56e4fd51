import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DEMO_TENANT_ID, type TenantId } from "#tenants/id.ts";
import { replaceDocument, type IndexedChunk } from "#tenants/knowledge-base.ts";
import { openTenantDb, type TenantDb } from "#tenants/store.ts";
import { FakeEmbedder } from "../../../tests/support/fake-embedder.ts";
import type { RetrievedChunk } from "../retrieval/types.server.ts";
import { getActionSettings, rotateWebhookSecret, saveActionSettings } from "./settings.server.ts";
import {
  MIN_EVIDENCE,
  SUGGESTION_RULES,
  decideSuggestion,
  evidenceOf,
  judgeRule,
  listSuggestions,
  storeSuggestions,
  suggestActions,
  tenantIndustry,
  type SuggestionRule,
} from "./suggest.server.ts";

const embedder = new FakeEmbedder({ dimension: 16 });
let dir: string;
let db: TenantDb;
const tenant = { id: DEMO_TENANT_ID as TenantId };
const runtime = () => ({ tenants: { get: () => db }, embedder }) as never;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-suggest-"));
  db = openTenantDb(
    dir,
    tenant.id,
    { model: embedder.model, dimension: embedder.dimension },
    { create: true },
  );
});
afterEach(() => {
  if (db.open) db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function rule(action: string): SuggestionRule {
  const found = SUGGESTION_RULES.find((r) => r.action === action);
  if (!found) throw new Error(action);
  return found;
}

let nextChunk = 1;
function chunk(title: string, text: string, documentId = 1): RetrievedChunk {
  return {
    chunkId: nextChunk++,
    documentId,
    title,
    url: null,
    fileName: null,
    headingPath: title,
    text,
    score: 1,
    keywordRank: 1,
    vectorRank: 1,
    similarity: 0.5,
  };
}

function addDocument(title: string, texts: string[]): void {
  const chunks: IndexedChunk[] = texts.map((text, ord) => ({
    ord,
    headingPath: title,
    text,
    tokenCount: text.split(" ").length,
    embedding: embedder.vector(`${title}\n\n${text}`),
  }));
  replaceDocument(db, {
    sourceKey: `text:${title}`,
    sourceType: "text",
    title,
    contentHash: `h:${title}`,
    bytes: 1,
    chunks,
  });
}

describe("the rules", () => {
  it("takes a passage as evidence only when its words match, with a snippet around them", () => {
    const hours = chunk(
      "Visit us",
      `${"Lorem ipsum dolor sit amet. ".repeat(20)}Our opening hours are 9 to 5 on weekdays.`,
    );
    const evidence = evidenceOf(rule("book_appointment"), hours);
    expect(evidence).toMatchObject({ title: "Visit us", matched: "opening hours" });
    expect(evidence?.snippet).toMatch(/^….*opening hours are 9 to 5/);
    expect(evidence!.snippet.length).toBeLessThanOrEqual(202);
    expect(evidenceOf(rule("book_appointment"), chunk("Menu", "Soup of the day."))).toBeNull();
    // A title can be the evidence.
    expect(
      evidenceOf(rule("returns_and_refunds"), chunk("Refunds", "Within 30 days.")),
    ).toMatchObject({ matched: "refunds" });
  });

  it.each([
    ["book_appointment", "Book an appointment online; appointments last 30 minutes."],
    ["order_tracking", "Use the tracking number in your e-mail to track your order."],
    ["returns_and_refunds", "Our returns policy gives you 30 days for a refund."],
    ["qualify_lead", "See our pricing or request a demo for your team."],
    ["handoff_to_human", "Contact us: our customer support team answers within a day."],
    ["subscription_and_replenishment", "Subscribe and save: coffee delivered every month."],
  ])("%s matches a typical passage", (action, text) => {
    expect(evidenceOf(rule(action), chunk("Page", text))).not.toBeNull();
  });

  it(`needs ${MIN_EVIDENCE} passages, or one when the industry makes the action typical`, () => {
    const one = [chunk("Hours", "Our opening hours are 9 to 5.")];
    const unrelated = [chunk("Menu", "Soup of the day."), chunk("Menu", "Bread and butter.")];
    const alone = judgeRule(rule("book_appointment"), [...one, ...unrelated], null);
    expect(alone).toMatchObject({ proposed: false, supporting: 1, needed: 2 });
    expect(alone.reason).toBe(
      "1 passage in 1 document mention opening hours, appointments or bookable services; 2 needed.",
    );
    const clinic = judgeRule(rule("book_appointment"), one, "clinic");
    expect(clinic).toMatchObject({ proposed: true, needed: 1, industryMatched: true });
    expect(clinic.reason).toMatch(/typical for a business in “clinic”\.$/);
    const two = judgeRule(
      rule("book_appointment"),
      [...one, chunk("Booking", "Book an appointment by phone.", 2), one[0]!],
      "retail",
    );
    expect(two).toMatchObject({ proposed: true, supporting: 2, industryMatched: false });
    expect(two.reason).toBe(
      "2 passages in 2 documents mention opening hours, appointments or bookable services.",
    );
  });

  it("proposes add_to_cart only when some evidence shows a cart", () => {
    const products = [
      chunk("Shop", "Our products are made by hand."),
      chunk("Shop", "New products every week."),
    ];
    const without = judgeRule(rule("add_to_cart"), products, null);
    expect(without.proposed).toBe(false);
    expect(without.reason).toMatch(/none shows a cart or checkout\.$/);
    const withCart = judgeRule(
      rule("add_to_cart"),
      [...products, chunk("Shop", "Add to cart, then go to checkout.")],
      null,
    );
    expect(withCart.proposed).toBe(true);
  });
});

describe("suggestActions", () => {
  it("finds evidence through retrieval and stores the proposals", async () => {
    addDocument("Opening hours", [
      "Our opening hours are Monday to Friday 9:00 to 18:00.",
      "Book an appointment online; appointments last thirty minutes.",
    ]);
    addDocument("Returns", ["Our returns policy: send the item back within 30 days for a refund."]);
    addDocument("About", ["We are a family business founded in 1990."]);
    const outcomes = await suggestActions(runtime(), tenant, 7, { now: () => 1000 });
    expect(outcomes.map((o) => o.rule.action)).toEqual(SUGGESTION_RULES.map((r) => r.action));
    const suggestions = listSuggestions(db);
    expect(suggestions.map((s) => s.action)).toEqual(["book_appointment"]);
    expect(suggestions[0]).toMatchObject({
      status: "proposed",
      title: "Book an appointment",
      createdAt: 1000,
    });
    expect(suggestions[0]?.evidence.map((e) => e.matched).sort()).toEqual([
      "book an",
      "opening hours",
    ]);

    // The industry lowers the bar: one returns passage is enough for a shop.
    db.prepare("INSERT INTO meta (key, value) VALUES ('industry', ' Retail ')").run();
    expect(tenantIndustry(db)).toBe("retail");
    await suggestActions(runtime(), tenant, 8);
    expect(listSuggestions(db).map((s) => s.action)).toEqual([
      "book_appointment",
      "returns_and_refunds",
    ]);
  });

  it("embeds the rules' fixed questions once per embedder, in one batch", async () => {
    const counting = new FakeEmbedder({ dimension: 16 });
    addDocument("Opening hours", ["Our opening hours are Monday to Friday 9:00 to 18:00."]);
    const run = () =>
      suggestActions({ tenants: { get: () => db }, embedder: counting } as never, tenant, 9);
    await run();
    const queries = new Set(SUGGESTION_RULES.flatMap((r) => r.queries)).size;
    expect(counting.calls).toBe(1);
    expect(counting.texts).toBe(queries);
    await run();
    expect(counting.calls).toBe(1);
  });
});

describe("storing and deciding", () => {
  const outcome = (action: string, proposed: boolean) =>
    judgeRule(
      rule(action),
      proposed
        ? [
            chunk(
              "A",
              "Our opening hours are 9 to 5. Returns policy: a refund within 30 days. Your tracking number comes by e-mail.",
            ),
            chunk("B", "Book an appointment. Refunds within a week. Track your order online."),
          ]
        : [],
      null,
    );

  it("keeps decisions, refreshes evidence and withdraws undecided proposals", () => {
    storeSuggestions(
      db,
      [outcome("book_appointment", true), outcome("returns_and_refunds", true)],
      1,
      10,
    );
    const [booking, returns] = listSuggestions(db);
    decideSuggestion(db, returns!.id, "reject", "admin@example.com", { now: 20 });
    storeSuggestions(
      db,
      [outcome("book_appointment", false), outcome("returns_and_refunds", false)],
      2,
      30,
    );
    // The undecided one is withdrawn; the rejected one stays rejected and is not proposed again.
    expect(listSuggestions(db).map((s) => [s.action, s.status])).toEqual([
      ["returns_and_refunds", "rejected"],
    ]);
    storeSuggestions(db, [outcome("returns_and_refunds", true)], 3, 40);
    expect(listSuggestions(db)[0]).toMatchObject({ status: "rejected", updatedAt: 40 });
    expect(booking?.status).toBe("proposed");
  });

  it("accepting switches a built-in action on", () => {
    storeSuggestions(db, [outcome("book_appointment", true)], 1, 10);
    const [booking] = listSuggestions(db);
    expect(getActionSettings(db).actions.book_appointment.enabled).toBe(false);
    const result = decideSuggestion(db, booking!.id, "accept", "admin@example.com", { now: 50 });
    expect(result.message).toMatch(/is on, with the built-in back-end/);
    expect(result.suggestion).toMatchObject({
      status: "accepted",
      outcome: "enabled",
      decidedBy: "admin@example.com",
      decidedAt: 50,
    });
    expect(getActionSettings(db).actions.book_appointment.enabled).toBe(true);
    expect(() => decideSuggestion(db, booking!.id, "reject", "x")).toThrow(
      expect.objectContaining({ code: "conflict" }),
    );
  });

  it("accepts an action that needs a webhook as 'needs a webhook' until one is set", () => {
    storeSuggestions(db, [outcome("order_tracking", true)], 1, 10);
    const [tracking] = listSuggestions(db);
    const result = decideSuggestion(db, tracking!.id, "accept", "admin@example.com");
    expect(result.message).toMatch(/^Needs a webhook: set it on the Actions tab/);
    expect(result.suggestion.outcome).toBe("needs_webhook");
    expect(getActionSettings(db).actions.order_tracking.enabled).toBe(false);
  });

  it("switches a webhook action on when its webhook is already set", () => {
    rotateWebhookSecret(db);
    saveActionSettings(db, {
      actions: { order_tracking: { backend: "webhook", webhookUrl: "https://shop.example/hook" } },
    });
    storeSuggestions(db, [outcome("order_tracking", true)], 1, 10);
    const [tracking] = listSuggestions(db);
    const result = decideSuggestion(db, tracking!.id, "accept", "admin@example.com");
    expect(result.message).toMatch(/calling your webhook/);
    expect(getActionSettings(db).actions.order_tracking.enabled).toBe(true);
  });

  it("refuses an unknown suggestion", () => {
    expect(() => decideSuggestion(db, 99, "accept", "x")).toThrow(
      expect.objectContaining({ code: "not_found" }),
    );
  });
});
