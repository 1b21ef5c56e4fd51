import { describe, expect, it } from "vitest";
import {
  containsGoldAnswer,
  documentRanking,
  mean,
  mrrAt,
  ndcgAt,
  normaliseAnswer,
  percentile,
  recallAt,
} from "./metrics.ts";

const judged = (entries: Record<string, number>) => new Map(Object.entries(entries));

describe("ndcgAt", () => {
  it("is 1 for the ideal ranking and 0 when nothing relevant is found", () => {
    expect(ndcgAt(["a", "b", "x"], judged({ a: 1, b: 1 }), 10)).toBe(1);
    expect(ndcgAt(["x", "y"], judged({ a: 1 }), 10)).toBe(0);
    expect(ndcgAt(["a"], judged({}), 10)).toBe(0);
  });
  it("discounts by log2 of the rank, as pytrec_eval does", () => {
    // One relevant document at rank 2: 1/log2(3).
    expect(ndcgAt(["x", "a"], judged({ a: 1 }), 10)).toBeCloseTo(1 / Math.log2(3), 10);
    // Graded gains are used as they are: ideal = 2 + 1/log2(3).
    const value = ndcgAt(["b", "a"], judged({ a: 2, b: 1 }), 10);
    expect(value).toBeCloseTo((1 + 2 / Math.log2(3)) / (2 + 1 / Math.log2(3)), 10);
  });
  it("ignores documents beyond k and judged-irrelevant ones", () => {
    expect(ndcgAt(["x", "a"], judged({ a: 1 }), 1)).toBe(0);
    expect(ndcgAt(["z", "a"], judged({ a: 1, z: 0 }), 10)).toBeCloseTo(1 / Math.log2(3), 10);
  });
});

describe("recallAt and mrrAt", () => {
  it("counts the share of relevant documents found in the first k", () => {
    expect(recallAt(["a", "x", "b"], judged({ a: 1, b: 1, c: 1 }), 2)).toBeCloseTo(1 / 3);
    expect(recallAt(["a", "x", "b"], judged({ a: 1, b: 1, c: 1 }), 3)).toBeCloseTo(2 / 3);
    expect(recallAt(["a"], judged({ a: 0 }), 10)).toBe(0);
  });
  it("takes the reciprocal rank of the first relevant document", () => {
    expect(mrrAt(["x", "y", "a", "b"], judged({ a: 1, b: 1 }), 10)).toBeCloseTo(1 / 3);
    expect(mrrAt(["x", "y", "a"], judged({ a: 1 }), 2)).toBe(0);
  });
});

describe("helpers", () => {
  it("ranks a document by its best chunk", () => {
    expect(documentRanking(["d2", "d1", "d2", "d3", "d1"])).toEqual(["d2", "d1", "d3"]);
  });
  it("computes nearest-rank percentiles and means", () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 95)).toBe(95);
    expect(percentile([], 50)).toBe(0);
    expect(percentile([7], 95)).toBe(7);
    expect(mean([1, 2, 3])).toBe(2);
    expect(mean([])).toBe(0);
  });
  it("normalises answers like SQuAD and matches whole words only", () => {
    expect(normaliseAnswer("The Panthers' defense!")).toBe("panthers defense");
    expect(containsGoldAnswer("They gave up 308 points [1].", ["308"])).toBe(true);
    expect(containsGoldAnswer("They gave up 3080 points.", ["308"])).toBe(false);
    expect(containsGoldAnswer("Paid within 14 days [2].", ["an answer", "14 Days"])).toBe(true);
    expect(containsGoldAnswer("anything", [""])).toBe(false);
  });
});
