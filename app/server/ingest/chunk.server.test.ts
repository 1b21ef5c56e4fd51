import fs from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { fixtureFacts } from "../../../scripts/make-fixtures.ts";
import { chunkDocument, countTokens, type Chunk } from "./chunk.server.ts";
import { parseDocument, type Block, type ParsedDocument } from "./parse.server.ts";

const fixtureDir = fileURLToPath(new URL("../../../tests/fixtures/", import.meta.url));

const doc = (blocks: Array<Partial<Block> & { text: string }>): ParsedDocument => ({
  title: "T",
  blocks: blocks.map((block) => ({ kind: "paragraph", headingPath: [], ...block })),
});

/** Numbered sentences of `words` words each, easy to trace through chunks. */
const sentences = (count: number, words = 8, tag = "s") =>
  Array.from(
    { length: count },
    (_, i) => `${tag.toUpperCase()}${i} ${"word ".repeat(words - 2)}end.`,
  );

describe("countTokens", () => {
  it("counts short words and punctuation as one token each", () => {
    expect(countTokens("")).toBe(0);
    expect(countTokens("   \n")).toBe(0);
    expect(countTokens("The tower opens at 9 am.")).toBe(7);
    expect(countTokens("a-b")).toBe(3);
  });

  it("charges long words per six characters and CJK per character", () => {
    expect(countTokens("internationalization")).toBe(4);
    expect(countTokens("東京タワー")).toBe(5);
    expect(countTokens("abc東京")).toBe(3);
  });

  it("is additive over whitespace", () => {
    const a = "Opening hours: 9 am";
    const b = "to 5 pm, every day.";
    expect(countTokens(`${a}\n\n${b}`)).toBe(countTokens(a) + countTokens(b));
  });
});

