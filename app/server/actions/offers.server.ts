// Action offers (docs/decisions/027): what an answer hands the widget so the visitor can
// confirm an action. An offer id is a signed token (HMAC-SHA256 under a key derived from the
// visitor-session secret) naming the tenant, the visitor's conversation, the action and an
// expiry — asks are answered on LiteFS replicas too, which cannot write, so nothing is
// stored when an offer is made. The confirm (always on the primary) claims the offer in
// the tenant's `action_offers` table: a second claim of the same id finds its row and fails,
// which makes an offer single use. A failed run releases the claim so the visitor can retry.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { ActionEvent, ActionField } from "#app/shared/ask-events.ts";
import type { TenantId } from "#tenants/id.ts";
import {
  deleteOfferClaimsExpiredBefore,
  deleteRunningOfferClaim,
  insertOfferClaim,
  markOfferClaimDone,
} from "#tenants/actions.ts";
import type { TenantDb } from "#tenants/store.ts";
import { ACTIONS, actionJsonSchema, type ActionName, isActionName } from "./registry.server.ts";
import type { ActionSettings } from "./settings.server.ts";
import { firstDateWithFreeSlots, freeSlots, isCalendarDate } from "./slots.server.ts";

export const OFFER_TTL_MS = 30 * 60 * 1000;
const VERSION = "of1";
export const MAX_OFFER_ID_LENGTH = 400;

/** Actions whose form also asks for the visitor's name, e-mail and phone (with consent). */
export const CONTACT_ACTIONS: readonly ActionName[] = [
  "book_appointment",
  "qualify_lead",
  "handoff_to_human",
];

export interface Offer {
  id: string;
  tenantId: TenantId;
  conversationId: string;
  name: ActionName;
  source: "tool" | "match";
  expiresAt: number;
}

/** The offer key, derived from the visitor-session secret so no new secret is stored. */
export function offerKey(sessionSecret: string): Buffer {
  return createHmac("sha256", sessionSecret).update("bitb action offers v1").digest();
}

function sign(key: Buffer, payload: string): string {
  return createHmac("sha256", key).update(payload).digest("base64url");
}

export function issueOffer(
  key: Buffer,
  offer: Omit<Offer, "id" | "expiresAt">,
  now = Date.now(),
): Offer {
  const expiresAt = now + OFFER_TTL_MS;
  const nonce = randomBytes(9).toString("base64url");
  const payload = Buffer.from(
    JSON.stringify([
      offer.tenantId,
      offer.conversationId,
      offer.name,
      offer.source,
      expiresAt,
      nonce,
    ]),
  ).toString("base64url");
  return { ...offer, expiresAt, id: `${VERSION}.${payload}.${sign(key, `${VERSION}.${payload}`)}` };
}

/**
 * The offer an id proves, for this tenant and conversation only; null for a forged,
 * malformed, expired or someone else's offer (all answered 410 offer_expired).
 */
export function verifyOffer(
  key: Buffer,
  id: string,
  tenantId: TenantId,
  conversationId: string,
  now = Date.now(),
): Offer | null {
  if (id.length > MAX_OFFER_ID_LENGTH) return null;
  const [version, payload, signature] = id.split(".");
  if (version !== VERSION || !payload || !signature || id.split(".").length !== 3) return null;
  const expected = Buffer.from(sign(key, `${version}.${payload}`));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null;
  let fields: unknown;
  try {
    fields = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
  } catch {
    return null;
  }
  if (!Array.isArray(fields) || fields.length !== 6) return null;
  const [tenant, conversation, name, source, expiresAt] = fields as unknown[];
  if (tenant !== tenantId || conversation !== conversationId) return null;
  if (typeof name !== "string" || !isActionName(name)) return null;
  if (source !== "tool" && source !== "match") return null;
  if (typeof expiresAt !== "number" || expiresAt <= now) return null;
  return { id, tenantId, conversationId, name, source, expiresAt };
}

/** The offer's row id: a hash, so the table does not keep bearer tokens. */
function rowId(offer: Offer): string {
  return createHmac("sha256", "bitb offer row").update(offer.id).digest("base64url");
}

