// Conversations, their messages and the daily usage counters of one tenant database.
import { randomFillSync } from "node:crypto";
import { statement, transactionOn } from "./statements.ts";
import type { TenantDb } from "./store.ts";
import { recordUnanswered } from "./unanswered.ts";

// 96 random bits per conversation id, taken from a pool filled by the CSPRNG 256 ids at a
// time: one randomBytes call per ask cost more than the rest of the id.
const ID_BYTES = 12;
const idPool = Buffer.alloc(ID_BYTES * 256);
let idPoolAt = idPool.length;

export function newConversationId(): string {
  if (idPoolAt === idPool.length) {
    randomFillSync(idPool);
    idPoolAt = 0;
  }
  const id = `cv_${idPool.toString("hex", idPoolAt, idPoolAt + ID_BYTES)}`;
  idPoolAt += ID_BYTES;
  return id;
}

export interface StoredTurn {
  role: "user" | "assistant";
  content: string;
}

export interface ExchangeRecord {
  conversationId: string;
  question: string;
  answer: string;
  citations: unknown;
  provider: string;
  promptTokens: number;
  completionTokens: number;
  latencyMs: number;
  abstained: boolean;
  /** Answered from the answer cache (no LLM call). */
  cached?: boolean;
  now?: number;
}

export function conversationExists(db: TenantDb, id: string): boolean {
  return db.prepare("SELECT 1 FROM conversations WHERE id = ?").get(id) !== undefined;
}

/** The last `turns` user/assistant pairs of a conversation, oldest first. */
export function loadHistory(db: TenantDb, conversationId: string, turns: number): StoredTurn[] {
  if (turns <= 0) return [];
  const rows = statement(
    db,
    `SELECT role, content FROM messages WHERE conversation_id = ?
     ORDER BY id DESC LIMIT ?`,
  ).all(conversationId, turns * 2) as StoredTurn[];
  return rows.reverse();
}

/**
 * Stores one question and its answer, and counts them in the day's usage, atomically. A
 * question the answerer abstained on is also added to the tenant's unanswered questions.
 * Returns the answer's message id (visitors' feedback refers to it).
 */
