// Runs the real eval end to end on a five-document set: the product's runtime, ingestion
// queue, embedded encoder, retrieval and extractive answerer, in a temporary data folder.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { formatReport } from "./format.ts";
import { runEval } from "./run.ts";

const fixtures = path.resolve("tests/eval-fixtures");

describe("runEval", () => {
  it("ingests a BEIR folder, scores retrieval, answers and abstentions, and cleans up", async () => {
    const before = new Set(fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith("bitb-eval-")));
    const lines: string[] = [];
    const report = await runEval({
      dataset: path.join(fixtures, "shop"),
      split: "test",
      answers: true,
      outOfScope: path.join(fixtures, "space"),
      env: {},
      progress: (line) => lines.push(line),
    });
    expect(report.dataset).toBe("shop");
    expect(report.ingestion).toMatchObject({ documents: 5, failedJobs: 0 });
    expect(report.ingestion.chunks).toBeGreaterThanOrEqual(5);
    expect(report.ingestion.documentsPerSecond).toBeGreaterThan(0);
    expect(report.retrieval.queries).toBe(4);
    expect(report.retrieval.concurrency).toBe(os.availableParallelism());
    // Every question names its document's words: the product must rank it first.
    expect(report.retrieval.ndcgAt10).toBe(1);
    expect(report.retrieval.mrrAt10).toBe(1);
    expect(report.retrieval.recallAt100).toBe(1);
    expect(report.retrieval.latency.p95Ms).toBeGreaterThanOrEqual(report.retrieval.latency.p50Ms);
    expect(report.answers).toMatchObject({ questions: 3, answered: 1, citesGoldDocument: 1 });
    expect(report.answers?.containsGold).toBe(1);
    expect(report.outOfScope).toEqual({ folder: "space", questions: 2, abstained: 1 });
    expect(lines.some((line) => line.includes("ingesting 5 documents"))).toBe(true);

    const text = formatReport(report);
    expect(text).toMatch(/nDCG@10 1\.000/);
    expect(text).toMatch(/abstained on 100\.0%/);
    const after = fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith("bitb-eval-"));
    expect(after.filter((f) => !before.has(f))).toEqual([]);
  }, 120_000);

  it("keeps the loaded tenant in --index and reuses it on the next run of the same set", async () => {
    const indexDir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-eval-index-"));
    try {
      const options = {
        dataset: path.join(fixtures, "shop"),
        split: "test",
        env: {},
        indexDir,
        progress: () => undefined,
      };
      const first = await runEval(options);
      expect(first.ingestion.reused).toBeUndefined();
      expect(first.ingestion.workers).toBeGreaterThanOrEqual(1);
      // Five titles are too few to calibrate on: the default weights stay.
      expect(first.calibration).toMatchObject({ vectorWeight: null, keywordWeight: 0.55 });
      const lines: string[] = [];
      const second = await runEval({ ...options, progress: (line) => lines.push(line) });
      expect(second.ingestion).toEqual({ ...first.ingestion, reused: true });
      expect(second.retrieval.ndcgAt10).toBe(first.retrieval.ndcgAt10);
      expect(lines.some((line) => line.includes("reusing the tenant"))).toBe(true);
      expect(formatReport(second)).toMatch(/reused from an earlier run/);
    } finally {
      fs.rmSync(indexDir, { recursive: true, force: true });
    }
  }, 120_000);
});
