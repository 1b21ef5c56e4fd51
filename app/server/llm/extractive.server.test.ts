import { describe, expect, it } from "vitest";
import {
  composeExtractiveAnswer,
  contentTerms,
  createExtractiveAnswerer,
  estimateTokens,
  EXTRACTIVE_NO_ANSWER,
  isAbstention,
  stem,
} from "./extractive.server.ts";
import { NO_ANSWER } from "./prompt.server.ts";
import type { AnswerChunk, AnswerRequest, SourcePassage } from "./provider.server.ts";

const sources: SourcePassage[] = [
  {
    n: 1,
    title: "Refund policy",
    headingPath: "Returns",
    text:
      "# Refund policy\n" +
      "We want you to be happy with every order. Refunds are paid to the original card within 14 days of the return. " +
      "Items must be unused and in their original packaging.",
    score: 0.032,
  },
  {
    n: 2,
    title: "Shipping",
    headingPath: "Europe",
    text:
      "Parcels to Europe are shipped with DHL. Shipping takes 3 to 5 business days.\n" +
      "- Free shipping on orders over 50 euros.",
    score: 0.03,
  },
  {
    n: 3,
    title: "Billing",
    headingPath: "Invoices",
    text: "Every invoice lists the refunds paid to your card within the billing period.",
    score: 0.016,
  },
];

async function collect(stream: AsyncIterable<AnswerChunk>) {
  let text = "";
  const tokens: string[] = [];
  let usage: Extract<AnswerChunk, { type: "usage" }>["usage"] | null = null;
  for await (const chunk of stream) {
    if (chunk.type === "token") {
      tokens.push(chunk.text);
      text += chunk.text;
    } else if (chunk.type === "usage") {
      usage = chunk.usage;
    }
  }
  return { text, tokens, usage };
}

const ask = (question: string, extra: Partial<AnswerRequest> = {}): AnswerRequest => ({
  question,
  history: [],
  sources,
  ...extra,
});

describe("stem and contentTerms", () => {
  it("brings inflections of a word together", () => {
    expect(stem("refunds")).toBe(stem("refund"));
    expect(stem("refunded")).toBe(stem("refund"));
    expect(stem("shipping")).toBe(stem("shipped"));
    expect(stem("ships")).toBe(stem("ship"));
    expect(stem("pricing")).toBe(stem("prices"));
    expect(stem("policies")).toBe(stem("policy"));
    expect(stem("boxes")).toBe("box");
    expect(stem("addresses")).toBe(stem("address"));
    expect(stem("status")).toBe("status");
    expect(stem("day")).toBe("day");
  });

  it("keeps topic words and drops question words", () => {
    expect([...contentTerms("How do I get a Refund for my order?")]).toEqual([
      stem("refund"),
      stem("order"),
    ]);
    expect(contentTerms("What is this?").size).toBe(0);
  });
});

