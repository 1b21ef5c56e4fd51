import { parseHTML } from "linkedom";
import { describe, expect, it } from "vitest";
import {
  deepHtml,
  docxBomb,
  emptyPagesPdf,
  pdfBomb,
} from "../../../tests/support/hostile-files.ts";
import {
  checkMarkup,
  checkPdfExpansion,
  checkZipExpansion,
  DocumentLimitError,
  elementDepthExceeds,
  UNLIMITED,
} from "./document-limits.server.ts";

const MB = 1024 * 1024;

describe("decompressed bytes, counted while inflating", () => {
  it("stops a DOCX whose parts inflate past the limit, and passes one under it", () => {
    const bomb = docxBomb(8 * MB);
    expect(() => checkZipExpansion(bomb.bytes, 4 * MB)).toThrow(
      "The document expands to more than 4 MB (INGEST_MAX_DECOMPRESSED_BYTES).",
    );
    expect(() => checkZipExpansion(bomb.bytes, 16 * MB)).not.toThrow();
  });

  it("stops a PDF whose zlib streams inflate past the limit, and passes one under it", () => {
    const bomb = pdfBomb(6 * MB);
    expect(() => checkPdfExpansion(bomb.bytes, 4 * MB)).toThrow(DocumentLimitError);
    expect(() => checkPdfExpansion(bomb.bytes, 16 * MB)).not.toThrow();
    // Streams that are not zlib are left to the parser.
    expect(() => checkPdfExpansion(emptyPagesPdf(10).bytes, 1024)).not.toThrow();
  });
});

describe("the markup scan", () => {
  const limits = { ...UNLIMITED, maxHtmlDepth: 50, maxTextChars: 1000 };

  it("refuses a page nested deeper than the limit before building its tree", () => {
    expect(() => checkMarkup(new TextDecoder().decode(deepHtml(60).bytes), limits)).toThrow(
      "The page nests elements more than 50 deep (INGEST_MAX_HTML_DEPTH).",
    );
    expect(() => checkMarkup(new TextDecoder().decode(deepHtml(40).bytes), limits)).not.toThrow();
  });

  it("does not count unclosed paragraphs, list items or void elements as nesting", () => {
    const page = `<ul>${"<li>item<br><img src=x>".repeat(500)}</ul>${"<p>text".repeat(100)}`;
    expect(() => checkMarkup(page, { ...limits, maxTextChars: Infinity })).not.toThrow();
  });

  it("refuses a page with more text than the limit; scripts and whitespace do not count", () => {
    expect(() => checkMarkup(`<p>${"x".repeat(1001)}</p>`, limits)).toThrow(
      "The document holds more than 1,000 characters of text (INGEST_MAX_TEXT_CHARS).",
    );
    const script = `<script>${"let x = 1;".repeat(500)}</script><p>${" ".repeat(5000)}ok</p>`;
    expect(() => checkMarkup(script, limits)).not.toThrow();
  });

  it("measures a built tree's depth without recursing", () => {
    const { document } = parseHTML(new TextDecoder().decode(deepHtml(3000).bytes));
    expect(elementDepthExceeds(document.documentElement, 2000)).toBe(true);
    expect(elementDepthExceeds(document.documentElement, 4000)).toBe(false);
  });
});
