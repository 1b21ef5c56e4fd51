// Questions the answerer abstained on: what visitors asked that the knowledge base could not
// answer. Recorded with each abstaining exchange (conversations.ts) and listed for the
// tenant's admins, identical questions (see question.ts) counted together.
import { normaliseQuestion } from "./question.ts";
import type { TenantDb } from "./store.ts";

export interface UnansweredRecord {
  question: string;
  conversationId: string;
  messageId: number;
  now: number;
}

export interface UnansweredQuestion {
  /** The most recent wording of the question. */
  question: string;
  /** How many times it was asked and not answered. */
  count: number;
  firstAskedAt: number;
  lastAskedAt: number;
  /** The conversation of the latest occurrence. */
  conversationId: string | null;
}

export function recordUnanswered(db: TenantDb, record: UnansweredRecord): void {
  db.prepare(
    `INSERT INTO unanswered_questions (question, normalized, conversation_id, message_id, created_at)
     VALUES (?, ?, ?, ?, ?)`,
  ).run(
    record.question,
    normaliseQuestion(record.question),
    record.conversationId,
    record.messageId,
    record.now,
  );
}

/** Unanswered questions since `since` (ms), most often asked first, then most recent. */
export function listUnanswered(
  db: TenantDb,
  options: { limit: number; since?: number },
): UnansweredQuestion[] {
  return db
    .prepare(
      `SELECT
         (SELECT u2.question FROM unanswered_questions u2
            WHERE u2.normalized = u.normalized ORDER BY u2.id DESC LIMIT 1) AS question,
         (SELECT u3.conversation_id FROM unanswered_questions u3
            WHERE u3.normalized = u.normalized ORDER BY u3.id DESC LIMIT 1) AS conversationId,
         COUNT(*) AS count,
         MIN(created_at) AS firstAskedAt,
         MAX(created_at) AS lastAskedAt
       FROM unanswered_questions u
       WHERE created_at >= ?
       GROUP BY normalized
       ORDER BY count DESC, lastAskedAt DESC
       LIMIT ?`,
    )
    .all(options.since ?? 0, options.limit) as UnansweredQuestion[];
}

// ---- content gaps: unanswered questions grouped by similarity ---------------------------

export interface ContentGap {
  /** The group's most asked wording. */
  question: string;
  /** Times any wording in the group was asked and not answered. */
  count: number;
  lastAskedAt: number;
  /** Every wording in the group, most asked first. */
  variants: UnansweredQuestion[];
}

const GAP_STOP_WORDS: ReadonlySet<string> = new Set(
  (
    "a an and are as at be been being but by can could did do does doing for from had has have " +
    "how i if in into is it its me my of on or our please should so than that the their them " +
    "then there these they this to was we were what when where which who whom why will with " +
    "would you your about any anything there's tell know"
  ).split(" "),
);

/** A question's content words, lightly stemmed: what two wordings of one need must share. */
export function contentWords(question: string): Set<string> {
  const words = question
    .toLowerCase()
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w.length > 1 && !GAP_STOP_WORDS.has(w))
    .map((w) => w.replace(/(?:ing|ed|es|s)$/, (end) => (w.length - end.length >= 3 ? "" : end)))
    // "shipping" → "shipp" → "ship"
    .map((w) => (w.length > 3 ? w.replace(/([b-df-hj-np-tv-z])\1$/, "$1") : w));
  return new Set(words);
}

function similarity(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  if (a.size === 0 || b.size === 0) return 0;
  let shared = 0;
  for (const word of a) if (b.has(word)) shared++;
  return shared / (a.size + b.size - shared);
}

/**
 * Groups unanswered questions whose content words overlap (Jaccard ≥ `threshold`, 0.5 by
 * default: "Do you ship to Canada?" and "Shipping to Canada?" together, "Do you ship to
 * Spain?" apart), most asked groups first. Greedy: each question joins the first group whose
 * leading wording is similar enough, so the result is stable for a given order.
 */
export function groupUnanswered(
  questions: readonly UnansweredQuestion[],
  threshold = 0.5,
): ContentGap[] {
  const sorted = [...questions].sort((a, b) => b.count - a.count || b.lastAskedAt - a.lastAskedAt);
  const groups: Array<{ words: Set<string>; gap: ContentGap }> = [];
  for (const item of sorted) {
    const words = contentWords(item.question);
    const group = groups.find((g) => similarity(g.words, words) >= threshold);
    if (group) {
      group.gap.count += item.count;
      group.gap.lastAskedAt = Math.max(group.gap.lastAskedAt, item.lastAskedAt);
      group.gap.variants.push(item);
    } else {
      groups.push({
        words,
        gap: {
          question: item.question,
          count: item.count,
          lastAskedAt: item.lastAskedAt,
          variants: [item],
        },
      });
    }
  }
  return groups
    .map((g) => g.gap)
    .sort((a, b) => b.count - a.count || b.lastAskedAt - a.lastAskedAt);
}
