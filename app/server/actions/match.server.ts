// How the embedded default (no LLM) offers an action (issue 11, item 2): the question's
// embedding — the one retrieval computed — against each enabled action's examples, embedded
// once per process and embedding model. The best action is offered when its cosine clears a
// strict threshold (precision over recall: a wrong button is worse than none; measured in
// docs/decisions/027). Searching the knowledge base is what every answer does already, so it
// is never offered.
import type { EmbeddingProvider } from "../embeddings/provider.server.ts";
import { ACTIONS, type ActionName } from "./registry.server.ts";

/** Cosine at or above which an action is offered (USE-lite; see decision 027). */
export const MATCH_THRESHOLD = 0.62;

/**
 * More ways visitors ask for each action than the registry's two examples (which are also
 * what the LLM sees). The registry's are included.
 */
const MORE_EXAMPLES: Partial<Record<ActionName, readonly string[]>> = {
  book_appointment: [
    "Can I make a reservation?",
    "I want to book an appointment",
    "Do you have a free slot tomorrow?",
    "Can I schedule a visit?",
  ],
  qualify_lead: [
    "I'd like a quote for my company",
    "Can your sales team contact me?",
    "How much would it cost for our team?",
  ],
  order_tracking: ["Where is my package?", "Track my order", "When will my order arrive?"],
  returns_and_refunds: [
    "I want to return an item",
    "How do I get a refund?",
    "My item arrived broken",
  ],
  add_to_cart: ["Add this to my basket", "Put one in my cart"],
  subscription_and_replenishment: [
    "Cancel my subscription",
    "Deliver this every two weeks",
    "Change my subscription",
  ],
  handoff_to_human: [
    "Let me speak to a real person",
    "I need a human agent",
    "Connect me with customer service",
    "Can someone call me?",
  ],
};

/**
 * Questions about the business that are not requests for an action, near some action's
 * wording (shipping is not tracking an order; prices are not a quote). A question closer to
 * one of these than to every action's examples is answered, not offered a button.
 */
export const INFORMATIONAL_EXAMPLES: readonly string[] = [
  "What are your shipping costs?",
  "Which countries do you deliver to?",
  "What delivery options do you have?",
  "How much does it cost?",
  "What are your prices?",
  "When are you open?",
  "What is your return policy?",
  "Where are you located?",
  "What services do you offer?",
];

export function matchExamples(name: ActionName): string[] {
  return [...ACTIONS[name].examples, ...(MORE_EXAMPLES[name] ?? [])];
}

const exampleVectors = new Map<string, Promise<Float32Array[]>>();

function vectorsOf(
  embedder: EmbeddingProvider,
  name: ActionName | "informational",
): Promise<Float32Array[]> {
  const key = `${embedder.model}\u0000${name}`;
  let vectors = exampleVectors.get(key);
  if (!vectors) {
    const texts = name === "informational" ? [...INFORMATIONAL_EXAMPLES] : matchExamples(name);
    vectors = embedder.embed(texts, "query");
    // A failed embedding is not cached: the next question tries again.
    vectors.catch(() => exampleVectors.delete(key));
    exampleVectors.set(key, vectors);
  }
  return vectors;
}

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

export interface ActionMatch {
  name: ActionName;
  score: number;
}

/** Every candidate action's best cosine to the question, best first. */
export async function scoreActions(
  embedder: EmbeddingProvider,
  queryVector: Float32Array,
  enabled: readonly ActionName[],
): Promise<ActionMatch[]> {
  const candidates = enabled.filter((name) => name !== "search_knowledge_base");
  const scored = await Promise.all(
    candidates.map(async (name) => {
      const vectors = await vectorsOf(embedder, name);
      return { name, score: Math.max(...vectors.map((vector) => cosine(queryVector, vector))) };
    }),
  );
  return scored.sort((a, b) => b.score - a.score);
}

/** The action to offer for the question, or null when none clears the threshold. */
export async function matchAction(
  embedder: EmbeddingProvider,
  queryVector: Float32Array,
  enabled: readonly ActionName[],
  threshold = MATCH_THRESHOLD,
): Promise<ActionMatch | null> {
  const [best] = await scoreActions(embedder, queryVector, enabled);
  if (!best || best.score < threshold) return null;
  const informational = Math.max(
    ...(await vectorsOf(embedder, "informational")).map((vector) => cosine(queryVector, vector)),
  );
  return best.score > informational ? best : null;
}