export function recordExchange(db: TenantDb, exchange: ExchangeRecord): number {
  const now = exchange.now ?? Date.now();
  const day = new Date(now).toISOString().slice(0, 10);
  // Runs on every ask: the statements and the transaction are made once per handle
  // (statements.ts), so the body takes this call's values as arguments.
  return transactionOn(
    db,
    "recordExchange",
    (exchange: ExchangeRecord, now: number, day: string) => {
      statement(
        db,
        `INSERT INTO conversations (id, created_at, updated_at) VALUES (?, ?, ?)
       ON CONFLICT(id) DO UPDATE SET updated_at = excluded.updated_at`,
      ).run(exchange.conversationId, now, now);
      const insert = statement(
        db,
        `INSERT INTO messages (conversation_id, role, content, citations, provider,
         prompt_tokens, completion_tokens, latency_ms, created_at, cached)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      insert.run(
        exchange.conversationId,
        "user",
        exchange.question,
        null,
        null,
        null,
        null,
        null,
        now,
        0,
      );
      const answer = insert.run(
        exchange.conversationId,
        "assistant",
        exchange.answer,
        JSON.stringify(exchange.citations),
        exchange.provider,
        exchange.promptTokens,
        exchange.completionTokens,
        exchange.latencyMs,
        now,
        exchange.cached ? 1 : 0,
      );
      statement(
        db,
        `INSERT INTO usage_daily (day, asks, abstained, prompt_tokens, completion_tokens, cache_hits)
       VALUES (?, 1, ?, ?, ?, ?)
       ON CONFLICT(day) DO UPDATE SET asks = asks + 1, abstained = abstained + excluded.abstained,
         prompt_tokens = prompt_tokens + excluded.prompt_tokens,
         completion_tokens = completion_tokens + excluded.completion_tokens,
         cache_hits = cache_hits + excluded.cache_hits`,
      ).run(
        day,
        exchange.abstained ? 1 : 0,
        exchange.promptTokens,
        exchange.completionTokens,
        exchange.cached ? 1 : 0,
      );
      const messageId = Number(answer.lastInsertRowid);
      if (exchange.abstained) {
        recordUnanswered(db, {
          question: exchange.question,
          conversationId: exchange.conversationId,
          messageId,
          now,
        });
      }
      return messageId;
    },
  )(exchange, now, day);
}

/**
 * Records a visitor's rating of an answer in their own conversation. False when no such
 * answer exists in that conversation (so one visitor cannot rate another's answers).
 */
export function rateAnswer(
  db: TenantDb,
  input: { conversationId: string; messageId: number; rating: 1 | -1; now?: number },
): boolean {
  return (
    db
      .prepare(
        `UPDATE messages SET feedback = ?, feedback_at = ?
         WHERE id = ? AND conversation_id = ? AND role = 'assistant'`,
      )
      .run(input.rating, input.now ?? Date.now(), input.messageId, input.conversationId).changes ===
    1
  );
}

export interface UsageDay {
  /** UTC day, YYYY-MM-DD. */
  day: string;
  asks: number;
  abstained: number;
  promptTokens: number;
  completionTokens: number;
  /** Questions answered from the answer cache. */
  cacheHits: number;
  /** Answers of the day with a recorded latency, and their exact mean and 95th percentile. */
  answers: number;
  latencyAvgMs: number | null;
  /** Nearest-rank 95th percentile of the day's answer latencies. */
  latencyP95Ms: number | null;
  /** Visitors' thumbs up and down on the day's answers. */
  helpful: number;
  unhelpful: number;
}

interface AnswerStats {
  day: string;
  answers: number;
  latencyAvgMs: number | null;
  latencyP95Ms: number | null;
  helpful: number;
  unhelpful: number;
}

const DAY_MS = 86_400_000;

/**
 * The tenant's usage of its last `days` active days, oldest first: the counters kept by
 * recordExchange (usage_daily) joined with exact latency and feedback figures computed from
 * the day's answers (messages). Reads every answer of those days once; for an admin view.
 */
export function usageByDay(db: TenantDb, days = 30): UsageDay[] {
  const counters = (
    db
      .prepare(
        `SELECT day, asks, abstained, prompt_tokens AS promptTokens,
           completion_tokens AS completionTokens, cache_hits AS cacheHits
         FROM usage_daily ORDER BY day DESC LIMIT ?`,
      )
      .all(days) as Omit<UsageDay, keyof Omit<AnswerStats, "day">>[]
  ).reverse();
  const first = counters[0];
  if (!first) return [];
  const since = Date.parse(`${first.day}T00:00:00Z`);
  const stats = db
    .prepare(
      `WITH answers AS (
         SELECT date(created_at / 1000, 'unixepoch') AS day, latency_ms, feedback,
           ROW_NUMBER() OVER (PARTITION BY date(created_at / 1000, 'unixepoch')
             ORDER BY latency_ms) AS rank,
           COUNT(latency_ms) OVER (PARTITION BY date(created_at / 1000, 'unixepoch')) AS n
         FROM messages
         WHERE role = 'assistant' AND created_at >= ? AND created_at < ?
       )
       SELECT day, COUNT(latency_ms) AS answers, AVG(latency_ms) AS latencyAvgMs,
         MAX(CASE WHEN latency_ms IS NOT NULL AND rank = (n * 95 + 99) / 100
           THEN latency_ms END) AS latencyP95Ms,
         COUNT(CASE WHEN feedback = 1 THEN 1 END) AS helpful,
         COUNT(CASE WHEN feedback = -1 THEN 1 END) AS unhelpful
       FROM answers GROUP BY day`,
    )
    .all(
      since,
      Date.parse(`${(counters.at(-1) as UsageDay).day}T00:00:00Z`) + DAY_MS,
    ) as AnswerStats[];
  const byDay = new Map(stats.map((row) => [row.day, row]));
  return counters.map((row) => {
    const day = byDay.get(row.day);
    return {
      ...row,
      answers: day?.answers ?? 0,
      latencyAvgMs: day?.latencyAvgMs == null ? null : Math.round(day.latencyAvgMs),
      latencyP95Ms: day?.latencyP95Ms ?? null,
      helpful: day?.helpful ?? 0,
      unhelpful: day?.unhelpful ?? 0,
    };
  });
}
