// Runs one action for a tenant, on the back-end it chose (docs/decisions/027): the built-in
// ones (a booking in a free slot, a lead or hand-off ticket stored for the admin app, return
// and refund answers from the knowledge base) or the tenant's webhook. Called by the confirm
// route after the visitor confirmed, and by the tool loop for actions that change nothing
// (knowledge-base search, order tracking, returns). Arguments arrive validated by the
// action's schema; what the visitor is told comes back as `message`.
import type { TenantRecord } from "../control-db.server.ts";
import { ApiError } from "../errors.server.ts";
import type { Runtime } from "../runtime/runtime.server.ts";
import { tenantDb } from "../tenancy/tenants.server.ts";
import {
  bookedSlots,
  createActionRecord,
  type ActionContact,
  SlotTakenError,
} from "./records.server.ts";
import { ACTIONS, type ActionName } from "./registry.server.ts";
import { type ActionSettings, webhookSecret } from "./settings.server.ts";
import { describeSlot, freeSlots, zonedInstant } from "./slots.server.ts";
import { createWebhookClient, type WebhookClient, WebhookError } from "./webhook.server.ts";

export type ActionRuntime = Pick<
  Runtime,
  "tenants" | "embedder" | "retrievalCache" | "config" | "logger"
>;

export interface ActionRun {
  name: ActionName;
  args: Record<string, unknown>;
  contact: Partial<ActionContact> | null;
  conversationId: string | null;
  offerId: string | null;
  settings: ActionSettings;
  now?: number;
}

export interface ActionOutcome {
  message: string;
  reference?: string;
  details?: Record<string, string>;
  /** The record a built-in back-end stored, if any. */
  recordId?: number;
}

const webhookClients = new Map<boolean, WebhookClient>();
/** The process's webhook client (its breakers live as long as the process). */
export function webhookClient(allowPrivateNetwork: boolean): WebhookClient {
  let client = webhookClients.get(allowPrivateNetwork);
  if (!client) {
    client = createWebhookClient({ allowPrivateNetwork });
    webhookClients.set(allowPrivateNetwork, client);
  }
  return client;
}

const stringDetails = (args: Record<string, unknown>): Record<string, string> =>
  Object.fromEntries(
    Object.entries(args)
      .filter(([, value]) => value !== undefined && value !== null && value !== "")
      .map(([key, value]) => [key, String(value)]),
  );

function fieldError(field: string, message: string): ApiError {
  return new ApiError("invalid_request", message, {}, { [field]: message });
}

export async function runAction(
  runtime: ActionRuntime,
  tenant: TenantRecord,
  run: ActionRun,
): Promise<ActionOutcome> {
  const setting = run.settings.actions[run.name];
  if (setting.backend === "webhook" && run.name !== "search_knowledge_base") {
    return runWebhook(runtime, tenant, run);
  }
  switch (run.name) {
    case "search_knowledge_base":
      return { message: await searchText(runtime, tenant, String(run.args.query ?? "")) };
    case "book_appointment":
      return book(runtime, tenant, run);
    case "qualify_lead":
    case "handoff_to_human":
      return storeTicket(runtime, tenant, run);
    case "returns_and_refunds":
      return returnsAnswer(runtime, tenant, run);
    case "order_tracking":
    case "add_to_cart":
    case "subscription_and_replenishment":
      return notConnected(run.name);
  }
}

/** What the visitor reads when the business has not connected its system for an action. */
function notConnected(name: ActionName): ActionOutcome {
  return {
    message:
      `${ACTIONS[name].title} is not connected on this site yet. ` +
      "Please contact the business directly.",
  };
}

function book(runtime: ActionRuntime, tenant: TenantRecord, run: ActionRun): ActionOutcome {
  const date = String(run.args.date ?? "");
  const time = typeof run.args.time === "string" ? run.args.time : "";
  if (time === "") throw fieldError("time", "Choose a time.");
  const db = tenantDb(runtime, tenant);
  const now = run.now ?? Date.now();
  const slot = freeSlots(db, run.settings, date, now).find((free) => free.time === time);
  if (!slot) {
    // Taken since the form was shown, or never a free slot (closed, past, not on the grid).
    const start = zonedInstant(date, time, run.settings.timezone);
    if (start !== null && bookedSlots(db, start, start + 1).size > 0)
      throw new ApiError("slot_taken", "That time has just been booked. Pick another.");
    throw fieldError("time", "That time is not one of the free slots. Pick another.");
  }
  const when = describeSlot(date, time);
  const details = { ...stringDetails(run.args), timezone: run.settings.timezone };
  try {
    const record = createActionRecord(db, {
      kind: "appointment",
      summary: `Appointment ${when}${run.args.service ? ` — ${String(run.args.service)}` : ""}`,
      details,
      contact: run.contact,
      conversationId: run.conversationId,
      slotStart: slot.start,
      now,
    });
    return {
      message: `Booked for ${when}. Reference ${record.reference}.`,
      reference: record.reference,
      details: { date, time, timezone: run.settings.timezone },
      recordId: record.id,
    };
  } catch (error) {
    if (error instanceof SlotTakenError) {
      throw new ApiError("slot_taken", "That time has just been booked. Pick another.");
    }
    throw error;
  }
}

