// The bot's actions (issue 11, item 1): what each one is for, the examples the embedded
// default matches questions against, whether it changes something (and so runs only after the
// visitor confirms it), and its input as a strict zod schema, exported as JSON Schema for the
// LLM's `tools`. Contact details (name, e-mail, phone) are never tool arguments: the model
// only sees masked text (tool-calling.server.ts), and the widget's form collects them with
// the visitor's consent. Pure definitions: nothing here runs an action or touches a database.
import { z } from "zod";
import { formatZodError } from "../errors.server.ts";
import type { ToolSpec } from "../llm/tool-calling.server.ts";

const text = (max: number, what: string) =>
  z.string().trim().min(1, `Give the ${what}.`).max(max, `The ${what} is too long.`);
const orderNumber = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9][A-Za-z0-9-]{2,39}$/, "An order number is 3–40 letters, digits or dashes.")
  .describe("The order number as the visitor gave it.");
const quantity = z.number().int().min(1).max(99);

export const ACTIONS = {
  search_knowledge_base: {
    title: "Search the knowledge base",
    description:
      "Finds passages of this business's knowledge base that answer a question. Use it before " +
      "answering anything about the business's products, services, policies or opening hours.",
    examples: ["What are your opening hours?", "Do you ship abroad?"],
    sideEffect: false,
    input: z.strictObject({
      query: text(500, "search query").describe("What to look for, in the visitor's words."),
    }),
  },
  book_appointment: {
    title: "Book an appointment",
    description:
      "Books an appointment in one of the business's free slots. The visitor confirms the " +
      "booking and gives their contact details in a form afterwards; never ask for them here.",
    examples: ["Can I book a table for Friday?", "I'd like an appointment next week"],
    sideEffect: true,
    input: z.strictObject({
      service: text(120, "service")
        .optional()
        .describe("Which service, if the business offers several."),
      date: z.iso.date("Use a date like 2026-12-24.").describe("The day, as YYYY-MM-DD."),
      time: z
        .string()
        .regex(/^([01]\d|2[0-3]):[0-5]\d$/, "Use a time like 14:30.")
        .optional()
        .describe("The preferred start time, HH:MM (24 h); omit to see the day's free slots."),
      party_size: z.number().int().min(1).max(50).optional().describe("How many people."),
      notes: text(500, "note").optional(),
    }),
  },
  qualify_lead: {
    title: "Leave details for a follow-up",
    description:
      "Records a prospective customer's interest so the business can follow up. Contact " +
      "details are collected by the form, with consent; describe only the need here.",
    examples: ["Can someone send me a quote?", "We're interested in your enterprise plan"],
    sideEffect: true,
    input: z.strictObject({
      interest: text(500, "interest").describe("What the visitor wants, in a sentence."),
      timeline: z.enum(["now", "this_month", "this_quarter", "later", "unknown"]).optional(),
      budget: text(80, "budget").optional().describe("The budget as the visitor put it."),
      company_size: z.enum(["1", "2-10", "11-50", "51-250", "251+", "unknown"]).optional(),
    }),
  },
  order_tracking: {
    title: "Track an order",
    description: "Looks up where an order is and when it should arrive.",
    examples: ["Where is my order?", "Has order 10452 shipped yet?"],
    sideEffect: false,
    input: z.strictObject({ order_number: orderNumber }),
  },
  returns_and_refunds: {
    title: "Returns and refunds",
    description:
      "Explains how to return an item or get a refund under the business's policy, for the " +
      "visitor's reason.",
    examples: ["How do I return a damaged item?", "Can I get my money back?"],
    sideEffect: false,
    input: z.strictObject({
      reason: z.enum([
        "damaged",
        "wrong_item",
        "not_as_described",
        "changed_mind",
        "late",
        "other",
      ]),
      order_number: orderNumber.optional(),
      question: text(500, "question").optional(),
    }),
  },
  add_to_cart: {
    title: "Add to cart",
    description: "Adds a product to the visitor's cart on this site.",
    examples: ["Add two of those to my cart", "I'll take the blue one"],
    sideEffect: true,
    input: z.strictObject({
      product: text(120, "product").describe("The product's SKU or exact name."),
      quantity: quantity.default(1),
    }),
  },
  subscription_and_replenishment: {
    title: "Subscription and replenishment",
    description: "Starts, changes, pauses or cancels a repeat delivery of a product.",
    examples: ["Send me coffee beans every month", "Pause my subscription"],
    sideEffect: true,
    input: z.strictObject({
      change: z.enum(["start", "change", "pause", "cancel"]),
      product: text(120, "product").describe("The product's SKU or exact name."),
      quantity: quantity.optional(),
      interval_days: z
        .number()
        .int()
        .min(7)
        .max(365)
        .optional()
        .describe("Days between deliveries."),
    }),
  },
  handoff_to_human: {
    title: "Talk to a person",
    description:
      "Hands the conversation to a person on the business's team when the visitor asks for " +
      "one, or when the knowledge base cannot help.",
    examples: ["Can I talk to a human?", "I want to speak to someone"],
    sideEffect: true,
    input: z.strictObject({
      reason: text(500, "reason").describe("Why a person is needed, in a sentence."),
      urgency: z.enum(["low", "normal", "high"]).default("normal"),
    }),
  },
} as const satisfies Record<
  string,
  {
    title: string;
    description: string;
    examples: readonly string[];
    sideEffect: boolean;
    input: z.ZodObject;
  }