/** Claims an offer for one run; false when it was used (or is being run) already. */
export function claimOffer(db: TenantDb, offer: Offer, now = Date.now()): boolean {
  // Old rows are kept a day past their expiry, then swept by later claims.
  deleteOfferClaimsExpiredBefore(db, now - 24 * 60 * 60 * 1000);
  return insertOfferClaim(
    db,
    {
      id: rowId(offer),
      name: offer.name,
      conversationId: offer.conversationId,
      source: offer.source,
      expiresAt: offer.expiresAt,
    },
    now,
  );
}

/** The run succeeded: the offer stays used. */
export function completeOffer(db: TenantDb, offer: Offer, recordId: number | null): void {
  markOfferClaimDone(db, rowId(offer), recordId);
}

/** The run failed (a taken slot, a webhook down): the visitor may try the offer again. */
export function releaseOffer(db: TenantDb, offer: Offer): void {
  deleteRunningOfferClaim(db, rowId(offer));
}

// ---- the form the widget shows --------------------------------------------------------------

const LABELS: Record<string, string> = {
  date: "Day",
  time: "Time",
  party_size: "Number of people",
  order_number: "Order number",
  interval_days: "Every (days)",
  company_size: "Company size",
};

function labelOf(name: string): string {
  return LABELS[name] ?? `${name.charAt(0).toUpperCase()}${name.slice(1).replaceAll("_", " ")}`;
}

interface JsonSchemaProperty {
  type?: string;
  enum?: unknown[];
  format?: string;
  maxLength?: number;
}

/** An action's inputs as form fields (from its JSON Schema), prefilled with `args`. */
export function actionFields(name: ActionName, args: Record<string, unknown>): ActionField[] {
  const schema = actionJsonSchema(name) as {
    properties?: Record<string, JsonSchemaProperty>;
    required?: string[];
  };
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties ?? {}).map(([field, property]) => {
    let type: ActionField["type"] = "text";
    let options: string[] | undefined;
    if (Array.isArray(property.enum)) {
      type = "select";
      options = property.enum.map(String);
    } else if (property.type === "integer" || property.type === "number") type = "number";
    else if (property.format === "date") type = "date";
    else if (field === "time") type = "time";
    else if ((property.maxLength ?? 0) >= 500) type = "textarea";
    const value = args[field];
    return {
      name: field,
      label: labelOf(field),
      type,
      required: required.has(field),
      ...(options ? { options } : {}),
      ...(typeof value === "string" || typeof value === "number" ? { value } : {}),
    };
  });
}

export interface OfferContext {
  db: TenantDb;
  settings: ActionSettings;
  now?: number;
}

/**
 * The `action` event for an offer. A booking's form gets the day's free slots as the time
 * options (the first day with free slots when the model named none), and the time is
 * required: the visitor picks one.
 */
export function actionEvent(
  offer: Offer,
  args: Record<string, unknown>,
  context: OfferContext,
): ActionEvent {
  const definition = ACTIONS[offer.name];
  const prefill = { ...args };
  let fields: ActionField[];
  if (
    offer.name === "book_appointment" &&
    context.settings.actions.book_appointment.backend === "builtin"
  ) {
    const now = context.now ?? Date.now();
    const given =
      typeof prefill.date === "string" && isCalendarDate(prefill.date) ? prefill.date : null;
    const date = given ?? firstDateWithFreeSlots(context.db, context.settings, now);
    if (date) prefill.date = date;
    const slots = date ? freeSlots(context.db, context.settings, date, now).map((s) => s.time) : [];
    if (typeof prefill.time === "string" && !slots.includes(prefill.time)) delete prefill.time;
    fields = actionFields(offer.name, prefill).map((field) =>
      field.name === "time" ? { ...field, type: "select", required: true, options: slots } : field,
    );
  } else {
    fields = actionFields(offer.name, prefill);
  }
  return {
    offerId: offer.id,
    name: offer.name,
    title: definition.title,
    description: oneLine(definition.description),
    fields,
    contact: CONTACT_ACTIONS.includes(offer.name),
    source: offer.source,
    expiresAt: offer.expiresAt,
  };
}

/** The first sentence of a description, for the card. */
function oneLine(description: string): string {
  const end = description.indexOf(". ");
  return end === -1 ? description : description.slice(0, end + 1);
}
