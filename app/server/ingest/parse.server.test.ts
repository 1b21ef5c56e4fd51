import fs from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { buildDocx, buildPdf, buildZip, fixtureFacts } from "../../../scripts/make-fixtures.ts";
import {
  decodeText,
  detectFormat,
  EmptyDocumentError,
  parseDocument,
  UnsupportedDocumentError,
  type Block,
  type ParsedDocument,
} from "./parse.server.ts";

const fixtureDir = fileURLToPath(new URL("../../../tests/fixtures/", import.meta.url));
const fixture = (name: string) => new Uint8Array(fs.readFileSync(`${fixtureDir}${name}`));
const utf8 = (text: string) => new TextEncoder().encode(text);
const factOf = (file: string) => fixtureFacts.find((f) => f.file === file)?.fact as string;

const parseFile = (fileName: string, bytes: Uint8Array, mimeType?: string) =>
  parseDocument({ bytes, fileName, mimeType, kind: "file" });

function blockWith(doc: ParsedDocument, text: string): Block {
  const block = doc.blocks.find((b) => b.text.includes(text));
  if (!block) throw new Error(`no block contains ${JSON.stringify(text)}`);
  return block;
}

const headings = (doc: ParsedDocument) =>
  doc.blocks.filter((b) => b.kind === "heading").map((b) => b.text);
const allText = (doc: ParsedDocument) => doc.blocks.map((b) => b.text).join("\n");

