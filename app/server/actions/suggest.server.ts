// Suggested actions (issue 11 item 3, docs/decisions/032): the knowledge-base check looks for
// passages that show what the business does — opening hours and appointments, order and
// shipping pages, a returns policy, pricing, contact details, a cart, subscriptions — and
// proposes the matching action with those passages as evidence. Each rule searches the
// tenant's knowledge base with the product's own retrieval (FTS + vectors) for its queries,
// keeps only passages whose words match the rule (a vector neighbour alone proves nothing),
// and needs a minimum number of them; the business's industry (tenant meta `industry`,
// written at sign-up) lowers that minimum for actions typical of it. Proposals live in
// `action_suggestions` (tenant migration 11), one per action; the admin accepts or rejects
// each. Touches the tenant database, the embedder, and the action settings on acceptance.
import type { ActionSuggestion, SuggestionEvidence } from "#app/shared/kb-check.ts";
import {
  actionSuggestionRow,
  actionSuggestionRows,
  writeSuggestionDecision,
  writeSuggestionOutcomes,
  type ActionSuggestionRow,
} from "#tenants/actions.ts";
import { storedIndustry } from "#tenants/business.ts";
import type { TenantDb } from "#tenants/store.ts";
import type { TenantRecord } from "../control-db.server.ts";
import type { EmbeddingProvider } from "../embeddings/provider.server.ts";
import { retrieveWithStats } from "../retrieval/retrieve.server.ts";
import type { RetrievedChunk } from "../retrieval/types.server.ts";
import type { Runtime } from "../runtime/runtime.server.ts";
import { ApiError } from "../errors.server.ts";
import { ACTIONS, isActionName, type ActionName } from "./registry.server.ts";
import {
  ActionSettingsError,
  getActionSettings,
  saveActionSettings,
  WEBHOOK_ONLY,
  type SaveOptions,
} from "./settings.server.ts";

export interface SuggestionRule {
  action: ActionName;
  /** What the evidence is about, for the reason text: "opening hours or appointments". */
  about: string;
  /** Searched with the tenant's retrieval, each on its own. */
  queries: readonly string[];
  /** A passage is evidence only when its title, headings or text match this. */
  pattern: RegExp;
  /** Every one of these must also match somewhere in the evidence (e.g. a cart for add_to_cart). */
  alsoNeeds?: RegExp;
  /** Industries (tenant meta `industry`) where the action is typical. */
  industries: readonly string[];
}

/** Passages needed before an action is proposed; one when the industry makes it typical. */
export const MIN_EVIDENCE = 2;
export const MIN_EVIDENCE_FOR_INDUSTRY = 1;
/** Passages each query retrieves, and evidence kept per suggestion. */
const CANDIDATES_PER_QUERY = 8;
const MAX_EVIDENCE = 5;
const SNIPPET_CHARS = 200;

