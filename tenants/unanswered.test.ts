import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { recordExchange } from "./conversations.ts";
import { newTenantId } from "./id.ts";
import { openTenantDb, type TenantDb } from "./store.ts";
import { contentWords, groupUnanswered, listUnanswered } from "./unanswered.ts";

let dir: string;
let db: TenantDb;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-unanswered-"));
  db = openTenantDb(dir, newTenantId(), { model: "t", dimension: 4 }, { create: true });
});
afterEach(() => {
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function ask(question: string, abstained: boolean, now: number, conversationId = "cv_a") {
  return recordExchange(db, {
    conversationId,
    question,
    answer: abstained ? "I don't know." : "Yes.",
    citations: [],
    provider: "extractive:extractive-v1",
    promptTokens: 0,
    completionTokens: 0,
    latencyMs: 5,
    abstained,
    now,
  });
}

describe("unanswered questions", () => {
  it("records only abstentions, identical questions counted together", () => {
    ask("Do you ship to Norway?", true, 1000);
    ask("Where is the museum?", false, 1500);
    ask("do you ship to  norway", true, 2000, "cv_b");
    ask("Can I bring my dog?", true, 3000);

    expect(listUnanswered(db, { limit: 10 })).toEqual([
      {
        question: "do you ship to  norway",
        count: 2,
        firstAskedAt: 1000,
        lastAskedAt: 2000,
        conversationId: "cv_b",
      },
      {
        question: "Can I bring my dog?",
        count: 1,
        firstAskedAt: 3000,
        lastAskedAt: 3000,
        conversationId: "cv_a",
      },
    ]);
  });

  it("filters by time and limits the list", () => {
    ask("Old question?", true, 1000);
    ask("New question?", true, 5000);
    expect(listUnanswered(db, { limit: 10, since: 2000 }).map((q) => q.question)).toEqual([
      "New question?",
    ]);
    expect(listUnanswered(db, { limit: 1 })).toHaveLength(1);
  });
});

describe("content gaps", () => {
  const item = (question: string, count: number, lastAskedAt = 1) => ({
    question,
    count,
    firstAskedAt: 0,
    lastAskedAt,
    conversationId: null,
  });

  it("reads a question's content words, lightly stemmed", () => {
    expect([...contentWords("Do you ship to Canada?")]).toEqual(["ship", "canada"]);
    expect([...contentWords("Shipping to CANADA")]).toEqual(["ship", "canada"]);
    expect([...contentWords("Is the café open?")]).toEqual(["cafe", "open"]);
    expect([...contentWords("What is it?")]).toEqual([]);
  });

  it("groups wordings of one question, most asked first, and keeps others apart", () => {
    const gaps = groupUnanswered([
      item("Do you ship to Spain?", 1, 5),
      item("Do you ship to Canada?", 3, 2),
      item("Shipping to Canada?", 2, 9),
      item("Are there gift cards?", 4, 1),
      item("Gift cards available?", 1, 3),
      item("What is it?", 1, 4),
    ]);
    expect(gaps.map((g) => [g.question, g.count])).toEqual([
      ["Do you ship to Canada?", 5],
      ["Are there gift cards?", 5],
      ["Do you ship to Spain?", 1],
      ["What is it?", 1],
    ]);
    expect(gaps[0]?.variants.map((v) => v.question)).toEqual([
      "Do you ship to Canada?",
      "Shipping to Canada?",
    ]);
    expect(gaps[0]?.lastAskedAt).toBe(9);
    expect(groupUnanswered([])).toEqual([]);
  });
});
