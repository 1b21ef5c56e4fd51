import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { newTenantId } from "#tenants/id.ts";
import { replaceDocument } from "#tenants/knowledge-base.ts";
import { openTenantDb, type TenantDb } from "#tenants/store.ts";
import { toFtsQuery } from "./fts-query.server.ts";
import { keywordSearch } from "./keyword.server.ts";

const DIMENSION = 4;
let dir: string;
let db: TenantDb;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-keyword-"));
  db = openTenantDb(
    dir,
    newTenantId(),
    { model: "test:fake", dimension: DIMENSION },
    { create: true },
  );
});

afterEach(() => {
  if (db.open) db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Stores a document through the product's write path; returns its chunk ids in order. */
function addDocument(key: string, title: string, texts: string[]): number[] {
  const { documentId } = replaceDocument(db, {
    sourceKey: key,
    sourceType: "text",
    title,
    contentHash: texts.join("|"),
    bytes: 10,
    chunks: texts.map((text, ord) => ({
      ord,
      headingPath: "",
      text,
      tokenCount: text.split(" ").length,
      embedding: Float32Array.from([1, 0, 0, 0]),
    })),
  });
  return db
    .prepare("SELECT id FROM chunks WHERE document_id = ? ORDER BY ord")
    .pluck()
    .all(documentId) as number[];
}

const search = (text: string, limit = 10, documentWeight?: number) =>
  keywordSearch(db, toFtsQuery(text) as string, limit, { documentWeight });

const filler = (n: number) =>
  Array.from({ length: n }, (_, i) => `filler${i % 7} words about harbour schedules`).join(" ");

describe("keywordSearch", () => {
  it("ranks a chunk of the document that holds all the question's words first", () => {
    // Document A spreads the question's words over two chunks; document B repeats one word.
    const [a1, a2] = addDocument("a", "Seabird survey", [
      `Puffins nest on the northern cliffs. ${filler(2)}`,
      `Their colony declines when sand eels are scarce. ${filler(2)}`,
    ]);
    const [b1] = addDocument("b", "Cliff walks", [
      `Cliffs cliffs cliffs and more cliffs. ${filler(1)}`,
    ]);
    const question = "Do puffins on cliffs decline when sand eels are scarce?";

    const chunkOnly = search(question, 10, 0);
    const combined = search(question);
    expect(new Set(combined.map((hit) => hit.chunkId))).toEqual(new Set([a1, a2, b1]));
    expect(combined[0]?.score).toBeCloseTo(1, 5);
    // Document evidence lifts both chunks of A above B's keyword-stuffed chunk.
    const rank = (hits: { chunkId: number }[], id: number | undefined) =>
      hits.findIndex((hit) => hit.chunkId === id);
    expect(rank(combined, a1)).toBeLessThan(rank(combined, b1));
    expect(rank(combined, a2)).toBeLessThan(rank(combined, b1));
    for (const hit of combined) expect(hit.score).toBeGreaterThan(0);
    expect(chunkOnly[0]?.score).toBeCloseTo(1, 5);
  });

  it("returns a chunk of the document that holds every word of the question first", () => {
    // Single-chunk notes beat each chunk of the long document on their own...
    for (let i = 0; i < 4; i++) addDocument(`d${i}`, `Note ${i}`, [`ferry ferry timetable ${i}`]);
    // ...but as a whole it holds every word of the question.
    const long = addDocument("long", "Island travel", [
      `The ferry crosses twice a day. ${filler(6)}`,
      `Tickets for the timetable are sold at the harbour office. ${filler(6)}`,
      `Bicycles travel free on the island boat. ${filler(6)}`,
    ]);
    const question = "ferry timetable tickets bicycles island";
    const hits = search(question, 2);
    expect(hits).toHaveLength(2);
    expect(long).toContain(hits[0]?.chunkId);
  });

  it("gives a chunk whose document is outside the document top its own score only", () => {
    const [only] = addDocument("x", "Opening hours", ["The museum opens at nine"]);
    for (let i = 0; i < 4; i++) {
      addDocument(`m${i}`, `Museum opens ${i}`, [`museum opens nine museum ${i}`, "nine"]);
    }
    // limit 1: the best three documents (CHUNK_DEPTH) are the four museum guides' first three.
    const deep = search("museum opens nine", 20);
    const shallow = search("museum opens nine", 1);
    expect(shallow).toHaveLength(1);
    const own = deep.find((hit) => hit.chunkId === only)?.score ?? 0;
    expect(own).toBeGreaterThan(0);
    expect(own).toBeLessThan(1);
  });

  it("returns nothing for a zero limit or a question no chunk matches", () => {
    addDocument("a", "Seabird survey", ["Puffins nest on the cliffs"]);
    expect(search("puffins", 0)).toEqual([]);
    expect(search("volcano")).toEqual([]);
  });

  it("searches the body alone with a column filter and body-only weights", () => {
    const [titled] = addDocument("t", "Volcano tours", ["Boats leave hourly"]);
    const [bodied] = addDocument("b", "Boats", ["Volcano tours start at the pier"]);
    const hits = keywordSearch(db, `{body} : (${toFtsQuery("volcano tours") as string})`, 10, {
      columns: [0, 0, 1],
    });
    expect(hits.map((hit) => hit.chunkId)).toEqual([bodied]);
    expect(hits.map((hit) => hit.chunkId)).not.toContain(titled);
  });
});
