import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_TENANT_ID, type TenantId } from "#tenants/id.ts";
import { openTenantDb, type TenantDb } from "#tenants/store.ts";
import { MAX_FTS_TERMS, toFtsQuery } from "./fts-query.server.ts";

let dir: string;
let db: TenantDb;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-fts-"));
  db = openTenantDb(
    dir,
    DEMO_TENANT_ID as TenantId,
    { model: "test", dimension: 4 },
    {
      create: true,
    },
  );
  const put = db.prepare(
    "INSERT INTO chunks_fts (rowid, title, heading, body) VALUES (?, ?, ?, ?)",
  );
  put.run(1, "Refund policy", "Returns", "Refunds are paid within 14 days of the return.");
  put.run(2, "Shipping", "Europe", "Parcels to Zürich and Malmö take 3 days.");
  put.run(3, "NEAR field", "Syntax", 'Quotes " and stars * are plain text here: title:x');
  put.run(4, "日本語", "東京", "東京 は 日本 の 首都 です");
});

afterAll(() => {
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Runs the expression exactly as retrieval does; throws on an FTS5 syntax error. */
function search(userText: string): number[] {
  const expression = toFtsQuery(userText);
  if (expression === null) return [];
  return (
    db
      .prepare("SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY rank")
      .all(expression) as { rowid: number }[]
  ).map((row) => row.rowid);
}

describe("toFtsQuery", () => {
  it("quotes lowercased content words and joins them with OR", () => {
    expect(toFtsQuery("What is the Refund policy?")).toBe('"refund" OR "policy"');
  });

  it("drops duplicates and contraction debris", () => {
    expect(toFtsQuery("refund REFUND don't refund")).toBe('"refund" OR "don"');
  });

  it("keeps stop words when the question has nothing else", () => {
    expect(toFtsQuery("Who are you?")).toBe('"who" OR "are" OR "you"');
  });

  it("returns null when no word remains", () => {
    expect(toFtsQuery("")).toBeNull();
    expect(toFtsQuery("   ")).toBeNull();
    expect(toFtsQuery('?!* "" () : ^ -')).toBeNull();
  });

  it("caps the number of terms", () => {
    const words = Array.from({ length: 100 }, (_, i) => `word${i}`).join(" ");
    expect(toFtsQuery(words)?.split(" OR ")).toHaveLength(MAX_FTS_TERMS);
  });

  it.each([
    ['"unbalanced quote'],
    ['refund" OR "x'],
    ["NEAR(refund policy, 2)"],
    ["refund*"],
    ["title:refund"],
    ["body : refund"],
    ["^refund"],
    ["refund -policy"],
    ["refund AND policy"],
    ["refund NOT"],
    ["OR"],
    ["(refund"],
    ["refund)) OR ((("],
    ["{title heading}: refund"],
    ["refund + policy"],
    ["'; DROP TABLE chunks; --"],
    ["\u0000refund\u0000"],
    ["émoji 🎉 refund"],
  ])("treats %j as plain words", (input) => {
    expect(() => search(input)).not.toThrow();
  });

  it("finds the chunk whose words the user typed, syntax characters and all", () => {
    expect(search('"Refund*" policy:')).toEqual([1]);
    expect(search("NEAR(quotes stars)")[0]).toBe(3);
    expect(search("title:x")).toContain(3);
  });

  it("matches accented and non-Latin words", () => {
    expect(search("zurich")).toEqual([2]);
    expect(search("Malmö")).toEqual([2]);
    expect(search("東京")).toEqual([4]);
  });

  it("never produces an FTS5 syntax error on random text", () => {
    // A small deterministic fuzzer over the characters FTS5 treats as syntax.
    const alphabet = [
      '"',
      "'",
      "*",
      ":",
      "^",
      "-",
      "+",
      "(",
      ")",
      "{",
      "}",
      " ",
      "a",
      "OR",
      "AND",
      "NEAR",
      "é",
      "7",
      "\n",
    ];
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let round = 0; round < 500; round++) {
      const length = Math.floor(random() * 12);
      const text = Array.from(
        { length },
        () => alphabet[Math.floor(random() * alphabet.length)],
      ).join("");
      expect(() => search(text), JSON.stringify(text)).not.toThrow();
    }
  });
});
