// A tenant's action settings (issue 11, item 1; docs/decisions/027): which actions are on,
// each one's back-end (built-in or the tenant's webhook), the booking calendar (opening hours
// per weekday, slot length, time zone) and the webhook signing secret. Stored in the tenant's
// database (tables action_settings and action_config, tenant migration 9); validated on the
// way in, read back leniently (a stored value that no longer parses takes its default).
// The secret is returned once by rotateWebhookSecret and never read out by getActionSettings.
import { randomBytes } from "node:crypto";
import { z } from "zod";
import {
  actionConfigRow,
  actionSettingRows,
  anyActionEnabledExcept,
  writeActionSettings,
  writeWebhookSecret,
} from "#tenants/actions.ts";
import type { TenantDb } from "#tenants/store.ts";
import { ACTION_NAMES, ALWAYS_ON, type ActionName } from "./registry.server.ts";

export const ACTION_BACKENDS = ["builtin", "webhook"] as const;
export type ActionBackend = (typeof ACTION_BACKENDS)[number];

/** Actions whose built-in back-end can only say that the business has not connected them. */
export const WEBHOOK_ONLY: readonly ActionName[] = [
  "order_tracking",
  "add_to_cart",
  "subscription_and_replenishment",
];

export const WEEKDAYS = ["0", "1", "2", "3", "4", "5", "6"] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface DayHours {
  open: string;
  close: string;
}

export interface ActionSetting {
  enabled: boolean;
  backend: ActionBackend;
  webhookUrl: string | null;
}

export interface ActionSettings {
  actions: Record<ActionName, ActionSetting>;
  webhookSecretSet: boolean;
  /** Opening hours per weekday, 0 = Sunday … 6 = Saturday; null = closed. */
  hours: Record<Weekday, DayHours | null>;
  slotMinutes: number;
  /** An IANA time zone, e.g. "Europe/Paris": the hours and slots are local to it. */
  timezone: string;
}

export const DEFAULT_HOURS: Readonly<Record<Weekday, DayHours | null>> = Object.freeze({
  "0": null,
  "1": { open: "09:00", close: "17:00" },
  "2": { open: "09:00", close: "17:00" },
  "3": { open: "09:00", close: "17:00" },
  "4": { open: "09:00", close: "17:00" },
  "5": { open: "09:00", close: "17:00" },
  "6": null,
});
export const DEFAULT_SLOT_MINUTES = 30;
export const DEFAULT_TIMEZONE = "UTC";

function defaultSetting(name: ActionName): ActionSetting {
  return {
    enabled: ALWAYS_ON.includes(name),
    backend: WEBHOOK_ONLY.includes(name) ? "webhook" : "builtin",
    webhookUrl: null,
  };
}

const HHMM = /^([01]\d|2[0-3]):[0-5]\d$/;
export const minutesOf = (hhmm: string): number =>
  Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

const dayHoursSchema = z
  .strictObject({
    open: z.string().regex(HHMM, "Use a time like 09:00."),
    close: z.string().regex(HHMM, "Use a time like 17:30."),
  })
  .refine((day) => minutesOf(day.close) > minutesOf(day.open), {
    message: "Closing time must be after opening time.",
    path: ["close"],
  });

const webhookUrlSchema = z
  .string()
  .trim()
  .max(2000, "The webhook URL is too long.")
  .refine((value) => URL.canParse(value), "Enter a full URL, like https://example.com/bitb.");

const actionSettingInput = z.strictObject({
  enabled: z.boolean().optional(),
  backend: z.enum(ACTION_BACKENDS).optional(),
  webhookUrl: webhookUrlSchema.nullable().optional(),
});

const hoursInput = z.strictObject(
  Object.fromEntries(WEEKDAYS.map((day) => [day, dayHoursSchema.nullable().optional()])) as Record<
    Weekday,
    z.ZodOptional<z.ZodNullable<typeof dayHoursSchema>>
  >,
);

/** What an admin may change: any subset, merged into the stored settings. */
export const actionSettingsInputSchema = z.strictObject({
  actions: z
    .strictObject(
      Object.fromEntries(
        ACTION_NAMES.map((name) => [name, actionSettingInput.optional()]),
      ) as Record<ActionName, z.ZodOptional<typeof actionSettingInput>>,
    )
    .optional(),
  hours: hoursInput.optional(),
  slotMinutes: z
    .number()
    .int("Slots are whole minutes.")
    .min(5, "Slots are at least 5 minutes.")
    .max(480, "Slots are at most 8 hours.")
    .optional(),
  timezone: z
    .string()
    .trim()
    .max(64)
    .refine(isTimeZone, "Use a time zone name like Europe/Paris.")
    .optional(),
});
export type ActionSettingsInput = z.input<typeof actionSettingsInputSchema>;

export interface SaveOptions {
  /** Accept http:// webhook URLs (tests on loopback; INGEST_ALLOW_PRIVATE_URLS). */
  allowHttp?: boolean;
}

function readHours(json: string): Record<Weekday, DayHours | null> {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return { ...DEFAULT_HOURS };
  }
  const stored = (value ?? {}) as Record<string, unknown>;
  const hours = { ...DEFAULT_HOURS };
  for (const day of WEEKDAYS) {
    const parsed = dayHoursSchema.nullable().safeParse(stored[day]);
    if (parsed.success) hours[day] = parsed.data;
  }
  return hours;
}

