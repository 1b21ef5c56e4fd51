import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { rateAnswer, recordExchange } from "./conversations.ts";
import { newTenantId } from "./id.ts";
import { openTenantDb, type TenantDb } from "./store.ts";
import {
  containsPattern,
  getTranscript,
  listConversations,
  parseCitations,
} from "./transcripts.ts";

let dir: string;
let db: TenantDb;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-transcripts-"));
  db = openTenantDb(dir, newTenantId(), { model: "t", dimension: 4 }, { create: true });
});
afterEach(() => {
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const T0 = Date.UTC(2026, 11, 1, 10, 0);

function exchange(conversationId: string, question: string, at: number, citations: unknown = []) {
  return recordExchange(db, {
    conversationId,
    question,
    answer: `Answer to ${question} [1]`,
    citations,
    provider: "extractive:v1",
    promptTokens: 12,
    completionTokens: 7,
    latencyMs: 33,
    abstained: false,
    now: at,
  });
}

describe("listConversations", () => {
  it("pages newest first, with counts, the first question and the last activity", () => {
    for (let i = 0; i < 5; i++) exchange(`cv_list000${i}`, `question ${i}`, T0 + i * 1000);
    // A follow-up in an older conversation: counted there, its activity time moves on.
    const answer = exchange("cv_list0001", "follow-up", T0 + 10_000);
    rateAnswer(db, { conversationId: "cv_list0001", messageId: answer, rating: -1 });

    const first = listConversations(db, { limit: 2 });
    expect(first.conversations.map((c) => c.id)).toEqual(["cv_list0004", "cv_list0003"]);
    expect(first.next).toBe(first.conversations[1]?.seq);
    const second = listConversations(db, { limit: 2, before: first.next });
    expect(second.conversations.map((c) => c.id)).toEqual(["cv_list0002", "cv_list0001"]);
    expect(second.conversations[1]).toMatchObject({
      questions: 2,
      firstQuestion: "question 1",
      updatedAt: T0 + 10_000,
      helpful: 0,
      unhelpful: 1,
    });
    const last = listConversations(db, { limit: 2, before: second.next });
    expect(last.conversations.map((c) => c.id)).toEqual(["cv_list0000"]);
    expect(last.next).toBeNull();
  });

  it("pages through conversations started at the same moment without skipping any", () => {
    for (const id of ["cv_tieaaaa", "cv_tiebbbb", "cv_tiecccc"]) exchange(id, id, T0);
    const seen: string[] = [];
    let before: number | null = null;
    do {
      const page = listConversations(db, { limit: 1, before });
      seen.push(...page.conversations.map((c) => c.id));
      before = page.next;
    } while (before !== null);
    expect(seen).toEqual(["cv_tiecccc", "cv_tiebbbb", "cv_tieaaaa"]);
  });

  it("finds a text in questions or answers, literally", () => {
    exchange("cv_search01", "Do you ship to Norway?", T0);
    exchange("cv_search02", "What is 100% cotton?", T0 + 1);
    exchange("cv_search03", "Opening hours", T0 + 2);
    const ids = (search: string) =>
      listConversations(db, { limit: 10, search }).conversations.map((c) => c.id);
    expect(ids("norway")).toEqual(["cv_search01"]);
    expect(ids("100%")).toEqual(["cv_search02"]);
    expect(ids("%")).toEqual(["cv_search02"]);
    expect(ids("answer to opening")).toEqual(["cv_search03"]);
    expect(ids("  ")).toHaveLength(3);
    expect(ids("nothing like this")).toEqual([]);
  });

  it("escapes LIKE wildcards", () => {
    expect(containsPattern("a_b%c\\d")).toBe("%a\\_b\\%c\\\\d%");
  });
});

describe("getTranscript", () => {
  it("returns the messages in order with citations and feedback", () => {
    const citation = {
      n: 1,
      documentId: 3,
      title: "Shipping",
      url: "https://shop.example/shipping",
      fileName: null,
      headingPath: "Europe",
      snippet: "We ship to Norway in 3 days.",
      score: 0.8,
    };
    const id = exchange("cv_transcr1", "Do you ship to Norway?", T0, [citation]);
    rateAnswer(db, { conversationId: "cv_transcr1", messageId: id, rating: 1, now: T0 + 5 });
    const transcript = getTranscript(db, "cv_transcr1");
    expect(transcript?.messages.map((m) => [m.role, m.content])).toEqual([
      ["user", "Do you ship to Norway?"],
      ["assistant", "Answer to Do you ship to Norway? [1]"],
    ]);
    expect(transcript?.messages[1]).toMatchObject({
      citations: [
        {
          n: 1,
          title: "Shipping",
          url: "https://shop.example/shipping",
          snippet: "We ship to Norway in 3 days.",
          headingPath: "Europe",
        },
      ],
      feedback: 1,
      feedbackAt: T0 + 5,
      promptTokens: 12,
      latencyMs: 33,
      cached: false,
    });
    expect(transcript?.messages[0]?.citations).toEqual([]);
    expect(getTranscript(db, "cv_nosuchone")).toBeNull();
  });
});

describe("parseCitations", () => {
  it("keeps what it can read and drops unsafe links", () => {
    expect(parseCitations(null)).toEqual([]);
    expect(parseCitations("not json")).toEqual([]);
    expect(parseCitations('{"n":1}')).toEqual([]);
    expect(
      parseCitations(
        JSON.stringify([
          null,
          { fileName: "a.pdf", url: "javascript:alert(1)" },
          { n: 4, title: "T", url: "http://x.example/", snippet: "s", headingPath: "h" },
        ]),
      ),
    ).toEqual([
      { n: 2, title: "a.pdf", url: null, snippet: "", headingPath: "" },
      { n: 4, title: "T", url: "http://x.example/", snippet: "s", headingPath: "h" },
    ]);
  });
});
