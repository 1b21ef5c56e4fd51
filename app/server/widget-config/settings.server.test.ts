import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { newTenantId } from "#tenants/id.ts";
import {
  type ControlDb,
  insertTenant,
  openControlDb,
  setWidgetSettingsJson,
  type TenantRecord,
} from "../control-db.server.ts";
import {
  DEFAULT_WIDGET_SETTINGS,
  getWidgetSettings,
  parseStoredWidgetSettings,
  updateWidgetSettings,
} from "./settings.server.ts";

let dir: string;
let control: ControlDb;
let tenant: TenantRecord;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-widget-settings-"));
  control = openControlDb(dir);
  tenant = insertTenant(control, { id: newTenantId(), name: "Acme" });
});
afterEach(() => {
  control.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("widget settings", () => {
  it("are the defaults for a new tenant", () => {
    expect(getWidgetSettings({ control }, tenant)).toEqual(DEFAULT_WIDGET_SETTINGS);
  });

  it("merge an update into what is stored and read it back", () => {
    updateWidgetSettings({ control }, tenant, { title: "  Ask Acme ", voiceGreeting: true });
    const next = updateWidgetSettings({ control }, tenant, {
      position: "top-left",
      starterQuestions: ["How do I deploy?"],
      language: "fr",
    });
    expect(next).toEqual({
      ...DEFAULT_WIDGET_SETTINGS,
      title: "Ask Acme",
      voiceGreeting: true,
      position: "top-left",
      starterQuestions: ["How do I deploy?"],
      language: "fr",
    });
    expect(getWidgetSettings({ control }, tenant)).toEqual(next);
  });

  it("refuse unknown fields, unsafe colours and too many starter questions", () => {
    const bad = [
      { colour: "red" },
      { color: "red;}body{display:none" },
      { starterQuestions: Array.from({ length: 7 }, (_, i) => `Q${i}`) },
      { position: "middle" },
      { title: "x".repeat(61) },
      { language: "it" },
    ];
    for (const update of bad) {
      expect(() => updateWidgetSettings({ control }, tenant, update)).toThrow(z.ZodError);
    }
    expect(getWidgetSettings({ control }, tenant)).toEqual(DEFAULT_WIDGET_SETTINGS);
  });

  it("fall back to the defaults when the stored JSON is broken", () => {
    setWidgetSettingsJson(control, tenant.id, "{not json");
    expect(getWidgetSettings({ control }, tenant)).toEqual(DEFAULT_WIDGET_SETTINGS);
    expect(parseStoredWidgetSettings(undefined)).toEqual(DEFAULT_WIDGET_SETTINGS);
    expect(parseStoredWidgetSettings("[1,2]")).toEqual(DEFAULT_WIDGET_SETTINGS);
    expect(parseStoredWidgetSettings("null")).toEqual(DEFAULT_WIDGET_SETTINGS);
  });

  it("keep the good fields of partly bad stored settings", () => {
    setWidgetSettingsJson(
      control,
      tenant.id,
      JSON.stringify({ title: "Help", color: "url(x)", position: 3, extra: true }),
    );
    expect(getWidgetSettings({ control }, tenant)).toEqual({
      ...DEFAULT_WIDGET_SETTINGS,
      title: "Help",
    });
  });
});
