// Precision and recall of offering actions by matching (app/server/actions/match.server.ts)
// with the embedded encoder, on questions that are not among the actions' examples: some ask
// for an action, the rest are ordinary questions about a business that must offer nothing.
// Prints one line per threshold. Run: npx tsx scripts/bench/action-match.ts
// The figures are recorded in docs/decisions/027-actions-back-ends-and-confirmation.md.
import { matchAction } from "../../app/server/actions/match.server.ts";
import { ACTION_NAMES, type ActionName } from "../../app/server/actions/registry.server.ts";
import { createEmbedder } from "../../app/server/embeddings/index.server.ts";

const QUESTIONS: Array<[string, ActionName | null]> = [
  ["Can I talk to a person?", "handoff_to_human"],
  ["Is there a human I can chat with?", "handoff_to_human"],
  ["I would like to speak with an agent please", "handoff_to_human"],
  ["Can I book a haircut on Saturday?", "book_appointment"],
  ["Do you have any appointments available Monday morning?", "book_appointment"],
  ["I want to reserve a table for four", "book_appointment"],
  ["Where is my parcel?", "order_tracking"],
  ["Has my order 5521 been dispatched?", "order_tracking"],
  ["How can I send back a broken product?", "returns_and_refunds"],
  ["I want my money back", "returns_and_refunds"],
  ["Could your team give me a price quote for 50 users?", "qualify_lead"],
  ["Please cancel my monthly coffee delivery", "subscription_and_replenishment"],
  ["Add the red shoes to my basket", "add_to_cart"],
  ["What are your opening hours?", null],
  ["Do you ship to Canada?", null],
  ["How do I deploy on Fly?", null],
  ["What is the price of the basic plan?", null],
  ["Is parking available near the shop?", null],
  ["Which payment methods do you accept?", null],
  ["How long does shipping take?", null],
  ["Do you have vegetarian options?", null],
  ["What is your privacy policy?", null],
  ["Who founded the company?", null],
  ["Can I use the API from Python?", null],
  ["What sizes do the shirts come in?", null],
  ["Is the museum open on Sundays?", null],
];

const embedder = await createEmbedder({ kind: "local" }, { timeoutMs: 60_000 });
const vectors = await embedder.embed(
  QUESTIONS.map(([question]) => question),
  "query",
);
for (const threshold of [0.55, 0.6, 0.62, 0.65, 0.7]) {
  let right = 0;
  let wrong = 0;
  let missed = 0;
  for (const [i, [, expected]] of QUESTIONS.entries()) {
    const match = await matchAction(embedder, vectors[i] as Float32Array, ACTION_NAMES, threshold);
    if (match && match.name === expected) right++;
    else if (match) wrong++;
    else if (expected) missed++;
  }
  const precision = right / Math.max(1, right + wrong);
  const wanted = QUESTIONS.filter(([, expected]) => expected !== null).length;
  console.log(
    `threshold ${threshold.toFixed(2)}: ${right} right, ${wrong} wrong, ${missed} missed — ` +
      `precision ${precision.toFixed(2)}, recall ${(right / wanted).toFixed(2)}`,
  );
}
await embedder.close?.();
