// The usage charts' numbers: one row per calendar day (UTC) of a window ending today, days
// without questions included as zeros, so every chart shares one x axis. Counters come from
// usage_daily (kept by recordExchange in the ask's own transaction); the exact 95th percentile
// of each day's answer latencies is computed from the window's messages only, found by their
// ids (which grow with time) rather than by an index the ask would have to maintain
// (docs/decisions/031). Reads only; for admin views, and the quota's tokens used.
import { statement } from "./statements.ts";
import type { TenantDb } from "./store.ts";

export const DAY_MS = 86_400_000;

export interface UsageSeriesDay {
  /** UTC day, YYYY-MM-DD. */
  day: string;
  /** Midnight UTC of the day (ms). */
  start: number;
  asks: number;
  abstained: number;
  promptTokens: number;
  completionTokens: number;
  /** promptTokens + completionTokens. */
  tokens: number;
  /** Questions answered from the answer cache. */
  cacheHits: number;
  /** cacheHits / asks, 0–1; null on a day without questions. */
  cacheHitRate: number | null;
  /** Answers with a recorded latency. */
  answers: number;
  /** Nearest-rank 95th percentile of the day's answer latencies; null without answers. */
  latencyP95Ms: number | null;
  /**
   * Tokens used in the quota period up to the end of this day (what the budget is checked
   * against); null for days before the period started.
   */
  periodTokens: number | null;
}

export interface UsageSeriesOptions {
  /** Days in the window, today included. */
  days?: number;
  now?: number;
  /** Start of the quota period (ms), for the cumulative periodTokens. */
  periodStart?: number;
}

const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/**
 * Prompt and completion tokens used from `day` (UTC, YYYY-MM-DD) on. The quota checks it on
 * every ask: prepared once per handle.
 */
export function tokensUsedSince(db: TenantDb, day: string): number {
  return (
    statement(
      db,
      "SELECT coalesce(sum(prompt_tokens + completion_tokens), 0) AS n FROM usage_daily WHERE day >= ?",
    ).get(day) as { n: number }
  ).n;
}

/**
 * The id of the first message created at or after `at`, by binary search over the ids:
 * messages are appended as they happen, so ids grow with created_at (a replica's exchange
 * applied later may be a little out of order; callers search from a day earlier and filter
 * by time). About 2·log2(n) primary-key lookups. Null when no message is that recent.
 */
export function firstMessageIdSince(db: TenantDb, at: number): number | null {
  // Two statements: SQLite answers min() or max() from the primary key only when alone.
  const first = db.prepare("SELECT min(id) AS id FROM messages").get() as { id: number | null };
  const final = db.prepare("SELECT max(id) AS id FROM messages").get() as { id: number | null };
  if (first.id === null || final.id === null) return null;
  const next = db.prepare(
    "SELECT id, created_at AS createdAt FROM messages WHERE id >= ? ORDER BY id LIMIT 1",
  );
  let lo = first.id;
  let hi = final.id;
  const last = next.get(hi) as { createdAt: number };
  if (last.createdAt < at) return null;
  // Invariant: the message at or after `hi` is recent enough; look for the first one.
  while (lo < hi) {
    const mid = lo + Math.floor((hi - lo) / 2);
    const row = next.get(mid) as { id: number; createdAt: number };
    if (row.createdAt >= at) hi = Math.min(mid, row.id);
    else lo = row.id + 1;
  }
  return (next.get(lo) as { id: number }).id;
}

interface CounterRow {
  day: string;
  asks: number;
  abstained: number;
  promptTokens: number;
  completionTokens: number;
  cacheHits: number;
}

/** The nearest-rank 95th percentile (the ceil(0.95 n)-th smallest) of each day's latencies. */
function dailyP95(rows: Array<[createdAt: number, latencyMs: number]>) {
  const byDay = new Map<number, number[]>();
  for (const [createdAt, latencyMs] of rows) {
    const d = Math.floor(createdAt / DAY_MS);
    let day = byDay.get(d);
    if (!day) byDay.set(d, (day = []));
    day.push(latencyMs);
  }
  const result = new Map<number, { answers: number; p95: number }>();
  for (const [d, values] of byDay) {
    const sorted = Float64Array.from(values).sort();
    result.set(d, {
      answers: sorted.length,
      p95: sorted[Math.ceil(0.95 * sorted.length) - 1] as number,
    });
  }
  return result;
}

