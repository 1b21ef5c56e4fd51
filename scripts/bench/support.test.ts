// The benchmarks' own arithmetic and inputs: wrong percentiles or a misread corpus would make
// every printed figure wrong without anything failing.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { cpuMsOf, fdsOf, percentile, questionsOf, readCorpus, rssOf } from "./support.ts";

describe("percentile", () => {
  it("takes the nearest rank", () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 95)).toBe(95);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile(values, 100)).toBe(100);
    expect(percentile([7], 95)).toBe(7);
    expect(percentile([], 95)).toBeNaN();
  });
});

describe("readCorpus and questionsOf", () => {
  it("reads JSON Lines help-centre entries and Markdown folders", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-bench-support-"));
    try {
      const jsonl = path.join(dir, "faq.jsonl");
      fs.writeFileSync(
        jsonl,
        [
          JSON.stringify({ title: "How do I reset my password?", text: "Use the link." }),
          "",
          JSON.stringify({ title: "Empty", text: "  " }),
          JSON.stringify({ text: "No title here. Second sentence." }),
        ].join("\n"),
      );
      fs.mkdirSync(path.join(dir, "docs"));
      fs.writeFileSync(path.join(dir, "docs", "deploy.md"), "# Deploying\n\nRun it.");
      fs.writeFileSync(path.join(dir, "docs", "image.png"), "not text");

      const documents = readCorpus([jsonl, path.join(dir, "docs")], dir);
      expect(documents).toEqual([
        { title: "How do I reset my password?", text: "Use the link." },
        { title: "Untitled", text: "No title here. Second sentence." },
        { title: "deploy.md", text: "# Deploying\n\nRun it." },
      ]);
      expect(questionsOf(documents, 4)).toEqual([
        "How do I reset my password?",
        "What about Untitled?",
        "What about Deploying?",
        "Tell me: Use the link.",
      ]);
      fs.writeFileSync(path.join(dir, "empty.jsonl"), "");
      expect(() => readCorpus([path.join(dir, "empty.jsonl")], dir)).toThrow(/no documents/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("defaults to the repository's README and docs", () => {
    const root = path.resolve(import.meta.dirname, "../..");
    const documents = readCorpus([], root);
    expect(documents.some((d) => d.title === "README.md")).toBe(true);
    expect(documents.length).toBeGreaterThan(5);
  });
});

describe("process readings", () => {
  it("reads memory, descriptors and CPU time of a live process", () => {
    expect(rssOf(process.pid)).toBeGreaterThan(1024 * 1024);
    expect(fdsOf(process.pid)).toBeGreaterThan(2);
    expect(cpuMsOf(process.pid)).toBeGreaterThan(0);
    expect(rssOf(-1)).toBeNaN();
    expect(fdsOf(-1)).toBeNaN();
    expect(cpuMsOf(-1)).toBeNaN();
  });
});