describe("parseDocument on the committed fixtures", () => {
  it("reads plain text with its title line and section headings", async () => {
    const doc = await parseFile("sample.txt", fixture("sample.txt"));
    expect(doc.title).toBe("Kestrel Island Visitor Notes");
    expect(headings(doc)).toEqual([
      "Kestrel Island Visitor Notes",
      "Getting there",
      "Where to stay",
      "Wildlife",
    ]);
    const fact = blockWith(doc, factOf("sample.txt"));
    expect(fact.kind).toBe("paragraph");
    expect(fact.headingPath).toEqual(["Kestrel Island Visitor Notes", "Getting there"]);
    // Hard-wrapped lines of one paragraph are joined.
    expect(fact.text).toContain("22:40. Tickets are sold");
  });

  it("reads Markdown: front matter, ATX and setext headings, lists, tables, code", async () => {
    const doc = await parseFile("sample.md", fixture("sample.md"));
    expect(doc.title).toBe("Lumen X2 Care Guide");
    expect(headings(doc)).toEqual([
      "Lumen X2 Care Guide",
      "Daily cleaning",
      "Descaling",
      "Hard water areas",
      "Error codes",
    ]);
    expect(blockWith(doc, factOf("sample.md")).headingPath).toEqual([
      "Lumen X2 Care Guide",
      "Descaling",
    ]);
    expect(blockWith(doc, "Rinse the portafilter")).toMatchObject({
      kind: "list",
      text: expect.stringMatching(/^- Rinse the portafilter after every shot\.\n- Purge/),
    });
    expect(blockWith(doc, "E4")).toMatchObject({
      kind: "table",
      text: expect.stringContaining("E4 | Brew unit not seated"),
    });
    expect(blockWith(doc, "Settings > Maintenance")).toMatchObject({ kind: "code" });
    // Inline markup is reduced to what a reader sees.
    expect(blockWith(doc, "filter cartridge").text).toBe(
      "If your water hardness is above 14 °dH, fit the Lumen filter cartridge and replace it every two months.",
    );
    expect(allText(doc)).not.toMatch(/\*\*|`|https:\/\/example\.com/);
  });

  it("reads the article of an HTML page and drops navigation, footer, script and style", async () => {
    const doc = await parseFile("sample.html", fixture("sample.html"));
    expect(doc.title).toBe("Borrowing books | Orchid Valley Library");
    expect(blockWith(doc, factOf("sample.html")).headingPath).toEqual([
      "Borrowing books at Orchid Valley Library",
      "Loan limits",
    ]);
    expect(blockWith(doc, "Weekend")).toMatchObject({
      kind: "table",
      headingPath: [
        "Borrowing books at Orchid Valley Library",
        "Late returns",
        "Opening hours of the return box",
      ],
      text: "Day | Hours\nMonday to Friday | 7:00 to 22:00\nWeekend | Always open",
    });
    expect(blockWith(doc, "Return boxes")).toMatchObject({ kind: "list" });
    const text = allText(doc);
    expect(text).not.toContain("Navigation link");
    expect(text).not.toContain("Footer text");
    expect(text).not.toContain("script text");
    expect(text).not.toContain("hidden-style-text");
  });

  it("reads a PDF with page numbers and font-size headings in the heading path", async () => {
    const doc = await parseFile("sample.pdf", fixture("sample.pdf"));
    expect(doc.title).toBe("Aurora Tower Visitor Guide");
    const fact = blockWith(doc, factOf("sample.pdf"));
    expect(fact.headingPath).toEqual(["Page 1", "Aurora Tower Visitor Guide", "Opening hours"]);
    // Lines of one paragraph join; a wider gap starts the next paragraph.
    expect(fact.text).toContain("the last lift to the observation deck leaves");
    expect(fact.text).not.toContain("25 December");
    expect(blockWith(doc, "Adult tickets").headingPath).toEqual([
      "Page 2",
      "Aurora Tower Visitor Guide",
      "Tickets",
    ]);
  });

  it("reads a DOCX keeping Word heading styles, lists and tables", async () => {
    const doc = await parseFile("sample.docx", fixture("sample.docx"));
    expect(doc.title).toBe("Zephyr Trail Owner Handbook");
    expect(blockWith(doc, factOf("sample.docx")).headingPath).toEqual([
      "Zephyr Trail Owner Handbook",
      "Warranty",
    ]);
    expect(blockWith(doc, "Gravel: 3.2 bar")).toMatchObject({
      kind: "list",
      text: expect.stringContaining("- Road: 5.5 bar"),
    });
    expect(blockWith(doc, "Brake pads")).toMatchObject({
      kind: "table",
      text: expect.stringContaining("Chain | Every 3000 km"),
    });
  });

  it("finds each fixture fact in exactly one fixture", async () => {
    const texts = await Promise.all(
      fixtureFacts.map(async (f) => allText(await parseFile(f.file, fixture(f.file)))),
    );
    for (const [index, f] of fixtureFacts.entries()) {
      texts.forEach((text, other) => expect(text.includes(f.fact)).toBe(other === index));
    }
  });
});

describe("Markdown inline syntax", () => {
  it("keeps code spans verbatim, HTML in them included, and drops inline HTML tags", async () => {
    const doc = await parseFile(
      "inline.md",
      new TextEncoder().encode(
        "# T\n\nPaste one `<script>` tag, **not** <b>this</b> [link](https://x.example).\n",
      ),
    );
    expect(doc.blocks[1]?.text).toBe("Paste one <script> tag, not this link.");
  });
});

describe("detectFormat", () => {
  const bytes = utf8("hello");
  it("prefers the extension, then the MIME type", () => {
    expect(detectFormat({ bytes, fileName: "a.MD", mimeType: "text/plain", kind: "file" })).toBe(
      "markdown",
    );
    expect(
      detectFormat({
        bytes,
        fileName: "notes.log",
        mimeType: "text/plain; charset=utf-8",
        kind: "file",
      }),
    ).toBe("text");
    expect(detectFormat({ bytes, mimeType: "application/pdf", kind: "url" })).toBe("pdf");
    expect(detectFormat({ bytes, mimeType: "application/xhtml+xml", kind: "url" })).toBe("html");
  });

  it("refuses unknown extensions and types", () => {
    expect(() => detectFormat({ bytes, fileName: "photo.png", kind: "file" })).toThrow(
      UnsupportedDocumentError,
    );
    expect(() => detectFormat({ bytes, fileName: "photo.png", kind: "file" })).toThrow(
      /photo\.png.*Supported types/,
    );
    expect(() => detectFormat({ bytes, mimeType: "image/png", kind: "url" })).toThrow(/image\/png/);
  });

  it("sniffs the bytes only when nothing else says what they are", () => {
    const octet = "application/octet-stream";
    expect(detectFormat({ bytes: utf8("%PDF-1.4 ..."), mimeType: octet, kind: "url" })).toBe("pdf");
    expect(detectFormat({ bytes: new Uint8Array([0x50, 0x4b, 3, 4]), kind: "file" })).toBe("docx");
    expect(detectFormat({ bytes: utf8("  <!DOCTYPE html><p>x"), kind: "url" })).toBe("html");
    expect(detectFormat({ bytes: utf8("<html><body>x"), kind: "url" })).toBe("html");
    expect(detectFormat({ bytes: utf8("# Pasted"), kind: "text" })).toBe("markdown");
    expect(detectFormat({ bytes: utf8("words"), kind: "url" })).toBe("text");
  });
});

describe("decodeText", () => {
  it("honours byte-order marks and charsets, and falls back to Windows-1252", () => {
    expect(decodeText(new Uint8Array([0xef, 0xbb, 0xbf, 0x68, 0x69]))).toBe("hi");
    expect(decodeText(new Uint8Array([0xff, 0xfe, 0x68, 0x00, 0x69, 0x00]))).toBe("hi");
    expect(decodeText(new Uint8Array([0xfe, 0xff, 0x00, 0x68, 0x00, 0x69]))).toBe("hi");
    expect(decodeText(new Uint8Array([0x63, 0x61, 0x66, 0xe9]), "iso-8859-1")).toBe("café");
    expect(decodeText(new Uint8Array([0x63, 0x61, 0x66, 0xe9]))).toBe("café");
    expect(decodeText(utf8("ok"), "no-such-charset")).toBe("ok");
  });

  it("refuses binary data", () => {
    const binary = new Uint8Array(256).map((_, i) => i);
    expect(() => decodeText(binary)).toThrow(UnsupportedDocumentError);
  });
});

describe("parseDocument edge cases", () => {
  it("refuses empty and whitespace-only documents", async () => {
    await expect(parseFile("a.txt", new Uint8Array())).rejects.toThrow(EmptyDocumentError);
    await expect(parseFile("a.txt", utf8(" \n\n\t \n"))).rejects.toThrow(EmptyDocumentError);
    await expect(
      parseFile("a.html", utf8("<html><body><script>x()</script></body></html>")),
    ).rejects.toThrow(EmptyDocumentError);
  });

  it("refuses a binary file that claims to be text", async () => {
    const binary = new Uint8Array(4096).map((_, i) => (i * 7919) % 256);
    await expect(parseFile("image.txt", binary)).rejects.toThrow(/binary/);
  });

  it("strips NULs and control characters and normalises whitespace", async () => {
    const doc = await parseFile("a.txt", utf8("Tab\tand\u0000 NUL\u00a0and\r\nCRLF\u200b text."));
    expect(doc.blocks).toEqual([
      { kind: "paragraph", headingPath: [], text: "Tab and NUL and CRLF text." },
    ]);
  });

  it("titles a document without headings by its file name, else its first words", async () => {
    expect((await parseFile("Opening times.txt", utf8("We open at nine."))).title).toBe(
      "Opening times",
    );
    const pasted = await parseDocument({
      bytes: utf8("one two three four five six seven eight nine ten"),
      kind: "text",
    });
    expect(pasted.title).toBe("one two three four five six seven eight");
    const long = await parseFile("x.html", utf8(`<title>${"t".repeat(300)}</title><p>body</p>`));
    expect(long.title).toHaveLength(200);
    expect(long.title.endsWith("…")).toBe(true);
  });
});

describe("plain text structure", () => {
  it("reads underlined headings, bullet lists and keeps a trailing short line as text", async () => {
    const doc = await parseFile(
      "a.txt",
      utf8(
        "Guide\n=====\n\nIntro text here.\n\nDetails\n-------\n\n- one\n- two\n\n• three\n\nThe end",
      ),
    );
    expect(doc.blocks).toEqual([
      { kind: "heading", headingPath: ["Guide"], text: "Guide" },
      { kind: "paragraph", headingPath: ["Guide"], text: "Intro text here." },
      { kind: "heading", headingPath: ["Guide", "Details"], text: "Details" },
      { kind: "list", headingPath: ["Guide", "Details"], text: "- one\n- two" },
      { kind: "list", headingPath: ["Guide", "Details"], text: "• three" },
      { kind: "paragraph", headingPath: ["Guide", "Details"], text: "The end" },
    ]);
  });

  it("makes section lines siblings when the text does not open with a title", async () => {
    const doc = await parseFile(
      "a.txt",
      utf8("Some opening prose.\n\nFirst part\n\nText one.\n\nSecond part\n\nText two."),
    );
    expect(blockWith(doc, "Text two.").headingPath).toEqual(["Second part"]);
  });
});

describe("Markdown structure", () => {
  const md = (source: string) =>
    parseDocument({ bytes: utf8(source), fileName: "x.md", kind: "file" });

  it("nests headings by level and pops back up", async () => {
    const doc = await md(
      "# A\n\n## B ##\n\ntext b\n\n### C\n\ntext c\n\n## D\n\ntext d\n\n#\n\n####### not a heading",
    );
    expect(blockWith(doc, "text c").headingPath).toEqual(["A", "B", "C"]);
    expect(blockWith(doc, "text d").headingPath).toEqual(["A", "D"]);
    expect(blockWith(doc, "not a heading").kind).toBe("paragraph");
  });

  it("keeps fenced code whole, including blank lines, tildes and an unclosed fence", async () => {
    const doc = await md(
      "```js\nconst a = 1;\n\n# not a heading\n```\n\n~~~\ntilde\n~~~\n\n```\nunclosed\n   more",
    );
    const code = doc.blocks.filter((b) => b.kind === "code").map((b) => b.text);
    expect(code).toEqual(["const a = 1;\n\n# not a heading", "tilde", "unclosed\n   more"]);
    expect(headings(doc)).toEqual([]);
  });

  it("reads nested, ordered and continued list items", async () => {
    const doc = await md(
      "1. first\n   continued\n2) second\n\n   still second\n  - nested *item*\nlazy line\n\nAfter.",
    );
    expect(blockWith(doc, "first")).toMatchObject({
      kind: "list",
      text: "1. first continued\n2) second still second\n  - nested item lazy line",
    });
    expect(blockWith(doc, "After.").kind).toBe("paragraph");
  });

  it("ends a list at a heading or other block", async () => {
    const doc = await md("- a\n# Head\n- b\n> quoted");
    expect(doc.blocks.map((b) => b.kind)).toEqual(["list", "heading", "list", "paragraph"]);
  });

  it("reads indented code, block quotes, breaks and link references", async () => {
    const doc = await md(
      "Intro\n\n    indented code\n      more\n\n> quoted **text**\n> more\n\n***\n\n[ref]: https://example.com\n\nSee [the docs][ref] and <https://a.example/x> and ![logo](l.png) and a\\*star and ~~old~~ and _em_ <b>bold</b>",
    );
    expect(doc.blocks).toEqual([
      { kind: "paragraph", headingPath: [], text: "Intro" },
      { kind: "code", headingPath: [], text: "indented code\n  more" },
      { kind: "paragraph", headingPath: [], text: "quoted text more" },
      {
        kind: "paragraph",
        headingPath: [],
        text: "See the docs and https://a.example/x and logo and a*star and old and em bold",
      },
    ]);
  });

  it("uses an unterminated front matter block as text and reads quoted titles", async () => {
    expect((await md("---\ntitle: 'Quoted'\n---\nBody")).title).toBe("Quoted");
    const open = await md("---\ntitle: nope\n\nBody");
    expect(open.title).toBe("x");
    expect(open.blocks.map((b) => b.text)).toEqual(["title: nope", "Body"]);
  });
});

