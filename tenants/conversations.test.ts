import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  conversationExists,
  loadHistory,
  rateAnswer,
  recordExchange,
  usageByDay,
} from "./conversations.ts";
import { newTenantId } from "./id.ts";
import { openTenantDb, type TenantDb } from "./store.ts";

let dir: string;
let db: TenantDb;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-conv-"));
  db = openTenantDb(dir, newTenantId(), { model: "t", dimension: 4 }, { create: true });
});
afterEach(() => {
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const exchange = (n: number, now: number, abstained = false) => ({
  conversationId: "cv_test1234",
  question: `q${n}`,
  answer: `a${n}`,
  citations: [{ n: 1 }],
  provider: "extractive:extractive-v1",
  promptTokens: 10,
  completionTokens: 5,
  latencyMs: 12,
  abstained,
  now,
});

describe("conversations", () => {
  it("records exchanges and returns the last turns oldest first", () => {
    expect(conversationExists(db, "cv_test1234")).toBe(false);
    expect(loadHistory(db, "cv_test1234", 3)).toEqual([]);
    for (let i = 1; i <= 4; i++) recordExchange(db, exchange(i, Date.UTC(2026, 10, 22, 10, i)));
    expect(conversationExists(db, "cv_test1234")).toBe(true);
    expect(loadHistory(db, "cv_test1234", 2)).toEqual([
      { role: "user", content: "q3" },
      { role: "assistant", content: "a3" },
      { role: "user", content: "q4" },
      { role: "assistant", content: "a4" },
    ]);
    expect(loadHistory(db, "cv_test1234", 0)).toEqual([]);
  });

  it("counts usage per day", () => {
    recordExchange(db, exchange(1, Date.UTC(2026, 10, 21, 23, 0)));
    recordExchange(db, exchange(2, Date.UTC(2026, 10, 22, 1, 0), true));
    recordExchange(db, exchange(3, Date.UTC(2026, 10, 22, 2, 0)));
    recordExchange(db, {
      ...exchange(4, Date.UTC(2026, 10, 22, 3, 0)),
      promptTokens: 0,
      completionTokens: 0,
      cached: true,
    });
    expect(usageByDay(db)).toEqual([
      {
        day: "2026-11-21",
        asks: 1,
        abstained: 0,
        promptTokens: 10,
        completionTokens: 5,
        cacheHits: 0,
        answers: 1,
        latencyAvgMs: 12,
        latencyP95Ms: 12,
        helpful: 0,
        unhelpful: 0,
      },
      {
        day: "2026-11-22",
        asks: 3,
        abstained: 1,
        promptTokens: 20,
        completionTokens: 10,
        cacheHits: 1,
        answers: 3,
        latencyAvgMs: 12,
        latencyP95Ms: 12,
        helpful: 0,
        unhelpful: 0,
      },
    ]);
    expect(
      db.prepare("SELECT cached FROM messages WHERE role = 'assistant' ORDER BY id").pluck().all(),
    ).toEqual([0, 0, 0, 1]);
  });

  it("gives each day's exact latency 95th percentile, mean and feedback", () => {
    const day = Date.UTC(2026, 10, 22, 0, 0);
    const ids: number[] = [];
    // Latencies 1..40 ms on one day, shuffled: nearest rank 38 is the 95th percentile.
    const latencies = Array.from({ length: 40 }, (_, i) => ((i * 17) % 40) + 1);
    latencies.forEach((latencyMs, i) =>
      ids.push(recordExchange(db, { ...exchange(i, day + i * 1000), latencyMs })),
    );
    recordExchange(db, { ...exchange(99, Date.UTC(2026, 10, 23, 5, 0)), latencyMs: 3000 });
    rateAnswer(db, { conversationId: "cv_test1234", messageId: ids[0] as number, rating: 1 });
    rateAnswer(db, { conversationId: "cv_test1234", messageId: ids[1] as number, rating: 1 });
    rateAnswer(db, { conversationId: "cv_test1234", messageId: ids[2] as number, rating: -1 });
    const [first, second] = usageByDay(db);
    expect(first).toMatchObject({
      day: "2026-11-22",
      asks: 40,
      answers: 40,
      latencyP95Ms: 38,
      latencyAvgMs: 21,
      helpful: 2,
      unhelpful: 1,
    });
    expect(second).toMatchObject({ day: "2026-11-23", asks: 1, latencyP95Ms: 3000 });
    expect(usageByDay(db, 1).map((d) => d.day)).toEqual(["2026-11-23"]);
    expect(usageByDay(db, 0)).toEqual([]);
  });
});

describe("feedback", () => {
  it("rates an answer only within its own conversation", () => {
    const messageId = recordExchange(db, exchange(1, 1000));
    expect(rateAnswer(db, { conversationId: "cv_test1234", messageId, rating: 1, now: 5 })).toBe(
      true,
    );
    expect(
      db.prepare("SELECT feedback, feedback_at FROM messages WHERE id = ?").get(messageId),
    ).toEqual({ feedback: 1, feedback_at: 5 });
    expect(rateAnswer(db, { conversationId: "cv_other000", messageId, rating: -1 })).toBe(false);
    expect(
      rateAnswer(db, { conversationId: "cv_test1234", messageId: messageId - 1, rating: -1 }),
    ).toBe(false);
  });
});
