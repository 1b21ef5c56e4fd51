import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { recordExchange } from "./conversations.ts";
import { newTenantId } from "./id.ts";
import { openTenantDb, type TenantDb } from "./store.ts";
import { DAY_MS, firstMessageIdSince, usageSeries, usageTotals } from "./usage.ts";

let dir: string;
let db: TenantDb;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-usage-"));
  db = openTenantDb(dir, newTenantId(), { model: "t", dimension: 4 }, { create: true });
});
afterEach(() => {
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const NOW = Date.UTC(2026, 11, 2, 15, 0);
let n = 0;
function ask(at: number, latencyMs: number, extra: { cached?: boolean; tokens?: number } = {}) {
  n++;
  return recordExchange(db, {
    conversationId: `cv_usage${String(n).padStart(4, "0")}`,
    question: `q${n}`,
    answer: `a${n}`,
    citations: [],
    provider: "extractive:v1",
    promptTokens: extra.tokens ?? 10,
    completionTokens: extra.tokens === undefined ? 5 : 0,
    latencyMs,
    abstained: false,
    cached: extra.cached,
    now: at,
  });
}

describe("usageSeries", () => {
  it("has one row per calendar day of the window, quiet days as zeros", () => {
    const series = usageSeries(db, { days: 30, now: NOW });
    expect(series).toHaveLength(30);
    expect(series[0]?.day).toBe("2026-11-03");
    expect(series.at(-1)?.day).toBe("2026-12-02");
    expect(series.every((d, i) => i === 0 || d.start - series[i - 1]!.start === DAY_MS)).toBe(true);
    expect(series[5]).toMatchObject({
      asks: 0,
      tokens: 0,
      cacheHitRate: null,
      latencyP95Ms: null,
      answers: 0,
      periodTokens: null,
    });
  });

  it("counts questions, tokens and the cache hit rate per day", () => {
    const today = Date.UTC(2026, 11, 2, 9, 0);
    ask(today, 100);
    ask(today + 1000, 200);
    ask(today + 2000, 5, { cached: true, tokens: 0 });
    ask(today + 3000, 5, { cached: true, tokens: 0 });
    ask(Date.UTC(2026, 11, 1, 23, 59), 300);
    const series = usageSeries(db, { days: 7, now: NOW });
    expect(series.at(-1)).toMatchObject({
      day: "2026-12-02",
      asks: 4,
      promptTokens: 20,
      completionTokens: 10,
      tokens: 30,
      cacheHits: 2,
      cacheHitRate: 0.5,
      answers: 4,
    });
    expect(series.at(-2)).toMatchObject({
      day: "2026-12-01",
      asks: 1,
      tokens: 15,
      cacheHitRate: 0,
    });
    expect(usageTotals(series)).toEqual({
      asks: 5,
      tokens: 45,
      cacheHits: 2,
      cacheHitRate: 0.4,
      worstP95Ms: 300,
      activeDays: 2,
    });
  });

  it("computes the nearest-rank 95th percentile of each day's latencies", () => {
    const day = Date.UTC(2026, 11, 1, 8, 0);
    // 1..100 ms in shuffled order: p95 is the 95th smallest.
    const values = Array.from({ length: 100 }, (_, i) => i + 1).sort(
      (a, b) => ((a * 37) % 101) - ((b * 37) % 101),
    );
    values.forEach((ms, i) => ask(day + i, ms));
    ask(Date.UTC(2026, 11, 2, 1, 0), 42);
    const series = usageSeries(db, { days: 2, now: NOW });
    expect(series.map((d) => [d.day, d.answers, d.latencyP95Ms])).toEqual([
      ["2026-12-01", 100, 95],
      ["2026-12-02", 1, 42],
    ]);
    // Outside the window: not read.
    expect(usageSeries(db, { days: 1, now: NOW })[0]?.latencyP95Ms).toBe(42);
  });

  it("accumulates the quota period's tokens, from before the window too", () => {
    ask(Date.UTC(2026, 10, 20, 12, 0), 10, { tokens: 1000 }); // before the period
    ask(Date.UTC(2026, 10, 25, 12, 0), 10, { tokens: 100 }); // in the period, before the window
    ask(Date.UTC(2026, 10, 30, 12, 0), 10, { tokens: 10 });
    ask(Date.UTC(2026, 11, 2, 12, 0), 10, { tokens: 1 });
    const series = usageSeries(db, {
      days: 3,
      now: NOW,
      periodStart: Date.UTC(2026, 10, 22, 10, 0),
    });
    expect(series.map((d) => [d.day, d.tokens, d.periodTokens])).toEqual([
      ["2026-11-30", 10, 110],
      ["2026-12-01", 0, 110],
      ["2026-12-02", 1, 111],
    ]);
    // A period that starts inside the window: earlier days have no period total.
    const monthly = usageSeries(db, { days: 3, now: NOW, periodStart: Date.UTC(2026, 11, 1) });
    expect(monthly.map((d) => d.periodTokens)).toEqual([null, 0, 1]);
  });

  it("reads only the window's messages, found by id", () => {
    expect(firstMessageIdSince(db, 0)).toBeNull();
    const t0 = Date.UTC(2026, 10, 1);
    for (let i = 0; i < 40; i++) ask(t0 + i * DAY_MS, 10); // messages 2i+1 (question), 2i+2
    // Day 25's question is message 51.
    expect(firstMessageIdSince(db, t0 + 25 * DAY_MS)).toBe(51);
    expect(firstMessageIdSince(db, t0 + 25 * DAY_MS + 1)).toBe(53);
    expect(firstMessageIdSince(db, 0)).toBe(1);
    expect(firstMessageIdSince(db, t0 + 100 * DAY_MS)).toBeNull();
    // Gaps in the ids (erased messages) do not matter.
    db.prepare("DELETE FROM messages WHERE id BETWEEN 20 AND 60").run();
    expect(firstMessageIdSince(db, t0 + 25 * DAY_MS)).toBe(61);
    const plan = db
      .prepare(
        "EXPLAIN QUERY PLAN SELECT latency_ms FROM messages WHERE id >= ? AND role = 'assistant'",
      )
      .all(1) as { detail: string }[];
    expect(plan.map((row) => row.detail).join("\n")).toMatch(
      /USING INTEGER PRIMARY KEY \(rowid>\?\)/,
    );
  });
});

describe("usageTotals", () => {
  it("is empty-safe", () => {
    expect(usageTotals([])).toEqual({
      asks: 0,
      tokens: 0,
      cacheHits: 0,
      cacheHitRate: null,
      worstP95Ms: null,
      activeDays: 0,
    });
  });
});