export const SUGGESTION_RULES: readonly SuggestionRule[] = [
  {
    action: "book_appointment",
    about: "opening hours, appointments or bookable services",
    queries: ["opening hours", "book an appointment", "reservations", "our services"],
    pattern:
      /\b(opening (hours|times)|hours of operation|we are open|open (daily|every day|from \d|mon(day)?|tue(sday)?|wed(nesday)?|thu(rsday)?|fri(day)?|sat(urday)?|sun(day)?)|appointments?|book(ing)? (a|an|your|online)|reservations?|reserve (a|your) (table|spot|seat)|schedule (a|an|your) (visit|call|consultation|appointment)|our services)\b/i,
    industries: ["restaurant", "clinic", "services", "salon", "health"],
  },
  {
    action: "order_tracking",
    about: "orders, shipping or tracking",
    queries: ["track my order", "shipping and delivery", "order status"],
    pattern:
      /\b(track(ing)? (your |an |my )?(order|parcel|package|shipment)|tracking (number|link|code)|order status|shipping (times?|costs?|policy|information)|delivery (times?|costs?|estimates?)|(orders|parcels) (are|is) (shipped|dispatched)|dispatched|courier)\b/i,
    industries: ["retail", "ecommerce"],
  },
  {
    action: "returns_and_refunds",
    about: "returns or refunds",
    queries: ["returns and refunds", "return policy", "money back"],
    pattern:
      /\b(returns? (policy|window|label|form|an item|items|process)|refunds?|refunded|money back|exchanges? (policy|an item)|return (it|them|the item|your (order|item|purchase|product))|send (it|items?|the item) back)\b/i,
    industries: ["retail", "ecommerce"],
  },
  {
    action: "qualify_lead",
    about: "pricing, quotes or demos",
    queries: ["pricing", "request a quote", "book a demo"],
    pattern:
      /\b(pricing|price list|plans? (and|&) pric|quotes?|quotation|(request|book|schedule) a demo|free (trial|consultation)|estimate|enterprise plan|contact (sales|our sales))\b/i,
    industries: ["saas", "services"],
  },
  {
    action: "handoff_to_human",
    about: "contact details or customer support",
    queries: ["contact us", "customer support", "talk to a person"],
    pattern:
      /\b(contact us|get in touch|customer (service|support|care)|support team|call us|e-?mail us|phone: ?\+?\d|live chat|help ?desk|speak (to|with) (someone|a person|our team))\b/i,
    industries: ["saas", "services", "clinic", "retail", "restaurant"],
  },
  {
    action: "add_to_cart",
    about: "products sold with a cart",
    queries: ["add to cart", "buy products online", "checkout"],
    pattern:
      /\b(add to (cart|basket|bag)|shopping (cart|basket|bag)|checkout|check out|in stock|out of stock|sku|buy now|products?)\b/i,
    alsoNeeds:
      /\b(add to (cart|basket|bag)|shopping (cart|basket|bag)|checkout|check out|buy now)\b/i,
    industries: ["retail", "ecommerce"],
  },
  {
    action: "subscription_and_replenishment",
    about: "subscriptions or repeat deliveries",
    queries: ["subscription", "subscribe and save", "repeat delivery every month"],
    pattern:
      /\b(subscriptions?|subscribe (and|&) save|auto-?ship|auto-?renew(al)?|refills?|replenish(ment)?|repeat (delivery|deliveries|order)|deliver(ed|y)? every (week|month|\d+ (days|weeks))|monthly (delivery|box|plan))\b/i,
    industries: ["retail", "ecommerce"],
  },
];

/** The business's industry, as the trial's sign-up stored it (absent for older tenants). */
export function tenantIndustry(db: TenantDb): string | null {
  const value = storedIndustry(db)?.trim().toLowerCase();
  return value ? value : null;
}

function snippetAround(text: string, index: number, length: number): string {
  const flat = text.replace(/\s+/g, " ");
  // The index was found in the original text; whitespace runs only shorten what precedes it.
  const shift = text.slice(0, index).length - text.slice(0, index).replace(/\s+/g, " ").length;
  const at = Math.max(0, index - shift);
  const start = Math.max(0, at - Math.floor((SNIPPET_CHARS - length) / 2));
  const end = Math.min(flat.length, start + SNIPPET_CHARS);
  return `${start > 0 ? "…" : ""}${flat.slice(start, end).trim()}${end < flat.length ? "…" : ""}`;
}

/** The passage as evidence for the rule, or null when its words do not match the rule. */
export function evidenceOf(rule: SuggestionRule, chunk: RetrievedChunk): SuggestionEvidence | null {
  const inText = rule.pattern.exec(chunk.text);
  const inContext = inText ? null : rule.pattern.exec(`${chunk.title} ${chunk.headingPath}`);
  const match = inText ?? inContext;
  if (!match) return null;
  return {
    documentId: chunk.documentId,
    chunkId: chunk.chunkId,
    title: chunk.title,
    headingPath: chunk.headingPath,
    snippet: inText
      ? snippetAround(chunk.text, inText.index, inText[0].length)
      : snippetAround(chunk.text, 0, 0),
    matched: match[0].toLowerCase(),
  };
}

export interface RuleOutcome {
  rule: SuggestionRule;
  evidence: SuggestionEvidence[];
  /** Passages that matched (may exceed the evidence kept). */
  supporting: number;
  needed: number;
  industryMatched: boolean;
  proposed: boolean;
  reason: string;
}