describe("chunkDocument", () => {
  it("validates its options", () => {
    const d = doc([{ text: "x" }]);
    expect(() => chunkDocument(d, { maxTokens: 0, overlapTokens: 0 })).toThrow(RangeError);
    expect(() => chunkDocument(d, { maxTokens: 10, overlapTokens: 10 })).toThrow(RangeError);
    expect(() => chunkDocument(d, { maxTokens: 10, overlapTokens: -1 })).toThrow(RangeError);
    expect(() => chunkDocument(d, { maxTokens: 1.5, overlapTokens: 0 })).toThrow(RangeError);
  });

  it("keeps every fixture's chunks within budget, in order, with each fact whole", async () => {
    for (const { file, fact } of fixtureFacts) {
      const parsed = await parseDocument({
        bytes: new Uint8Array(fs.readFileSync(`${fixtureDir}${file}`)),
        fileName: file,
        kind: "file",
      });
      for (const maxTokens of [24, 40, 80, 220, 1000]) {
        const chunks = chunkDocument(parsed, {
          maxTokens,
          overlapTokens: Math.floor(maxTokens / 6),
        });
        expect(chunks.map((c) => c.ord)).toEqual(chunks.map((_, i) => i));
        for (const chunk of chunks) {
          expect(chunk.tokenCount).toBe(countTokens(chunk.text));
          expect(chunk.tokenCount).toBeLessThanOrEqual(maxTokens);
        }
        if (maxTokens >= 24)
          expect(
            chunks.some((c) => c.text.includes(fact)),
            `${file} @${maxTokens}`,
          ).toBe(true);
      }
    }
  });

  it("starts a new chunk at each top-level section, below a shared title", () => {
    const chunks = chunkDocument(
      doc([
        { text: "Intro.", headingPath: ["Guide"] },
        { text: "Alpha.", headingPath: ["Guide", "A"] },
        { text: "Beta.", headingPath: ["Guide", "B"] },
        { text: "Gamma.", headingPath: ["Guide", "B"] },
      ]),
      { maxTokens: 200, overlapTokens: 20 },
    );
    expect(chunks.map((c) => [c.headingPath, c.text])).toEqual([
      ["Guide", "Intro."],
      ["Guide > A", "Alpha."],
      ["Guide > B", "Beta.\n\nGamma."],
    ]);
  });

  it("lets small subsections share a chunk, with their headings inline", () => {
    const chunks = chunkDocument(
      doc([
        { text: "Section intro.", headingPath: ["A"] },
        { text: "About x.", headingPath: ["A", "x"] },
        { text: "More x.", headingPath: ["A", "x"] },
        { text: "About y.", headingPath: ["A", "y"] },
        { text: "Other.", headingPath: ["B"] },
      ]),
      { maxTokens: 200, overlapTokens: 0 },
    );
    expect(chunks).toEqual([
      {
        ord: 0,
        headingPath: "A",
        text: "Section intro.\n\nx\nAbout x.\n\nMore x.\n\ny\nAbout y.",
        tokenCount: countTokens("Section intro. x About x. More x. y About y."),
      },
      { ord: 1, headingPath: "B", text: "Other.", tokenCount: 2 },
    ]);
  });

  it("closes a chunk at a subsection once it is half full", () => {
    const long = sentences(3, 10).join(" ");
    const chunks = chunkDocument(
      doc([
        { text: long, headingPath: ["A", "x"] },
        { text: "Short y.", headingPath: ["A", "y"] },
        { text: "Other.", headingPath: ["B"] },
      ]),
      { maxTokens: 60, overlapTokens: 0 },
    );
    expect(chunks.map((c) => c.headingPath)).toEqual(["A > x", "A > y", "B"]);
  });

  it("packs paragraphs of one section and overlaps consecutive chunks by whole sentences", () => {
    const paragraphs = [
      sentences(3, 8, "a").join(" "),
      sentences(3, 8, "b").join(" "),
      sentences(3, 8, "c").join(" "),
    ];
    const chunks = chunkDocument(doc(paragraphs.map((text) => ({ text, headingPath: ["S"] }))), {
      maxTokens: 70,
      overlapTokens: 10,
    });
    // Each paragraph is 27 tokens: two fit in 70, the third starts a chunk led by the last sentence.
    expect(chunks).toHaveLength(2);
    expect(chunks[0]?.text).toBe(`${paragraphs[0]}\n\n${paragraphs[1]}`);
    expect(chunks[1]?.text).toBe(`B2 word word word word word word end.\n\n${paragraphs[2]}`);
    expect(chunks.every((c) => c.headingPath === "S")).toBe(true);
  });

  it("splits an oversized paragraph on sentence boundaries with overlap", () => {
    const text = sentences(20, 10).join(" ");
    const chunks = chunkDocument(doc([{ text }]), { maxTokens: 50, overlapTokens: 12 });
    expect(chunks.length).toBeGreaterThan(4);
    for (const [i, chunk] of chunks.entries()) {
      expect(chunk.tokenCount).toBeLessThanOrEqual(50);
      expect(chunk.text).toMatch(/^S\d+ .*end\.$/s);
      if (i > 0) {
        // The chunk opens with the previous chunk's last sentence, read on as one paragraph.
        const previousLast = (chunks[i - 1] as Chunk).text.match(/S\d+ [^.]*\.$/)?.[0] as string;
        expect(chunk.text.startsWith(`${previousLast} S`)).toBe(true);
      }
    }
    // Nothing is lost: every sentence is in some chunk.
    for (let i = 0; i < 20; i++) expect(chunks.some((c) => c.text.includes(`S${i} `))).toBe(true);
  });

  it("repeats nothing with zero overlap", () => {
    const text = sentences(12, 10).join(" ");
    const chunks = chunkDocument(doc([{ text }]), { maxTokens: 40, overlapTokens: 0 });
    expect(chunks.map((c) => c.text).join(" ")).toBe(text);
  });

  it("cuts a sentence longer than a chunk at words, overlapping by words", () => {
    const text = `${Array.from({ length: 90 }, (_, i) => `w${i}`).join(" ")}`;
    const chunks = chunkDocument(doc([{ text }]), { maxTokens: 30, overlapTokens: 5 });
    expect(chunks.length).toBeGreaterThan(3);
    expect(chunks.every((c) => c.tokenCount <= 30)).toBe(true);
    for (let i = 1; i < chunks.length; i++) {
      // Each chunk opens with exactly the last five words of the one before.
      const previousTail = (chunks[i - 1] as Chunk).text.split(" ").slice(-5).join(" ");
      expect((chunks[i] as Chunk).text.startsWith(`${previousTail} `)).toBe(true);
    }
    expect(chunks.at(-1)?.text.endsWith("w89")).toBe(true);
  });

  it("cuts a giant word into bounded pieces quickly", () => {
    const started = performance.now();
    const chunks = chunkDocument(doc([{ text: "x".repeat(200_000) }]), {
      maxTokens: 100,
      overlapTokens: 10,
    });
    expect(performance.now() - started).toBeLessThan(2000);
    expect(chunks.every((c) => c.tokenCount <= 100)).toBe(true);
    expect(chunks.map((c) => c.text).join("")).toContain("x".repeat(1000));
  });

  it("keeps a code block whole when it fits, never overlapping from it", () => {
    const code = Array.from({ length: 8 }, (_, i) => `line_${i}();`).join("\n");
    const chunks = chunkDocument(
      doc([
        { text: sentences(2, 10).join(" "), headingPath: ["C"] },
        { kind: "code", text: code, headingPath: ["C"] },
        { text: "After the code.", headingPath: ["C"] },
      ]),
      { maxTokens: 50, overlapTokens: 10 },
    );
    expect(chunks.some((c) => c.text.includes(code))).toBe(true);
    const after = chunks.find((c) => c.text.includes("After the code.")) as Chunk;
    expect(after.text.startsWith("line_")).toBe(false);
  });

  it("splits oversized code at lines and tables at rows, repeating the table header", () => {
    const code = Array.from({ length: 40 }, (_, i) => `call_${i}(argument);`).join("\n");
    const rows = ["Name | Value", ...Array.from({ length: 40 }, (_, i) => `row${i} | ${i}`)].join(
      "\n",
    );
    const chunks = chunkDocument(
      doc([
        { kind: "code", text: code, headingPath: ["Code"] },
        { kind: "table", text: rows, headingPath: ["Table"] },
      ]),
      { maxTokens: 40, overlapTokens: 0 },
    );
    const codeChunks = chunks.filter((c) => c.headingPath === "Code");
    const tableChunks = chunks.filter((c) => c.headingPath === "Table");
    expect(codeChunks.length).toBeGreaterThan(1);
    expect(codeChunks.map((c) => c.text).join("\n")).toBe(code);
    expect(tableChunks.length).toBeGreaterThan(1);
    for (const chunk of tableChunks) {
      expect(chunk.text.startsWith("Name | Value\nrow")).toBe(true);
      expect(chunk.tokenCount).toBeLessThanOrEqual(40);
    }
  });

  it("overlaps lists by whole items", () => {
    const list = Array.from({ length: 30 }, (_, i) => `- item ${i} is here`).join("\n");
    const chunks = chunkDocument(doc([{ kind: "list", text: list, headingPath: ["L"] }]), {
      maxTokens: 40,
      overlapTokens: 8,
    });
    expect(chunks.length).toBeGreaterThan(2);
    // Whole items from the end of one chunk open the next, within about the overlap budget.
    const first = (chunks[0] as Chunk).text.split("\n");
    const second = (chunks[1] as Chunk).text.split("\n");
    const repeated = second.filter((line) => first.includes(line));
    expect(repeated.length).toBeGreaterThan(0);
    expect(first.slice(-repeated.length)).toEqual(repeated);
    expect(second.slice(0, repeated.length)).toEqual(repeated);
    expect(countTokens(repeated.join("\n"))).toBeLessThanOrEqual(12);
  });

  it("does not overlap across sections", () => {
    const chunks = chunkDocument(
      doc([
        { text: sentences(2).join(" "), headingPath: ["A"] },
        { text: "Fresh start.", headingPath: ["B"] },
      ]),
      { maxTokens: 100, overlapTokens: 20 },
    );
    expect(chunks[1]?.text).toBe("Fresh start.");
  });

  it("indexes a document of headings alone", () => {
    const chunks = chunkDocument(
      doc([
        { kind: "heading", text: "Only", headingPath: ["Only"] },
        { kind: "heading", text: "Headings", headingPath: ["Only", "Headings"] },
      ]),
      { maxTokens: 100, overlapTokens: 0 },
    );
    expect(chunks).toEqual([
      { ord: 0, headingPath: "", text: "Only", tokenCount: 1 },
      { ord: 1, headingPath: "Only", text: "Headings", tokenCount: 2 },
    ]);
  });

  it("returns no chunks for a document without text", () => {
    expect(chunkDocument({ title: "t", blocks: [] }, { maxTokens: 100, overlapTokens: 0 })).toEqual(
      [],
    );
  });
});