/** The window's days, oldest first; see UsageSeriesDay. */
export function usageSeries(db: TenantDb, options: UsageSeriesOptions = {}): UsageSeriesDay[] {
  const days = Math.max(1, Math.floor(options.days ?? 30));
  const now = options.now ?? Date.now();
  const today = Math.floor(now / DAY_MS);
  const firstDay = today - days + 1;
  const windowStart = firstDay * DAY_MS;
  const windowEnd = (today + 1) * DAY_MS;
  const periodStartDay =
    options.periodStart === undefined ? null : Math.floor(options.periodStart / DAY_MS);
  // Counters from the earlier of the window and the period start, for the cumulative sum.
  const readFrom = Math.min(firstDay, periodStartDay ?? firstDay) * DAY_MS;
  const counters = db
    .prepare(
      `SELECT day, asks, abstained, prompt_tokens AS promptTokens,
         completion_tokens AS completionTokens, cache_hits AS cacheHits
       FROM usage_daily WHERE day >= ? AND day <= ? ORDER BY day`,
    )
    .all(dayOf(readFrom), dayOf(now)) as CounterRow[];
  const countersByDay = new Map(counters.map((row) => [row.day, row]));

  // Only the window's messages are read: from the first id of the day before the window (a
  // rowid range), their two numbers only; the per-day sort is cheaper in JS than in SQL.
  const fromId = firstMessageIdSince(db, windowStart - DAY_MS);
  const latencyByDay = dailyP95(
    fromId === null
      ? []
      : (db
          .prepare(
            `SELECT created_at, latency_ms FROM messages
             WHERE id >= ? AND role = 'assistant' AND created_at >= ? AND created_at < ?
               AND latency_ms IS NOT NULL`,
          )
          .raw()
          .all(fromId, windowStart, windowEnd) as Array<[number, number]>),
  );

  let periodTokens = 0;
  if (periodStartDay !== null) {
    for (const row of counters) {
      const d = Date.parse(`${row.day}T00:00:00Z`) / DAY_MS;
      if (d >= periodStartDay && d < firstDay)
        periodTokens += row.promptTokens + row.completionTokens;
    }
  }

  const series: UsageSeriesDay[] = [];
  for (let d = firstDay; d <= today; d++) {
    const start = d * DAY_MS;
    const day = dayOf(start);
    const counter = countersByDay.get(day);
    const latency = latencyByDay.get(d);
    const tokens = counter ? counter.promptTokens + counter.completionTokens : 0;
    const inPeriod = periodStartDay !== null && d >= periodStartDay;
    if (inPeriod) periodTokens += tokens;
    const asks = counter?.asks ?? 0;
    series.push({
      day,
      start,
      asks,
      abstained: counter?.abstained ?? 0,
      promptTokens: counter?.promptTokens ?? 0,
      completionTokens: counter?.completionTokens ?? 0,
      tokens,
      cacheHits: counter?.cacheHits ?? 0,
      cacheHitRate: asks > 0 ? (counter?.cacheHits ?? 0) / asks : null,
      answers: latency?.answers ?? 0,
      latencyP95Ms: latency?.p95 ?? null,
      periodTokens: inPeriod ? periodTokens : null,
    });
  }
  return series;
}

export interface UsageTotals {
  asks: number;
  tokens: number;
  cacheHits: number;
  /** Over the whole window; null without questions. */
  cacheHitRate: number | null;
  /** The highest daily p95 of the window; null without answers. */
  worstP95Ms: number | null;
  activeDays: number;
}

export function usageTotals(series: readonly UsageSeriesDay[]): UsageTotals {
  let asks = 0;
  let tokens = 0;
  let cacheHits = 0;
  let worstP95Ms: number | null = null;
  let activeDays = 0;
  for (const day of series) {
    asks += day.asks;
    tokens += day.tokens;
    cacheHits += day.cacheHits;
    if (day.asks > 0) activeDays++;
    if (day.latencyP95Ms !== null) worstP95Ms = Math.max(worstP95Ms ?? 0, day.latencyP95Ms);
  }
  return {
    asks,
    tokens,
    cacheHits,
    cacheHitRate: asks > 0 ? cacheHits / asks : null,
    worstP95Ms,
    activeDays,
  };
}
