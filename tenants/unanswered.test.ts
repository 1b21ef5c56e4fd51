import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { recordExchange } from "./conversations.ts";
import { newTenantId } from "./id.ts";
import { openTenantDb, type TenantDb } from "./store.ts";
import { listUnanswered } from "./unanswered.ts";

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
