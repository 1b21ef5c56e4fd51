import { describe, expect, it } from "vitest";
import { splitBatchAnswer } from "./batch-parse.server.ts";

describe("splitBatchAnswer", () => {
  it.each([
    [
      "numbered paragraphs",
      "1. Every 40 minutes [1].\n\n2. Every 3 weeks [2].",
      ["Every 40 minutes [1].", "Every 3 weeks [2]."],
    ],
    ["1) with a preamble", "Here are your answers:\n1) A [1]\n2) B [2]", ["A [1]", "B [2]"]],
    ["bold numbers", "**1.** A [1]\n\n**2.** B [2]", ["A [1]", "B [2]"]],
    ["bold numbers, dot outside", "**1**. A [1]\n**2**. B", ["A [1]", "B"]],
    ["Question N:", "Question 1: A [1]\nQuestion 2: B [2]", ["A [1]", "B [2]"]],
    ["bold Question N:", "**Question 1:** A [1]\n\n**Question 2:** B", ["A [1]", "B"]],
    ["QN:", "Q1: A\nQ2: B", ["A", "B"]],
    ["Answer N -", "Answer 1 - A\nAnswer 2 - B", ["A", "B"]],
    ["headings", "### 1. A\n### 2. B", ["A", "B"]],
    ["(N)", "(1) A\n(2) B", ["A", "B"]],
    ["bullets", "- A [1]\n- B [2]", ["A [1]", "B [2]"]],
    ["bullets with nested ones", "* A [1]\n  - detail\n* B [2]", ["A [1]\n  - detail", "B [2]"]],
    ["paragraphs", "A para [1].\n\nB para [2].", ["A para [1].", "B para [2]."]],
    ["CRLF", "1. A\r\n2. B", ["A", "B"]],
  ])("splits %s", (_name, text, expected) => {
    expect(splitBatchAnswer(text, expected.length)).toEqual(expected);
  });

  it("keeps numbered steps inside an answer", () => {
    expect(splitBatchAnswer("1. To deploy:\n1. Build\n2. Push\n\n2. It costs $5.", 2)).toEqual([
      "To deploy:\n1. Build\n2. Push",
      "It costs $5.",
    ]);
    expect(
      splitBatchAnswer("1. Steps:\n\n   1. Build\n   2. Push\n\n   3. Ship\n\n2. It costs.", 2),
    ).toEqual(["Steps:\n\n   1. Build\n   2. Push\n\n   3. Ship", "It costs."]);
    expect(splitBatchAnswer("**1.** Steps:\n1. Build\n2. Push\n**2.** Free.", 2)).toEqual([
      "Steps:\n1. Build\n2. Push",
      "Free.",
    ]);
  });

  it("returns the whole reply for one question", () => {
    expect(splitBatchAnswer("  1. Build\n2. Push  ", 1)).toEqual(["1. Build\n2. Push"]);
  });

  it.each([
    ["too few answers", "1. A\n2. B", 3],
    ["too many answers", "1. A\n2. B\n3. C", 2],
    ["out of order", "2. B\n\n1. A", 2],
    ["a number that is not a marker", "1.5 litres is the volume.\n2. B", 2],
    ["one blob", "Everything is fine [1].", 2],
    ["an empty answer", "1.\n2. B", 2],
    ["a dangling bold marker", "**1.** **\n\n**2.** B", 2],
    ["an empty reply", "   ", 2],
    ["no questions", "1. A", 0],
    ["bullets of the wrong count", "- A\n- B\n- C", 2],
  ])("returns null for %s", (_name, text, count) => {
    expect(splitBatchAnswer(text, count)).toBeNull();
  });
});