/** Decides one rule from the passages its queries retrieved. */
export function judgeRule(
  rule: SuggestionRule,
  candidates: readonly RetrievedChunk[],
  industry: string | null,
): RuleOutcome {
  const seen = new Set<number>();
  const matching: SuggestionEvidence[] = [];
  for (const chunk of candidates) {
    if (seen.has(chunk.chunkId)) continue;
    seen.add(chunk.chunkId);
    const evidence = evidenceOf(rule, chunk);
    if (evidence) matching.push(evidence);
  }
  const industryMatched = industry !== null && rule.industries.includes(industry);
  const needed = industryMatched ? MIN_EVIDENCE_FOR_INDUSTRY : MIN_EVIDENCE;
  const alsoMet =
    !rule.alsoNeeds ||
    matching.some((e) => rule.alsoNeeds?.test(`${e.title} ${e.headingPath} ${e.snippet}`));
  const documents = new Set(matching.map((e) => e.documentId)).size;
  const proposed = matching.length >= needed && alsoMet;
  const reason =
    `${matching.length} passage${matching.length === 1 ? "" : "s"} in ${documents} ` +
    `document${documents === 1 ? "" : "s"} mention ${rule.about}` +
    (industryMatched ? `, which is typical for a business in “${industry}”` : "") +
    (proposed ? "." : `; ${needed} needed${alsoMet ? "" : ", and none shows a cart or checkout"}.`);
  return {
    rule,
    evidence: matching.slice(0, MAX_EVIDENCE),
    supporting: matching.length,
    needed,
    industryMatched,
    proposed,
    reason,
  };
}

// ---- storage ---------------------------------------------------------------------------

