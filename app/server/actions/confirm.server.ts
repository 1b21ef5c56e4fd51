// The visitor's confirmation of an offered action (POST /api/actions/confirm): the only way
// an action that changes something runs. Checks the offer (this tenant, this visitor's
// conversation, not expired, not used), the consent for contact details and the arguments
// (the action's own schema), claims the offer, runs the action and audits the run — who
// (the visitor's conversation), which action, the masked arguments, the outcome, latency.
import { z } from "zod";
import { formatZodError } from "../errors.server.ts";
import type { TenantRecord } from "../control-db.server.ts";
import { ApiError } from "../errors.server.ts";
import { auditToolCall, maskToolArguments } from "../audit/tool-audit.server.ts";
import { tenantDb } from "../tenancy/tenants.server.ts";
import { claimOffer, completeOffer, type Offer, releaseOffer } from "./offers.server.ts";
import { ACTIONS, type ActionName, actionJsonSchema } from "./registry.server.ts";
import { type ActionOutcome, type ActionRuntime, runAction } from "./run.server.ts";
import { getActionSettings } from "./settings.server.ts";

/** Free-text arguments: audited as their length only. */
export const FREE_TEXT_ARGS = ["query", "notes", "reason", "interest", "question", "budget"];

export const contactSchema = z.strictObject({
  name: z.string().trim().max(120, "The name is too long.").optional(),
  email: z.union([z.literal(""), z.email("Enter a valid e-mail address.").max(254)]).optional(),
  phone: z
    .string()
    .trim()
    .max(40, "The phone number is too long.")
    .regex(/^[0-9+().\s-]*$/, "Enter a valid phone number.")
    .optional(),
});
export type ContactInput = z.infer<typeof contactSchema>;

/**
 * The form's values as the action's input: numbers typed as text become numbers, empty
 * fields are left out. Then the action's schema decides (400 invalid_request with a message
 * per field).
 */
export function parseActionArgs(
  name: ActionName,
  raw: Record<string, string | number>,
): Record<string, unknown> {
  const properties =
    (actionJsonSchema(name) as { properties?: Record<string, { type?: string }> }).properties ?? {};
  const value: Record<string, unknown> = {};
  for (const [key, given] of Object.entries(raw)) {
    if (given === "") continue;
    const type = properties[key]?.type;
    value[key] =
      (type === "integer" || type === "number") && typeof given === "string" && given.trim() !== ""
        ? Number(given)
        : given;
  }
  const parsed = ACTIONS[name].input.safeParse(value);
  if (parsed.success) return parsed.data as Record<string, unknown>;
  const fields: Record<string, string> = {};
  for (const issue of parsed.error.issues) {
    const key = issue.path.length > 0 ? String(issue.path[0]) : "_";
    // An unknown field is named by the issue's keys, not its path.
    if (issue.code === "unrecognized_keys") {
      for (const unknown of issue.keys) fields[unknown] = "This action has no such field.";
    } else {
      fields[key] ??= issue.message;
    }
  }
  throw new ApiError(
    "invalid_request",
    `Check the form: ${formatZodError(parsed.error)}`,
    {},
    fields,
  );
}

export interface Confirmation {
  offer: Offer;
  args: Record<string, string | number>;
  contact: ContactInput | undefined;
  consent: boolean;
}

export async function confirmAction(
  runtime: ActionRuntime,
  tenant: TenantRecord,
  confirmation: Confirmation,
): Promise<ActionOutcome> {
  const started = performance.now();
  const { offer } = confirmation;
  let outcome = "ok";
  let maskedArgs: Record<string, unknown> = {};
  const contactGiven =
    confirmation.contact !== undefined &&
    Object.values(confirmation.contact).some((value) => value !== undefined && value !== "");
  try {
    if (contactGiven && !confirmation.consent) {
      throw new ApiError(
        "consent_required",
        "Tick the box to agree that the business may use your contact details.",
      );
    }
    const args = parseActionArgs(offer.name, confirmation.args);
    maskedArgs = maskToolArguments(args, FREE_TEXT_ARGS);
    const db = tenantDb(runtime, tenant);
    const settings = getActionSettings(db);
    // Switched off since it was offered: the offer is void.
    if (!settings.actions[offer.name].enabled) {
      throw new ApiError("offer_expired", "This action is no longer available here.");
    }
    if (!claimOffer(db, offer)) {
      throw new ApiError("offer_expired", "This offer was already used. Ask again to start over.");
    }
    try {
      const result = await runAction(runtime, tenant, {
        name: offer.name,
        args,
        contact: contactGiven ? (confirmation.contact ?? null) : null,
        conversationId: offer.conversationId,
        offerId: offer.id,
        settings,
      });
      completeOffer(tenantDb(runtime, tenant), offer, result.recordId ?? null);
      return result;
    } catch (error) {
      releaseOffer(tenantDb(runtime, tenant), offer);
      throw error;
    }
  } catch (error) {
    outcome = error instanceof ApiError ? error.code : "internal_error";
    throw error;
  } finally {
    auditToolCall(runtime, tenant, {
      via: "action",
      tool: offer.name,
      actor: offer.conversationId,
      arguments: {
        ...maskedArgs,
        ...(contactGiven
          ? {
              contact: Object.keys(confirmation.contact ?? {}).filter(
                (key) => confirmation.contact?.[key as keyof ContactInput],
              ),
            }
          : {}),
        source: offer.source,
      },
      question: null,
      outcome,
      latencyMs: performance.now() - started,
    });
  }
}