describe("extractive answerer", () => {
  it("answers with the best sentence and cites its source", async () => {
    const answerer = createExtractiveAnswerer();
    expect(answerer).toMatchObject({ name: "extractive", model: "extractive-v1" });
    const { text, tokens, usage } = await collect(
      answerer.stream(ask("How long does it take to get my refund?")),
    );
    expect(text).toContain(
      "Refunds are paid to the original card within 14 days of the return [1].",
    );
    expect(text).not.toContain("DHL");
    expect(isAbstention(text)).toBe(false);
    // Streamed a few words at a time, and the pieces join into the answer exactly.
    expect(tokens.length).toBeGreaterThan(3);
    for (const token of tokens) expect(token.trim().split(/\s+/).length).toBeLessThanOrEqual(3);
    expect(usage).toEqual({
      promptTokens: expect.any(Number),
      completionTokens: estimateTokens(text),
      estimated: true,
    });
    expect(usage!.promptTokens).toBeGreaterThan(usage!.completionTokens);
  });

  it("quotes up to three sentences in source order, each with its citation", () => {
    const answer = composeExtractiveAnswer(
      ask("How many days does shipping to Europe take, and is shipping free?"),
    );
    const sentences = answer.split(/(?<=\.)\s+/);
    expect(sentences.length).toBeGreaterThanOrEqual(2);
    expect(sentences.length).toBeLessThanOrEqual(3);
    for (const sentence of sentences) expect(sentence).toMatch(/\[2\]\.$/);
    expect(answer.indexOf("Shipping takes")).toBeLessThan(answer.indexOf("Free shipping"));
  });

  it("says a fact found in two sources once", () => {
    const duplicated = [sources[0]!, { ...sources[0]!, n: 2, score: 0.01 }];
    const answer = composeExtractiveAnswer({ question: "refund card days", sources: duplicated });
    expect(answer.match(/Refunds are paid/g)).toHaveLength(1);
  });

  it("never answers with a question found in the sources", () => {
    const faq: SourcePassage = {
      n: 1,
      title: "FAQ",
      headingPath: "FAQ",
      text: "How do I deploy on Fly? Run fly deploy from the repository to deploy on Fly.",
      score: 0.03,
    };
    const answer = composeExtractiveAnswer({ question: "How do I deploy on Fly?", sources: [faq] });
    expect(answer).toBe("Run fly deploy from the repository to deploy on Fly [1].");
  });

  it("cites a sentence without closing punctuation at its end", () => {
    const answer = composeExtractiveAnswer({
      question: "Is shipping free?",
      sources: [{ ...sources[1]!, n: 4, text: "Free shipping on orders over 50 euros" }],
    });
    expect(answer).toBe("Free shipping on orders over 50 euros [4].");
  });

  it("abstains on a question the sources do not cover", async () => {
    for (const question of [
      "What is the capital of France?",
      "Who won the football world cup in 1998?",
      "How do I bake a chocolate cake?",
      "Hello, what is this?",
    ]) {
      const { text, usage } = await collect(createExtractiveAnswerer().stream(ask(question)));
      expect(text, question).toBe(EXTRACTIVE_NO_ANSWER);
      expect(isAbstention(text)).toBe(true);
      expect(usage?.estimated).toBe(true);
    }
  });

  it("abstains when one common word is all a question shares with the sources", () => {
    // "card" appears in the sources, but "gift" and "balance" carry the question.
    expect(composeExtractiveAnswer(ask("What is the balance of my gift card?"))).toBe(
      EXTRACTIVE_NO_ANSWER,
    );
  });

  it("abstains without sources, and ignores sources below the score threshold", () => {
    expect(composeExtractiveAnswer({ question: "refund days", sources: [] })).toBe(
      EXTRACTIVE_NO_ANSWER,
    );
    expect(composeExtractiveAnswer(ask("refund days"), { minSourceScore: 0.1 })).toBe(
      EXTRACTIVE_NO_ANSWER,
    );
    expect(
      composeExtractiveAnswer({
        question: "refund days",
        // Only a heading: no sentence to quote.
        sources: [{ ...sources[0]!, text: "## Refund days" }],
      }),
    ).toBe(EXTRACTIVE_NO_ANSWER);
  });

  it("cuts a runaway sentence", () => {
    const table = Array.from({ length: 120 }, (_, i) => `refund${i % 3 === 0 ? "" : i}`).join(" ");
    const answer = composeExtractiveAnswer({
      question: "refund",
      sources: [{ n: 1, title: "Table", headingPath: "", text: table, score: 1 }],
    });
    expect(answer.split(" ").length).toBeLessThanOrEqual(62);
    expect(answer).toMatch(/… \[1\]$/);
  });

  it("stops when the ask is aborted", async () => {
    const controller = new AbortController();
    const stream = createExtractiveAnswerer({ wordsPerChunk: 1 }).stream(
      ask("How long does it take to get my refund?", { signal: controller.signal }),
    );
    const received: string[] = [];
    await expect(
      (async () => {
        for await (const chunk of stream) {
          if (chunk.type === "token") received.push(chunk.text);
          if (received.length === 2) controller.abort();
        }
      })(),
    ).rejects.toThrow();
    expect(received).toHaveLength(2);
  });
});

describe("isAbstention", () => {
  it("recognises both no-answer sentences, with typographic apostrophes too", () => {
    expect(isAbstention(NO_ANSWER)).toBe(true);
    expect(isAbstention(EXTRACTIVE_NO_ANSWER)).toBe(true);
    expect(isAbstention("Sorry — I don\u2019t know based on the knowledge  base.")).toBe(true);
  });

  it("does not flag answers, including partial ones that cite a source", () => {
    expect(isAbstention("Refunds take 14 days [1].")).toBe(false);
    expect(
      isAbstention(
        "Refunds take 14 days [1]. I don't know based on the knowledge base about gift cards.",
      ),
    ).toBe(false);
    expect(isAbstention("")).toBe(false);
  });
});

describe("coverage scaled by the encoder's similarity", () => {
  const passage = (similarity: number | undefined): SourcePassage[] => [
    {
      n: 1,
      title: "Season review",
      headingPath: "",
      text: "Defensive end Kony Ealy had 5 sacks in just 9 starts for the Panthers this season.",
      score: 1,
      similarity,
    },
  ];
  // Shares only "sacks" and "panthers" with the passage among six IDF-weighted terms.
  const question = "Which defender recorded five sacks across nine games for Carolina's Panthers?";

  it("answers a loosely worded question when the encoder says the passage is about it", () => {
    expect(composeExtractiveAnswer({ question, sources: passage(0.7) })).toContain("Kony Ealy");
  });

  it("abstains on the same overlap when the encoder says the knowledge base is about something else", () => {
    expect(composeExtractiveAnswer({ question, sources: passage(0.1) })).toBe(EXTRACTIVE_NO_ANSWER);
  });

  it("falls back to the fixed minimum coverage when no similarity is known", () => {
    expect(
      composeExtractiveAnswer({ question, sources: passage(undefined) }, { minCoverage: 0.95 }),
    ).toBe(EXTRACTIVE_NO_ANSWER);
  });

  it("reads number words as digits", () => {
    expect(contentTerms("five sacks in 9 games")).toEqual(
      new Set(["5", "sack", "9", stem("games")]),
    );
  });
});