describe("HTML structure", () => {
  const html = (source: string, mimeType = "text/html") =>
    parseDocument({ bytes: utf8(source), mimeType, kind: "url" });

  it("walks the body of a page that is not an article, including loose text and double breaks", async () => {
    const doc = await html(
      `<html><head></head><body>
        <header><h1>Shop</h1></header>
        <div>Loose <b>text</b> in a div<br><br>second paragraph<br>same paragraph</div>
        <div hidden>hidden text</div><span aria-hidden="true">aria hidden</span>
        <div role="navigation">role nav</div>
        <span><div>block inside inline</div></span>
        <h2>Lists</h2>
        <ol start="3"><li>three<ul><li>nested</li></ul></li><li>four</li></ol>
        <pre>  keep   spacing\n  here</pre>
        <table><tr><td><h3>Layout cell</h3><p>cell text</p></td></tr></table>
        <form><label>Email</label><input value="x"><button>Send</button></form>
      </body></html>`,
    );
    expect(doc.title).toBe("Shop");
    expect(doc.blocks).toEqual([
      { kind: "heading", headingPath: ["Shop"], text: "Shop" },
      { kind: "paragraph", headingPath: ["Shop"], text: "Loose text in a div" },
      { kind: "paragraph", headingPath: ["Shop"], text: "second paragraph same paragraph" },
      { kind: "paragraph", headingPath: ["Shop"], text: "block inside inline" },
      { kind: "heading", headingPath: ["Shop", "Lists"], text: "Lists" },
      { kind: "list", headingPath: ["Shop", "Lists"], text: "3. three\n  - nested\n4. four" },
      { kind: "code", headingPath: ["Shop", "Lists"], text: "  keep   spacing\n  here" },
      { kind: "heading", headingPath: ["Shop", "Lists", "Layout cell"], text: "Layout cell" },
      { kind: "paragraph", headingPath: ["Shop", "Lists", "Layout cell"], text: "cell text" },
      { kind: "paragraph", headingPath: ["Shop", "Lists", "Layout cell"], text: "Email" },
    ]);
  });

  it("parses a fragment without <html> and honours the charset parameter", async () => {
    const bytes = new Uint8Array([
      ...utf8("<p>caf"),
      0xe9,
      ...utf8("</p><table><caption>Prices</caption><tr><td>a</td><td>1</td></tr></table>"),
    ]);
    const doc = await parseDocument({
      bytes,
      mimeType: "text/html; charset=ISO-8859-1",
      kind: "url",
    });
    expect(doc.blocks.map((b) => b.text)).toEqual(["café", "Prices\na | 1"]);
  });
});

