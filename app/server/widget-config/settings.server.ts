// A tenant's widget settings (title, greeting, colour, position, starter questions, voice
// greeting, language): validated on the way in, read back safely on the way out — stored
// settings that no longer parse (an older shape, a hand edit) fall back field by field to
// the defaults, so the public config endpoint never fails because of them. Touches only the
// control database's `widget_settings` column.
import { z } from "zod";
import {
  getWidgetSettingsJson,
  setWidgetSettingsJson,
  type TenantRecord,
} from "../control-db.server.ts";
import type { Runtime } from "../runtime/runtime.server.ts";

// Hex, rgb()/hsl() and named colours — the same rule the widget applies to data-color, so a
// stored colour can never end a CSS declaration.
const SAFE_COLOR =
  /^(#[0-9a-f]{3,4}|#[0-9a-f]{6}|#[0-9a-f]{8}|(rgb|hsl)a?\([\d\s.,%/a-z-]+\)|[a-z]{3,30})$/i;

export const WIDGET_POSITIONS = ["bottom-right", "bottom-left", "top-right", "top-left"] as const;
export const WIDGET_LANGUAGES = ["en", "fr", "de", "es"] as const;
export const MAX_STARTER_QUESTIONS = 6;

const fields = {
  title: z.string().trim().min(1).max(60),
  greeting: z.string().trim().min(1).max(500),
  color: z.string().trim().regex(SAFE_COLOR, "Use a hex, rgb(), hsl() or named colour."),
  position: z.enum(WIDGET_POSITIONS),
  starterQuestions: z.array(z.string().trim().min(1).max(200)).max(MAX_STARTER_QUESTIONS),
  voiceGreeting: z.boolean(),
  language: z.enum(WIDGET_LANGUAGES).nullable(),
};

/** The settings as GET /api/widget/:tenantId/config answers them (the OpenAPI document's). */
export const widgetSettingsSchema = z.object(fields);

export type WidgetSettings = z.infer<z.ZodObject<typeof fields>>;

export const DEFAULT_WIDGET_SETTINGS: Readonly<WidgetSettings> = Object.freeze({
  title: "Chat",
  greeting: "Hi! Ask me a question and I'll answer from our documentation.",
  color: "#2546d8",
  position: "bottom-right",
  starterQuestions: [],
  voiceGreeting: false,
  language: null,
});

/** What an admin may change: any subset of the fields, nothing else. */
export const widgetSettingsUpdateSchema = z.strictObject(fields).partial();
export type WidgetSettingsUpdate = z.infer<typeof widgetSettingsUpdateSchema>;

// Reading is lenient: each field that does not parse takes its default.
const storedSchema = z.object({
  title: fields.title.catch(DEFAULT_WIDGET_SETTINGS.title),
  greeting: fields.greeting.catch(DEFAULT_WIDGET_SETTINGS.greeting),
  color: fields.color.catch(DEFAULT_WIDGET_SETTINGS.color),
  position: fields.position.catch(DEFAULT_WIDGET_SETTINGS.position),
  starterQuestions: fields.starterQuestions.catch(() => []),
  voiceGreeting: fields.voiceGreeting.catch(DEFAULT_WIDGET_SETTINGS.voiceGreeting),
  language: fields.language.catch(DEFAULT_WIDGET_SETTINGS.language),
});

/** Parses stored settings JSON; anything unreadable becomes the defaults. */
export function parseStoredWidgetSettings(json: string | undefined): WidgetSettings {
  let value: unknown = {};
  try {
    value = json ? JSON.parse(json) : {};
  } catch {
    value = {};
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) value = {};
  const withDefaults = { ...DEFAULT_WIDGET_SETTINGS, ...(value as Record<string, unknown>) };
  return storedSchema.parse(withDefaults);
}

export function getWidgetSettings(
  runtime: Pick<Runtime, "control">,
  tenant: Pick<TenantRecord, "id">,
): WidgetSettings {
  return parseStoredWidgetSettings(getWidgetSettingsJson(runtime.control, tenant.id));
}

/** Validates `partial` (a ZodError on bad input), merges it and stores the result. */
export function updateWidgetSettings(
  runtime: Pick<Runtime, "control">,
  tenant: Pick<TenantRecord, "id">,
  partial: unknown,
): WidgetSettings {
  const update = widgetSettingsUpdateSchema.parse(partial);
  const next: WidgetSettings = { ...getWidgetSettings(runtime, tenant), ...update };
  setWidgetSettingsJson(runtime.control, tenant.id, JSON.stringify(next));
  return next;
}
