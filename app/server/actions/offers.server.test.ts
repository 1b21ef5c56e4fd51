import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { newTenantId } from "#tenants/id.ts";
import { openTenantDb, type TenantDb } from "#tenants/store.ts";
import {
  actionEvent,
  actionFields,
  claimOffer,
  completeOffer,
  issueOffer,
  OFFER_TTL_MS,
  offerKey,
  releaseOffer,
  verifyOffer,
} from "./offers.server.ts";
import { getActionSettings, saveActionSettings } from "./settings.server.ts";

let dir: string;
let db: TenantDb;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-offers-"));
  db = openTenantDb(dir, newTenantId(), { model: "t", dimension: 4 }, { create: true });
});
afterEach(() => {
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const key = offerKey("session secret");
const tenantId = newTenantId();
const conversationId = "cv_0123456789abcdef01234567";
const NOW = Date.UTC(2026, 11, 2, 8, 0);

describe("action offers", () => {
  it("verifies only for the same tenant and conversation, before expiry, unforged", () => {
    const offer = issueOffer(
      key,
      { tenantId, conversationId, name: "handoff_to_human", source: "match" },
      NOW,
    );
    expect(offer.expiresAt).toBe(NOW + OFFER_TTL_MS);
    expect(verifyOffer(key, offer.id, tenantId, conversationId, NOW + 1000)).toEqual(offer);
    expect(verifyOffer(key, offer.id, newTenantId(), conversationId, NOW)).toBeNull();
    expect(verifyOffer(key, offer.id, tenantId, "cv_ffffffffffffffffffffffff", NOW)).toBeNull();
    expect(verifyOffer(key, offer.id, tenantId, conversationId, offer.expiresAt)).toBeNull();
    expect(
      verifyOffer(offerKey("other secret"), offer.id, tenantId, conversationId, NOW),
    ).toBeNull();
    const [v, payload, sig] = offer.id.split(".");
    const tampered = Buffer.from(
      Buffer.from(payload!, "base64url").toString().replace("handoff_to_human", "add_to_cart"),
    ).toString("base64url");
    expect(verifyOffer(key, `${v}.${tampered}.${sig}`, tenantId, conversationId, NOW)).toBeNull();
    expect(verifyOffer(key, "garbage", tenantId, conversationId, NOW)).toBeNull();
  });

  it("is single use: claimed once, released on failure, kept when done", () => {
    const offer = issueOffer(key, {
      tenantId,
      conversationId,
      name: "qualify_lead",
      source: "tool",
    });
    expect(claimOffer(db, offer)).toBe(true);
    expect(claimOffer(db, offer)).toBe(false);
    releaseOffer(db, offer);
    expect(claimOffer(db, offer)).toBe(true);
    completeOffer(db, offer, 7);
    releaseOffer(db, offer);
    expect(claimOffer(db, offer)).toBe(false);
    // The table keeps a hash, not the bearer offer id.
    const row = db.prepare("SELECT id, state, record_id FROM action_offers").get() as {
      id: string;
      state: string;
      record_id: number;
    };
    expect(row.id).not.toBe(offer.id);
    expect(row).toMatchObject({ state: "done", record_id: 7 });
  });

  it("describes an action's form from its schema", () => {
    const fields = actionFields("qualify_lead", { interest: "a quote", timeline: "now" });
    expect(fields).toEqual([
      { name: "interest", label: "Interest", type: "textarea", required: true, value: "a quote" },
      {
        name: "timeline",
        label: "Timeline",
        type: "select",
        required: false,
        options: ["now", "this_month", "this_quarter", "later", "unknown"],
        value: "now",
      },
      { name: "budget", label: "Budget", type: "text", required: false },
      {
        name: "company_size",
        label: "Company size",
        type: "select",
        required: false,
        options: ["1", "2-10", "11-50", "51-250", "251+", "unknown"],
      },
    ]);
    expect(actionFields("order_tracking", {})[0]).toMatchObject({
      name: "order_number",
      type: "text",
      required: true,
    });
    expect(actionFields("add_to_cart", {})[1]).toMatchObject({
      name: "quantity",
      type: "number",
      required: false,
    });
  });

  it("offers a booking with the free slots of the chosen (or first free) day", () => {
    saveActionSettings(db, { actions: { book_appointment: { enabled: true } } });
    const settings = getActionSettings(db);
    const offer = issueOffer(
      key,
      { tenantId, conversationId, name: "book_appointment", source: "tool" },
      NOW,
    );
    const event = actionEvent(
      offer,
      { date: "2026-12-04", time: "10:00" },
      { db, settings, now: NOW },
    );
    expect(event).toMatchObject({
      offerId: offer.id,
      name: "book_appointment",
      title: "Book an appointment",
      description: "Books an appointment in one of the business's free slots.",
      contact: true,
      source: "tool",
      expiresAt: offer.expiresAt,
    });
    const date = event.fields.find((field) => field.name === "date");
    const time = event.fields.find((field) => field.name === "time");
    expect(date).toMatchObject({ type: "date", required: true, value: "2026-12-04" });
    expect(time).toMatchObject({ type: "select", required: true, value: "10:00" });
    expect(time?.options?.slice(0, 3)).toEqual(["09:00", "09:30", "10:00"]);
    // No day given: the first day with free slots (today, from 09:00 UTC).
    const first = actionEvent(offer, {}, { db, settings, now: NOW });
    expect(first.fields.find((field) => field.name === "date")?.value).toBe("2026-12-02");
    expect(first.fields.find((field) => field.name === "time")?.options?.[0]).toBe("09:00");
    // A time that is not free is not prefilled.
    const closed = actionEvent(
      offer,
      { date: "2026-12-04", time: "20:00" },
      { db, settings, now: NOW },
    );
    expect(closed.fields.find((field) => field.name === "time")?.value).toBeUndefined();
  });
});