export function getActionSettings(db: TenantDb): ActionSettings {
  const actions = Object.fromEntries(
    ACTION_NAMES.map((name) => [name, defaultSetting(name)]),
  ) as Record<ActionName, ActionSetting>;
  for (const row of actionSettingRows(db)) {
    if (!(ACTION_NAMES as string[]).includes(row.name)) continue;
    const name = row.name as ActionName;
    actions[name] = {
      enabled: ALWAYS_ON.includes(name) || row.enabled === 1,
      backend: row.backend === "webhook" ? "webhook" : "builtin",
      webhookUrl: row.webhook_url,
    };
  }
  const config = actionConfigRow(db);
  const slotMinutes = config?.slot_minutes ?? DEFAULT_SLOT_MINUTES;
  const timezone = config?.timezone ?? DEFAULT_TIMEZONE;
  return {
    actions,
    webhookSecretSet: Boolean(config?.webhook_secret),
    hours: config ? readHours(config.hours) : { ...DEFAULT_HOURS },
    slotMinutes: slotMinutes >= 5 && slotMinutes <= 480 ? slotMinutes : DEFAULT_SLOT_MINUTES,
    timezone: isTimeZone(timezone) ? timezone : DEFAULT_TIMEZONE,
  };
}

/**
 * Whether any action beyond the always-on search is switched on: one indexed read, for the
 * ask path, which reads the whole settings only when this is true.
 */
export function hasOfferableActions(db: TenantDb): boolean {
  return anyActionEnabledExcept(db, ALWAYS_ON);
}

/** The actions a tenant has switched on (always including search_knowledge_base). */
export function enabledActions(settings: ActionSettings): ActionName[] {
  return ACTION_NAMES.filter((name) => settings.actions[name].enabled);
}

/** Thrown for settings that parse but cannot work together; `fields` names the culprits. */
export class ActionSettingsError extends Error {
  override name = "ActionSettingsError";
  constructor(
    message: string,
    readonly fields: Record<string, string>,
  ) {
    super(message);
  }
}

function checkCombination(
  settings: ActionSettings,
  secretSet: boolean,
  options: SaveOptions,
): void {
  const fields: Record<string, string> = {};
  for (const name of ACTION_NAMES) {
    const action = settings.actions[name];
    const key = `actions.${name}`;
    if (ALWAYS_ON.includes(name) && !action.enabled) {
      fields[`${key}.enabled`] = "Searching the knowledge base is always on.";
    }
    if (action.webhookUrl !== null) {
      const url = new URL(action.webhookUrl);
      const allowed = options.allowHttp ? ["https:", "http:"] : ["https:"];
      if (!allowed.includes(url.protocol)) {
        fields[`${key}.webhookUrl`] = "The webhook URL must start with https://.";
      }
    }
    if (!action.enabled) continue;
    if (action.backend === "webhook") {
      if (action.webhookUrl === null) {
        fields[`${key}.webhookUrl`] = "Give the webhook URL of your system for this action.";
      } else if (!secretSet) {
        fields[`${key}.backend`] =
          "Create a webhook secret first, so your system can check that calls come from BiTB.";
      }
    } else if (WEBHOOK_ONLY.includes(name)) {
      fields[`${key}.backend`] =
        "This action needs your own system: choose the webhook back-end and give its URL.";
    }
  }
  const names = Object.keys(fields);
  if (names.length > 0) {
    throw new ActionSettingsError(
      names.map((field) => `${field}: ${fields[field]}`).join("; "),
      fields,
    );
  }
}

/**
 * Validates `input` (a ZodError on bad shapes, an ActionSettingsError on settings that cannot
 * work, such as order tracking on the built-in back-end), merges it and stores the result.
 */
export function saveActionSettings(
  db: TenantDb,
  input: unknown,
  options: SaveOptions = {},
): ActionSettings {
  const update = actionSettingsInputSchema.parse(input);
  const current = getActionSettings(db);
  const next: ActionSettings = {
    ...current,
    actions: { ...current.actions },
    hours: { ...current.hours },
  };
  for (const name of ACTION_NAMES) {
    const change = update.actions?.[name];
    if (!change) continue;
    const merged = { ...current.actions[name] };
    if (change.enabled !== undefined) merged.enabled = change.enabled;
    if (change.backend !== undefined) merged.backend = change.backend;
    if (change.webhookUrl !== undefined) {
      merged.webhookUrl = change.webhookUrl === "" ? null : change.webhookUrl;
    }
    next.actions[name] = merged;
  }
  for (const day of WEEKDAYS) {
    const change = update.hours?.[day];
    if (change !== undefined) next.hours[day] = change;
  }
  if (update.slotMinutes !== undefined) next.slotMinutes = update.slotMinutes;
  if (update.timezone !== undefined) next.timezone = update.timezone;
  checkCombination(next, current.webhookSecretSet, options);

  writeActionSettings(
    db,
    ACTION_NAMES.map((name) => ({ name, ...next.actions[name] })),
    { hours: JSON.stringify(next.hours), slotMinutes: next.slotMinutes, timezone: next.timezone },
  );
  return next;
}

/** A new webhook signing secret, replacing the old one. Returned here only: shown once. */
export function rotateWebhookSecret(db: TenantDb): string {
  const secret = `whsec_${randomBytes(32).toString("base64url")}`;
  writeWebhookSecret(db, secret, {
    hours: JSON.stringify(DEFAULT_HOURS),
    slotMinutes: DEFAULT_SLOT_MINUTES,
    timezone: DEFAULT_TIMEZONE,
  });
  return secret;
}

/** The secret webhook calls are signed with; null until one is created. Never log it. */
export function webhookSecret(db: TenantDb): string | null {
  return actionConfigRow(db)?.webhook_secret ?? null;
}