function storeTicket(runtime: ActionRuntime, tenant: TenantRecord, run: ActionRun): ActionOutcome {
  const lead = run.name === "qualify_lead";
  const text = String((lead ? run.args.interest : run.args.reason) ?? "").trim();
  const record = createActionRecord(tenantDb(runtime, tenant), {
    kind: lead ? "lead" : "handoff",
    summary: text.length > 140 ? `${text.slice(0, 139)}…` : text,
    details: stringDetails(run.args),
    contact: run.contact,
    conversationId: run.conversationId,
    now: run.now,
  });
  const reach = run.contact && (run.contact.email || run.contact.phone) ? "" : " in this chat";
  return {
    message: lead
      ? `Thank you — the team will follow up with you${reach}. Reference ${record.reference}.`
      : `A person from the team will get back to you${reach} as soon as they can. Reference ${record.reference}.`,
    reference: record.reference,
    recordId: record.id,
  };
}

/** The best passages for `query`, numbered, as text for a model or a visitor. */
async function searchText(
  runtime: ActionRuntime,
  tenant: TenantRecord,
  query: string,
): Promise<string> {
  const chunks = await retrievePassages(runtime, tenant, query);
  if (chunks.length === 0) return "Nothing in the knowledge base matches that.";
  return chunks.map((chunk, i) => `[${i + 1}] ${chunk.title}: ${chunk.text}`).join("\n\n");
}

export async function retrievePassages(
  runtime: ActionRuntime,
  tenant: TenantRecord,
  query: string,
) {
  const { chunks } = await runtime.retrievalCache.retrieve(
    tenant.id,
    () => tenantDb(runtime, tenant),
    runtime.embedder,
    query,
    { topK: runtime.config.RETRIEVAL_TOP_K },
  );
  return chunks;
}

const REASONS: Record<string, string> = {
  damaged: "damaged item",
  wrong_item: "wrong item received",
  not_as_described: "item not as described",
  changed_mind: "changed my mind",
  late: "late delivery",
  other: "",
};

async function returnsAnswer(
  runtime: ActionRuntime,
  tenant: TenantRecord,
  run: ActionRun,
): Promise<ActionOutcome> {
  const reason = REASONS[String(run.args.reason)] ?? "";
  const question = typeof run.args.question === "string" ? run.args.question : "";
  const chunks = await retrievePassages(
    runtime,
    tenant,
    `return refund policy ${reason} ${question}`.trim(),
  );
  const best = chunks[0];
  if (!best) {
    return {
      message:
        "I could not find the return and refund policy in this site's information. " +
        "Please contact the business directly.",
    };
  }
  const text = best.text.length > 700 ? `${best.text.slice(0, 699)}…` : best.text;
  return { message: text, details: { source: best.title } };
}

async function runWebhook(
  runtime: ActionRuntime,
  tenant: TenantRecord,
  run: ActionRun,
): Promise<ActionOutcome> {
  const url = run.settings.actions[run.name].webhookUrl;
  const secret = webhookSecret(tenantDb(runtime, tenant));
  const failed = () =>
    new ApiError(
      "action_failed",
      `Sorry — "${ACTIONS[run.name].title}" could not be completed just now. ` +
        "Nothing was changed; please try again in a few minutes or contact the business directly.",
    );
  // Not configured (saveActionSettings refuses to switch such an action on): nothing to call.
  if (!url || !secret) return notConnected(run.name);
  try {
    const reply = await webhookClient(runtime.config.INGEST_ALLOW_PRIVATE_URLS).call({
      url,
      secret,
      key: `${tenant.id}:${run.name}`,
      payload: {
        action: run.name,
        tenantId: tenant.id,
        offerId: run.offerId,
        args: run.args,
        contact: run.contact,
        conversationId: run.conversationId,
        at: run.now ?? Date.now(),
      },
    });
    return {
      message:
        reply.message ??
        (reply.reference ? `Done. Reference ${reply.reference}.` : "Done — your request was sent."),
      ...(reply.reference ? { reference: reply.reference } : {}),
      ...(reply.details ? { details: reply.details } : {}),
    };
  } catch (error) {
    runtime.logger.warn(
      {
        tenantId: tenant.id,
        action: run.name,
        reason: error instanceof WebhookError ? error.reason : "error",
        err: error instanceof Error ? error.message : String(error),
      },
      "action webhook failed",
    );
    throw failed();
  }
}
