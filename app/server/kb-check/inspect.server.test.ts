import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DEMO_TENANT_ID, type TenantId } from "#tenants/id.ts";
import {
  claimNextJob,
  enqueueJob,
  failJob,
  replaceDocument,
  type IndexedChunk,
} from "#tenants/knowledge-base.ts";
import { openTenantDb, type TenantDb } from "#tenants/store.ts";
import { FakeEmbedder } from "../../../tests/support/fake-embedder.ts";
import {
  characterStats,
  documentStats,
  inspectKnowledgeBase,
  overlapWords,
  wordsOf,
} from "./inspect.server.ts";

const embedder = new FakeEmbedder({ dimension: 8 });
let dir: string;
let db: TenantDb;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-kbcheck-"));
  db = openTenantDb(
    dir,
    DEMO_TENANT_ID as TenantId,
    { model: embedder.model, dimension: embedder.dimension },
    { create: true },
  );
});

afterEach(() => {
  if (db.open) db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Stores a document through the store's own write path, one chunk per text. */
function addDocument(title: string, texts: string[], contentHash = `hash-${title}`): number {
  const chunks: IndexedChunk[] = texts.map((text, ord) => ({
    ord,
    headingPath: title,
    text,
    tokenCount: wordsOf(text).length,
    embedding: embedder.vector(text),
  }));
  return replaceDocument(db, {
    sourceKey: `text:${title}`,
    sourceType: "text",
    title,
    contentHash,
    bytes: texts.join(" ").length,
    chunks,
  }).documentId;
}

/** Queues a job and fails it for good with `error`, as the worker does. */
function failedJob(title: string, error: string): number {
  const id = enqueueJob(db, {
    sourceType: "text",
    sourceKey: `text:${title}`,
    title,
    payload: new Uint8Array([1]),
    maxAttempts: 1,
    now: 1,
  });
  const claimed = claimNextJob(db, "worker", 60_000, 2);
  expect(claimed?.id).toBe(id);
  expect(failJob(db, id, "worker", error, {}, 3)).toBe("failed");
  return id;
}

const words = (n: number, seed = "word") =>
  Array.from({ length: n }, (_, i) => `${seed}${i}`).join(" ");

describe("measurements", () => {
  it("counts overlapping words of consecutive chunks once", () => {
    expect(overlapWords(["a", "b", "c", "d"], ["c", "d", "e"])).toBe(2);
    expect(overlapWords(["a", "b"], ["x", "y"])).toBe(0);
    addDocument("Overlap", ["one two three four five six", "five six seven eight"]);
    const [doc] = documentStats(db);
    expect(doc?.words).toBe(8);
  });

  it("measures letters, digits and garbled characters", () => {
    const clean = characterStats("Hello world 42");
    expect(clean).toMatchObject({ visible: 12, alphanumeric: 12, garbled: 0 });
    const garbled = characterStats("CafÃ© \uFFFD\u0007");
    expect(garbled.garbled).toBe(4);
    expect(garbled.examples).toEqual(["Ã©", "\uFFFD", "U+0007"]);
  });

  it("counts documents, chunks and words", () => {
    addDocument("Guide", [words(40, "a"), words(20, "b")]);
    addDocument("Other", [words(35, "c")]);
    const { counts } = inspectKnowledgeBase(db);
    expect(counts).toEqual({
      documents: 2,
      chunks: 3,
      words: 95,
      failedJobs: 0,
      pendingJobs: 0,
    });
  });
});

describe("findings", () => {
  const kinds = () => inspectKnowledgeBase(db).findings.map((f) => f.kind);

  it("reports an empty knowledge base", () => {
    const { findings } = inspectKnowledgeBase(db);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ kind: "no_documents", severity: "problem" });
    expect(findings[0]?.fix).toMatch(/add knowledge/i);
  });

  it("reports a document with no chunks as empty", () => {
    addDocument("Blank", []);
    addDocument("Fine", [words(50)]);
    const empty = inspectKnowledgeBase(db).findings.find((f) => f.kind === "empty");
    expect(empty?.summary).toBe("“Blank” is empty");
    expect(empty?.documents).toEqual([{ id: 1, title: "Blank" }]);
  });

  it("reports documents under 30 words as tiny, with the count", () => {
    addDocument("Short note", ["Closed on Sundays."]);
    addDocument("Long enough", [words(30)]);
    const tiny = inspectKnowledgeBase(db).findings.filter((f) => f.kind === "tiny");
    expect(tiny).toHaveLength(1);
    expect(tiny[0]?.detail).toMatch(/^3 words \(fewer than 30\)/);
    expect(tiny[0]?.fix).toMatch(/merge/i);
  });

  it("reports identical texts and says whether the content hash is the same too", () => {
    const text = words(60, "same");
    addDocument("Copy A", [text], "h1");
    addDocument("Copy B", [text], "h1");
    addDocument("Copy C", [text.toUpperCase()], "h2");
    addDocument("Different", [words(60, "other")]);
    const duplicates = inspectKnowledgeBase(db).findings.filter((f) => f.kind === "duplicate");
    expect(duplicates).toHaveLength(1);
    expect(duplicates[0]?.documents.map((d) => d.title)).toEqual(["Copy A", "Copy B", "Copy C"]);
    expect(duplicates[0]?.detail).toMatch(/identical text, 60 words each \(same words/);
    expect(kinds()).not.toContain("near_duplicate");
  });

  it("says 'and the same content hash' when every copy has it", () => {
    addDocument("One", [words(40, "x")], "same-hash");
    db.prepare("UPDATE documents SET source_key = 'moved' WHERE id = 1").run();
    addDocument("Two", [words(40, "x")], "same-hash");
    const duplicate = inspectKnowledgeBase(db).findings.find((f) => f.kind === "duplicate");
    expect(duplicate?.detail).toMatch(/and the same content hash\.$/);
  });

  it("reports near-duplicates by the share of shared five-word passages", () => {
    const base = words(100, "policy");
    addDocument("Returns policy", [base]);
    addDocument("Returns policy (old)", [`${words(90, "policy")} and some older wording here`]);
    addDocument("Unrelated", [words(100, "menu")]);
    const near = inspectKnowledgeBase(db).findings.filter((f) => f.kind === "near_duplicate");
    expect(near).toHaveLength(1);
    expect(near[0]?.summary).toBe("“Returns policy (old)” largely repeats “Returns policy”");
    // 86 of the old version's 91 shingles are in the new one.
    expect(near[0]?.detail).toMatch(/^94\.5% of the 5-word passages/);
  });

  it("does not call documents that share only a footer near-duplicates", () => {
    const footer = "Contact us at the shop on the high street any day";
    addDocument("Page one", [`${words(80, "alpha")} ${footer}`]);
    addDocument("Page two", [`${words(80, "beta")} ${footer}`]);
    expect(kinds()).not.toContain("near_duplicate");
  });

  it("reports text that is mostly symbols, and mis-decoded text", () => {
    addDocument("Scan", [`${"#$%& ".repeat(40)} page 1`]);
    addDocument("Latin-1", [`${"CafÃ© crÃ¨me brÃ»lÃ©e ".repeat(10)}`]);
    addDocument("Price list", [`Coffee 2.50 Tea 2.00 ${words(40)}`]);
    const unreadable = inspectKnowledgeBase(db).findings.filter((f) => f.kind === "unreadable");
    expect(unreadable.map((f) => f.documents[0]?.title)).toEqual(["Scan", "Latin-1"]);
    expect(unreadable[0]?.detail).toMatch(/^\d+(\.\d)?% of its visible characters are letters/);
    expect(unreadable[0]?.fix).toMatch(/mostly symbols/);
    expect(unreadable[1]?.detail).toMatch(/mis-decoded characters \(e\.g\. Ã© Ã¨ Ã»\)/);
    expect(unreadable[1]?.fix).toMatch(/UTF-8/);
  });

  it("reports failed jobs with their reason; an empty file as empty", () => {
    failedJob("scan.pdf", "The document contains no text.");
    failedJob("slides.pptx", "Unsupported file type .pptx; use .txt, .md, .html, .pdf, .docx");
    const findings = inspectKnowledgeBase(db).findings;
    const empty = findings.find((f) => f.kind === "empty");
    const failed = findings.find((f) => f.kind === "failed");
    expect(empty?.summary).toBe("“scan.pdf” has no text");
    expect(empty?.fix).toMatch(/OCR/);
    expect(failed?.detail).toMatch(/Unsupported file type \.pptx/);
    expect(failed?.detail).toMatch(/Nothing from it is in the knowledge base/);
    expect(failed?.documents[0]).toMatchObject({ id: null, title: "slides.pptx" });
    expect(inspectKnowledgeBase(db).counts.failedJobs).toBe(2);
  });

  it("says when a failed update left the previous version answering", () => {
    addDocument("Menu", [words(40)]);
    failedJob("Menu", "Could not fetch https://example.com/menu: HTTP 500");
    const failed = inspectKnowledgeBase(db).findings.find((f) => f.kind === "failed");
    expect(failed?.detail).toMatch(/previous version is still indexed/);
    expect(failed?.documents[0]?.id).toBe(1);
  });

  it("forgets a failure once the source is submitted again", () => {
    failedJob("Menu", "HTTP 500");
    expect(kinds()).toContain("failed");
    enqueueJob(db, {
      sourceType: "text",
      sourceKey: "text:Menu",
      title: "Menu",
      payload: new Uint8Array([1]),
      maxAttempts: 1,
      now: 10,
    });
    expect(kinds()).not.toContain("failed");
    expect(inspectKnowledgeBase(db).counts.pendingJobs).toBe(1);
    db.prepare("UPDATE ingest_jobs SET state = 'done' WHERE id = 2").run();
    addDocument("Menu", [words(40)]);
    expect(kinds()).not.toContain("failed");
  });
});
