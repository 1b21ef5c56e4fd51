import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { EvalSetError, loadBeirSet, loadQa, loadQuestions, readQrels } from "./beir.ts";

const fixtures = path.resolve("tests/eval-fixtures");
let scratch: string | undefined;

function folder(files: Record<string, string>): string {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-beir-"));
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(scratch, name)), { recursive: true });
    fs.writeFileSync(path.join(scratch, name), text);
  }
  return scratch;
}

afterEach(() => {
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  scratch = undefined;
});

describe("loadBeirSet", () => {
  it("reads the corpus, the queries and the split's judgements", () => {
    const set = loadBeirSet(path.join(fixtures, "shop"), "test");
    expect(set.name).toBe("shop");
    expect(set.corpus).toHaveLength(5);
    expect(set.corpus[0]).toEqual(
      expect.objectContaining({ id: "refunds", title: "Refund policy" }),
    );
    expect(set.queries.get("q2")?.text).toMatch(/France/);
    expect([...set.qrels.keys()]).toEqual(["q1", "q2", "q3", "q4"]);
    expect(set.qrels.get("q3")?.get("warranty")).toBe(1);
  });
  it("names the file and line of a malformed row", () => {
    const dir = folder({
      "corpus.jsonl": '{"_id": "a", "text": "x"}\n{"_id": "b"}\n',
      "queries.jsonl": "",
      "qrels/dev.tsv": "",
    });
    expect(() => loadBeirSet(dir, "dev")).toThrow(/corpus\.jsonl:2/);
  });
  it("rejects a missing split, bad JSON and judgements of unknown queries", () => {
    const dir = folder({
      "corpus.jsonl": '{"_id": 1, "title": "T", "text": "x"}\n',
      "queries.jsonl": '{"_id": "q", "text": "x"}\n',
      "qrels/dev.tsv": "query-id\tcorpus-id\tscore\nzz\t1\t1\n",
      "qrels/bad.tsv": "q\t1\t1\nq\t2\tyes\n",
      "qa.jsonl": "not json\n",
    });
    expect(() => loadBeirSet(dir, "test")).toThrow(EvalSetError);
    expect(() => loadBeirSet(dir, "dev")).toThrow(/zz/);
    expect(() => readQrels(path.join(dir, "qrels/bad.tsv"))).toThrow(/yes/);
    expect(() => loadQa(dir)).toThrow(/qa\.jsonl:1 is not JSON/);
  });
});

describe("questions", () => {
  it("reads gold answers with one or several gold documents", () => {
    const qa = loadQa(path.join(fixtures, "shop"));
    expect(qa[0]).toEqual({
      id: "a1",
      question: "Within how many days are refunds paid?",
      answers: ["14 days"],
      goldDocumentIds: ["refunds"],
    });
    expect(qa[2]?.goldDocumentIds).toEqual(["stores"]);
  });
  it("falls back to queries.jsonl when a folder has no qa.jsonl", () => {
    expect(loadQuestions(path.join(fixtures, "space"))).toHaveLength(2);
    expect(loadQuestions(path.join(fixtures, "shop"))).toHaveLength(3);
  });
});
