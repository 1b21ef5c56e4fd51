// The usage charts' numbers: one row per calendar day (UTC) of a window ending today, days
// without questions included as zeros, so every chart shares one x axis. Counters come from
// usage_daily (kept by recordExchange in the ask's own transaction); the exact 95th percentile
// of each day's answer latencies comes from one range scan of the partial index on answers
// (tenant migration 12), never from the whole messages table. Reads only; for admin views.
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

interface CounterRow {
  day: string;
  asks: number;
  abstained: number;
  promptTokens: number;
  completionTokens: number;
  cacheHits: number;
}

interface LatencyRow {
  /** Days since the epoch. */
  d: number;
  answers: number;
  p95: number;
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

  // Rank within each day by latency; the row whose rank is ceil(0.95 n) is the p95.
  const latencies = db
    .prepare(
      `WITH ranked AS (
         SELECT created_at / ${DAY_MS} AS d, latency_ms,
           ROW_NUMBER() OVER (PARTITION BY created_at / ${DAY_MS} ORDER BY latency_ms) AS rank,
           COUNT(*) OVER (PARTITION BY created_at / ${DAY_MS}) AS n
         FROM messages INDEXED BY messages_answers_by_time
         WHERE role = 'assistant' AND created_at >= ? AND created_at < ?
           AND latency_ms IS NOT NULL
       )
       SELECT d, n AS answers, latency_ms AS p95 FROM ranked WHERE rank = (n * 95 + 99) / 100`,
    )
    .all(windowStart, windowEnd) as LatencyRow[];
  const latencyByDay = new Map(latencies.map((row) => [row.d, row]));

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