function toSuggestion(row: ActionSuggestionRow): ActionSuggestion {
  let evidence: SuggestionEvidence[] = [];
  try {
    evidence = JSON.parse(row.evidence) as SuggestionEvidence[];
  } catch {
    evidence = [];
  }
  const known = (ACTIONS as Record<string, { title: string } | undefined>)[row.action];
  return {
    id: row.id,
    action: row.action,
    title: known?.title ?? row.action,
    status: row.status,
    reason: row.reason,
    evidence,
    outcome: row.outcome,
    decidedBy: row.decided_by,
    decidedAt: row.decided_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** Every suggestion, proposed ones first, then in the order of the rules. */
export function listSuggestions(db: TenantDb): ActionSuggestion[] {
  const rows = actionSuggestionRows(db);
  const order = new Map(SUGGESTION_RULES.map((rule, i) => [rule.action as string, i]));
  const statusOrder = { proposed: 0, accepted: 1, rejected: 2 } as const;
  return rows
    .map(toSuggestion)
    .sort(
      (a, b) =>
        statusOrder[a.status] - statusOrder[b.status] ||
        (order.get(a.action) ?? 99) - (order.get(b.action) ?? 99),
    );
}

export function getSuggestion(db: TenantDb, id: number): ActionSuggestion | null {
  const row = actionSuggestionRow(db, id);
  return row ? toSuggestion(row) : null;
}

/**
 * Stores the outcomes of one check: a new proposal for each action proposed for the first
 * time; fresh evidence for existing ones (a decided suggestion keeps its decision); and an
 * undecided proposal whose evidence is gone is withdrawn.
 */
export function storeSuggestions(
  db: TenantDb,
  outcomes: readonly RuleOutcome[],
  checkId: number | null,
  now: number,
): void {
  writeSuggestionOutcomes(
    db,
    outcomes.map((outcome) => ({
      action: outcome.rule.action,
      proposed: outcome.proposed,
      reason: outcome.reason,
      evidence: JSON.stringify(outcome.evidence),
    })),
    checkId,
    now,
  );
}

/**
 * The rules' questions are the product's own fixed text, the same for every tenant: their
 * vectors are computed once per embedder, in one batch, and kept. A check then costs no
 * embedding at all instead of two dozen, queued one by one behind the tenant's ingestion.
 * Nothing a tenant or a visitor wrote is kept here.
 */
const ruleQueryVectors = new WeakMap<EmbeddingProvider, Map<string, Float32Array>>();

async function ruleQueryEmbedder(embedder: EmbeddingProvider): Promise<EmbeddingProvider> {
  let vectors = ruleQueryVectors.get(embedder);
  if (!vectors) {
    const queries = [...new Set(SUGGESTION_RULES.flatMap((rule) => rule.queries))];
    const embedded = await embedder.embed(queries, "query");
    vectors = new Map(queries.map((query, i) => [query, embedded[i] as Float32Array]));
    ruleQueryVectors.set(embedder, vectors);
  }
  const known = vectors;
  return {
    model: embedder.model,
    dimension: embedder.dimension,
    embed: (texts, kind) =>
      texts.every((text) => known.has(text))
        ? Promise.resolve(texts.map((text) => known.get(text) as Float32Array))
        : embedder.embed(texts, kind),
  };
}

/**
 * Runs every rule against the tenant's knowledge base (retrieval per query) and stores the
 * proposals. Returns the outcomes, proposed or not, for tests and logs.
 */
export async function suggestActions(
  runtime: Pick<Runtime, "tenants" | "embedder">,
  tenant: Pick<TenantRecord, "id">,
  checkId: number | null,
  options: { now?: () => number } = {},
): Promise<RuleOutcome[]> {
  const db = () => runtime.tenants.get(tenant.id);
  const industry = tenantIndustry(db());
  const embedder = await ruleQueryEmbedder(runtime.embedder);
  const outcomes: RuleOutcome[] = [];
  for (const rule of SUGGESTION_RULES) {
    const candidates: RetrievedChunk[] = [];
    for (const query of rule.queries) {
      const { chunks } = await retrieveWithStats(db, embedder, query, {
        topK: CANDIDATES_PER_QUERY,
      });
      candidates.push(...chunks);
    }
    outcomes.push(judgeRule(rule, candidates, industry));
  }
  storeSuggestions(db(), outcomes, checkId, (options.now ?? Date.now)());
  return outcomes;
}

// ---- the admin's decision ----------------------------------------------------------------

export type SuggestionDecision = "accept" | "reject";

export interface DecisionResult {
  suggestion: ActionSuggestion;
  /** What happened, for the admin: "… is on", or "Needs a webhook: …". */
  message: string;
}

/**
 * Accepts or rejects a proposal. Accepting switches the action on through the action
 * settings — with its built-in back-end, or, for an action only a webhook can serve
 * (WEBHOOK_ONLY), only once the tenant has set a webhook; until then it is accepted as
 * "needs a webhook". A decided suggestion stays decided (409 conflict).
 */
export function decideSuggestion(
  db: TenantDb,
  id: number,
  decision: SuggestionDecision,
  actor: string,
  options: SaveOptions & { now?: number } = {},
): DecisionResult {
  const now = options.now ?? Date.now();
  return db.transaction((): DecisionResult => {
    const suggestion = getSuggestion(db, id);
    if (!suggestion) throw new ApiError("not_found", "No such suggestion.");
    if (suggestion.status !== "proposed") {
      throw new ApiError("conflict", `This suggestion was already ${suggestion.status}.`);
    }
    if (!isActionName(suggestion.action)) {
      throw new ApiError("bad_request", "This action no longer exists.");
    }
    const name = suggestion.action;
    const title = ACTIONS[name].title;
    let outcome: string;
    let message: string;
    if (decision === "reject") {
      outcome = "rejected";
      message = `“${title}” will not be suggested again.`;
    } else {
      const current = getActionSettings(db).actions[name];
      const webhookReady =
        current.backend === "webhook" &&
        current.webhookUrl !== null &&
        getActionSettings(db).webhookSecretSet;
      if (WEBHOOK_ONLY.includes(name) && !webhookReady) {
        outcome = "needs_webhook";
        message = `Needs a webhook: set it on the Actions tab, then switch “${title}” on there.`;
      } else {
        try {
          saveActionSettings(db, { actions: { [name]: { enabled: true } } }, options);
        } catch (error) {
          if (error instanceof ActionSettingsError) {
            throw new ApiError("invalid_request", error.message, {}, error.fields);
          }
          throw error;
        }
        outcome = "enabled";
        message =
          current.backend === "webhook"
            ? `“${title}” is on, calling your webhook.`
            : `“${title}” is on, with the built-in back-end; adjust it on the Actions tab.`;
      }
    }
    writeSuggestionDecision(db, id, {
      status: decision === "accept" ? "accepted" : "rejected",
      outcome,
      actor,
      now,
    });
    return { suggestion: getSuggestion(db, id) as ActionSuggestion, message };
  })();
}