>;

export type ActionName = keyof typeof ACTIONS;
export type ActionInput<N extends ActionName> = z.output<(typeof ACTIONS)[N]["input"]>;

export const ACTION_NAMES = Object.keys(ACTIONS) as ActionName[];
/** On for every tenant, whatever it switched on. */
export const ALWAYS_ON: readonly ActionName[] = ["search_knowledge_base"];

export function isActionName(name: string): name is ActionName {
  return Object.hasOwn(ACTIONS, name);
}

/** An action's input as JSON Schema (draft-07, what tool-calling APIs take), without `$schema`. */
export function actionJsonSchema(name: ActionName): Record<string, unknown> {
  const schema = z.toJSONSchema(ACTIONS[name].input, { target: "draft-7", io: "input" });
  const { $schema: _dialect, ...rest } = schema as Record<string, unknown>;
  return rest;
}

/** The tools an LLM may call for a tenant: the always-on ones and those it switched on. */
export function actionToolSpecs(enabled: readonly ActionName[]): ToolSpec[] {
  const names = ACTION_NAMES.filter((name) => ALWAYS_ON.includes(name) || enabled.includes(name));
  return names.map((name) => ({
    name,
    description: ACTIONS[name].description,
    parameters: actionJsonSchema(name),
  }));
}

export type ParsedActionCall =
  | { ok: true; name: ActionName; args: Record<string, unknown>; sideEffect: boolean }
  | { ok: false; error: string };

/**
 * Validates a call the model asked for before anything runs: a known action the tenant has
 * on, arguments that are JSON and pass the action's schema. The error is written for the
 * model, which gets it back as the call's result and may try again.
 */
export function parseActionCall(
  name: string,
  rawArguments: string,
  enabled: readonly ActionName[],
): ParsedActionCall {
  if (!isActionName(name) || !(ALWAYS_ON.includes(name) || enabled.includes(name))) {
    return { ok: false, error: `There is no action named ${JSON.stringify(name.slice(0, 64))}.` };
  }
  let value: unknown;
  try {
    value = rawArguments.trim() === "" ? {} : JSON.parse(rawArguments);
  } catch {
    return { ok: false, error: `The arguments of ${name} are not valid JSON.` };
  }
  const parsed = ACTIONS[name].input.safeParse(value);
  if (!parsed.success) {
    return { ok: false, error: `Invalid arguments for ${name}: ${formatZodError(parsed.error)}` };
  }
  return {
    ok: true,
    name,
    args: parsed.data as Record<string, unknown>,
    sideEffect: ACTIONS[name].sideEffect,
  };
}
