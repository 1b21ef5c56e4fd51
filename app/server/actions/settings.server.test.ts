import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ZodError } from "zod";
import { newTenantId } from "#tenants/id.ts";
import { openTenantDb, type TenantDb } from "#tenants/store.ts";
import {
  ActionSettingsError,
  DEFAULT_HOURS,
  enabledActions,
  getActionSettings,
  rotateWebhookSecret,
  saveActionSettings,
  webhookSecret,
} from "./settings.server.ts";

let dir: string;
let db: TenantDb;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-action-settings-"));
  db = openTenantDb(dir, newTenantId(), { model: "t", dimension: 4 }, { create: true });
});
afterEach(() => {
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("action settings", () => {
  it("defaults: only search on, webhook-only actions on the webhook back-end, weekday hours", () => {
    const settings = getActionSettings(db);
    expect(enabledActions(settings)).toEqual(["search_knowledge_base"]);
    expect(settings.actions.order_tracking.backend).toBe("webhook");
    expect(settings.actions.book_appointment).toEqual({
      enabled: false,
      backend: "builtin",
      webhookUrl: null,
    });
    expect(settings.hours).toEqual(DEFAULT_HOURS);
    expect(settings.slotMinutes).toBe(30);
    expect(settings.timezone).toBe("UTC");
    expect(settings.webhookSecretSet).toBe(false);
  });

  it("merges and stores a partial update", () => {
    saveActionSettings(db, {
      actions: { book_appointment: { enabled: true }, handoff_to_human: { enabled: true } },
      hours: { "6": { open: "10:00", close: "14:00" }, "1": null },
      slotMinutes: 45,
      timezone: "Europe/Paris",
    });
    const saved = saveActionSettings(db, { actions: { handoff_to_human: { enabled: false } } });
    expect(saved).toEqual(getActionSettings(db));
    expect(enabledActions(saved)).toEqual(["search_knowledge_base", "book_appointment"]);
    expect(saved.hours["6"]).toEqual({ open: "10:00", close: "14:00" });
    expect(saved.hours["1"]).toBeNull();
    expect(saved.hours["2"]).toEqual({ open: "09:00", close: "17:00" });
    expect(saved.slotMinutes).toBe(45);
    expect(saved.timezone).toBe("Europe/Paris");
  });

  it("refuses bad shapes with zod and unknown keys", () => {
    expect(() => saveActionSettings(db, { timezone: "Mars/Olympus" })).toThrow(ZodError);
    expect(() => saveActionSettings(db, { slotMinutes: 2 })).toThrow(ZodError);
    expect(() =>
      saveActionSettings(db, { hours: { "1": { open: "17:00", close: "09:00" } } }),
    ).toThrow(ZodError);
    expect(() => saveActionSettings(db, { actions: { fly: { enabled: true } } })).toThrow(ZodError);
    expect(() => saveActionSettings(db, { extra: 1 })).toThrow(ZodError);
  });

  it("refuses webhook-only actions on the built-in back-end, with a clear message", () => {
    let error: unknown;
    try {
      saveActionSettings(db, {
        actions: { order_tracking: { enabled: true, backend: "builtin" } },
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ActionSettingsError);
    expect((error as ActionSettingsError).fields).toEqual({
      "actions.order_tracking.backend":
        "This action needs your own system: choose the webhook back-end and give its URL.",
    });
    expect(enabledActions(getActionSettings(db))).toEqual(["search_knowledge_base"]);
  });

  it("a webhook needs a URL, https, and a secret; search cannot be switched off", () => {
    const fieldsOf = (input: unknown, options = {}) => {
      try {
        saveActionSettings(db, input, options);
        return null;
      } catch (error) {
        return (error as ActionSettingsError).fields;
      }
    };
    expect(fieldsOf({ actions: { add_to_cart: { enabled: true } } })).toHaveProperty(
      "actions.add_to_cart.webhookUrl",
    );
    expect(
      fieldsOf({
        actions: { add_to_cart: { enabled: true, webhookUrl: "https://shop.example/h" } },
      }),
    ).toHaveProperty("actions.add_to_cart.backend");
    rotateWebhookSecret(db);
    expect(
      fieldsOf({
        actions: { add_to_cart: { enabled: true, webhookUrl: "http://shop.example/h" } },
      }),
    ).toEqual({ "actions.add_to_cart.webhookUrl": "The webhook URL must start with https://." });
    expect(
      fieldsOf(
        { actions: { add_to_cart: { enabled: true, webhookUrl: "http://127.0.0.1:9/h" } } },
        { allowHttp: true },
      ),
    ).toBeNull();
    expect(getActionSettings(db).actions.add_to_cart).toEqual({
      enabled: true,
      backend: "webhook",
      webhookUrl: "http://127.0.0.1:9/h",
    });
    expect(fieldsOf({ actions: { search_knowledge_base: { enabled: false } } })).toHaveProperty(
      "actions.search_knowledge_base.enabled",
    );
  });

  it("rotates the secret: a new one each time, stored, only flagged in the settings", () => {
    const first = rotateWebhookSecret(db);
    const second = rotateWebhookSecret(db);
    expect(first).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    expect(second).not.toBe(first);
    expect(webhookSecret(db)).toBe(second);
    const settings = getActionSettings(db);
    expect(settings.webhookSecretSet).toBe(true);
    expect(JSON.stringify(settings)).not.toContain(second);
  });

  it("reads damaged stored values back as defaults", () => {
    db.prepare(
      "INSERT INTO action_config (id, hours, slot_minutes, timezone) VALUES (1, 'nope', 1, 'X/Y')",
    ).run();
    db.prepare("INSERT INTO action_settings VALUES ('gone_action', 1, 'builtin', NULL)").run();
    const settings = getActionSettings(db);
    expect(settings.hours).toEqual(DEFAULT_HOURS);
    expect(settings.slotMinutes).toBe(30);
    expect(settings.timezone).toBe("UTC");
  });
});