describe("PDF layout", () => {
  it("joins wrapped headings and hyphenated words, and titles by the first heading", async () => {
    const bytes = buildPdf([
      [
        { text: "A heading that wraps", size: 18 },
        { text: "onto a second line", size: 18 },
        { text: "Body text with a hyphen-", size: 10, gapBefore: 8 },
        { text: "ated word and (parentheses) kept.", size: 10 },
        { text: "Subsection", size: 14, gapBefore: 8 },
        { text: "More body.", size: 10, gapBefore: 4 },
      ],
    ]);
    const doc = await parseFile("report.pdf", bytes);
    expect(doc.title).toBe("A heading that wraps onto a second line");
    expect(doc.blocks).toEqual([
      {
        kind: "heading",
        headingPath: ["Page 1", "A heading that wraps onto a second line"],
        text: "A heading that wraps onto a second line",
      },
      {
        kind: "paragraph",
        headingPath: ["Page 1", "A heading that wraps onto a second line"],
        text: "Body text with a hyphenated word and (parentheses) kept.",
      },
      {
        kind: "heading",
        headingPath: ["Page 1", "A heading that wraps onto a second line", "Subsection"],
        text: "Subsection",
      },
      {
        kind: "paragraph",
        headingPath: ["Page 1", "A heading that wraps onto a second line", "Subsection"],
        text: "More body.",
      },
    ]);
  });

  it("reports a PDF without text as empty and a broken one as unsupported", async () => {
    await expect(parseFile("scan.pdf", buildPdf([[]]))).rejects.toThrow(EmptyDocumentError);
    await expect(parseFile("scan.pdf", buildPdf([[]]))).rejects.toThrow(/OCR/);
    await expect(parseFile("broken.pdf", utf8("%PDF-1.4 this is not a pdf"))).rejects.toThrow(
      UnsupportedDocumentError,
    );
  });

  it("does not detach the caller's buffer", async () => {
    const bytes = fixture("sample.pdf");
    await parseFile("sample.pdf", bytes);
    expect(bytes.byteLength).toBeGreaterThan(0);
  });
});

describe("DOCX", () => {
  it("titles a document without headings by its file name", async () => {
    const doc = await parseFile(
      "Minutes 2024.docx",
      buildDocx([{ kind: "paragraph", text: "Attendees: all." }]),
    );
    expect(doc).toEqual({
      title: "Minutes 2024",
      blocks: [{ kind: "paragraph", headingPath: [], text: "Attendees: all." }],
    });
  });

  it("refuses a file that is not a Word package", async () => {
    await expect(parseFile("fake.docx", utf8("not a zip"))).rejects.toThrow(
      UnsupportedDocumentError,
    );
    const zip = buildZip([{ name: "hello.txt", data: "hi" }]);
    await expect(parseFile("other.docx", zip)).rejects.toThrow(/Could not read the DOCX/);
  });
});
