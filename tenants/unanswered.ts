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
