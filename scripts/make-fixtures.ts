// Writes the sample documents in tests/fixtures/ (one per supported file type, each with a
// distinctive fact listed in tests/fixtures/README.md) that unit and integration tests upload.
// The PDF and DOCX writers are exported so tests can build edge-case documents in code.
// Output is byte-for-byte deterministic: run `npx tsx scripts/make-fixtures.ts` and commit.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import zlib from "node:zlib";

export interface PdfLine {
  text: string;
  /** Font size in points; larger lines read as headings. */
  size: number;
  /** Extra vertical space above the line, in points; a gap separates paragraphs. */
  gapBefore?: number;
}

export interface PdfOptions {
  title?: string;
}

const latin1 = (text: string) => Buffer.from(text, "latin1");

function pdfString(text: string): string {
  return `(${text.replace(/[\\()]/g, (c) => `\\${c}`)})`;
}

/**
 * A minimal PDF 1.4 with one Helvetica text line per entry, pages top to bottom. Offsets in
 * the cross-reference table are computed from the bytes written, so pdf.js reads it without
 * falling back to its repair mode.
 */
export function buildPdf(
  pages: readonly (readonly PdfLine[])[],
  options: PdfOptions = {},
): Uint8Array {
  const objects: string[] = [];
  const add = (body: string) => objects.push(body) as number;
  add("<< /Type /Catalog /Pages 2 0 R >>");
  add(""); // the page tree, filled in once the page object numbers are known
  add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>");
  const pageRefs: number[] = [];
  for (const lines of pages) {
    let y = 760;
    const ops: string[] = [];
    for (const line of lines) {
      y -= (line.gapBefore ?? 0) + line.size * 1.35;
      ops.push(`BT /F1 ${line.size} Tf 72 ${y.toFixed(2)} Td ${pdfString(line.text)} Tj ET`);
    }
    const stream = ops.join("\n");
    const contentRef = add(`<< /Length ${latin1(stream).length} >>\nstream\n${stream}\nendstream`);
    pageRefs.push(
      add(
        `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] ` +
          `/Resources << /Font << /F1 3 0 R >> >> /Contents ${contentRef} 0 R >>`,
      ),
    );
  }
  objects[1] = `<< /Type /Pages /Kids [${pageRefs.map((n) => `${n} 0 R`).join(" ")}] /Count ${pageRefs.length} >>`;
  const infoRef = options.title ? add(`<< /Title ${pdfString(options.title)} >>`) : undefined;

  let out = "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n";
  const offsets: number[] = [];
  objects.forEach((body, index) => {
    offsets.push(latin1(out).length);
    out += `${index + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xrefAt = latin1(out).length;
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const offset of offsets) out += `${String(offset).padStart(10, "0")} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R${infoRef ? ` /Info ${infoRef} 0 R` : ""} >>\n`;
  out += `startxref\n${xrefAt}\n%%EOF\n`;
  return new Uint8Array(latin1(out));
}

/** A ZIP archive (deflated entries, fixed timestamps) written with node:zlib alone. */
export function buildZip(
  entries: ReadonlyArray<{ name: string; data: string | Uint8Array }>,
): Uint8Array {
  const local: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  // 1980-01-01 00:00 in DOS format, so the archive does not change between runs.
  const dosTime = 0;
  const dosDate = (0 << 9) | (1 << 5) | 1;
  for (const entry of entries) {
    const raw =
      typeof entry.data === "string" ? Buffer.from(entry.data, "utf8") : Buffer.from(entry.data);
    const packed = zlib.deflateRawSync(raw);
    const crc = zlib.crc32(raw);
    const name = Buffer.from(entry.name, "utf8");
    const header = Buffer.alloc(30);
    header.writeUInt32LE(0x04034b50, 0);
    header.writeUInt16LE(20, 4);
    header.writeUInt16LE(0x0800, 6); // UTF-8 names
    header.writeUInt16LE(8, 8); // deflate
    header.writeUInt16LE(dosTime, 10);
    header.writeUInt16LE(dosDate, 12);
    header.writeUInt32LE(crc, 14);
    header.writeUInt32LE(packed.length, 18);
    header.writeUInt32LE(raw.length, 22);
    header.writeUInt16LE(name.length, 26);
    header.writeUInt16LE(0, 28);
    local.push(header, name, packed);

    const record = Buffer.alloc(46);
    record.writeUInt32LE(0x02014b50, 0);
    record.writeUInt16LE(20, 4);
    record.writeUInt16LE(20, 6);
    record.writeUInt16LE(0x0800, 8);
    record.writeUInt16LE(8, 10);
    record.writeUInt16LE(dosTime, 12);
    record.writeUInt16LE(dosDate, 14);
    record.writeUInt32LE(crc, 16);
    record.writeUInt32LE(packed.length, 20);
    record.writeUInt32LE(raw.length, 24);
    record.writeUInt16LE(name.length, 28);
    record.writeUInt32LE(offset, 42);
    central.push(record, name);
    offset += header.length + name.length + packed.length;
  }
  const centralSize = central.reduce((sum, part) => sum + part.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(offset, 16);
  return new Uint8Array(Buffer.concat([...local, ...central, end]));
}

export type DocxBlock =
  | { kind: "heading"; level: 1 | 2 | 3; text: string }
  | { kind: "paragraph"; text: string }
  | { kind: "bullets"; items: string[] }
  | { kind: "table"; rows: string[][] };

const xmlEscape = (text: string) =>
  text.replace(
    /[&<>"]/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c] as string,
  );

const W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"';
const R = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"';

function docxParagraph(text: string, props = ""): string {
  return `<w:p>${props ? `<w:pPr>${props}</w:pPr>` : ""}<w:r><w:t xml:space="preserve">${xmlEscape(text)}</w:t></w:r></w:p>`;
}

/** A WordprocessingML package with real heading styles, a bullet numbering and tables. */
export function buildDocx(blocks: readonly DocxBlock[]): Uint8Array {
  const body = blocks
    .map((block) => {
      switch (block.kind) {
        case "heading":
          return docxParagraph(block.text, `<w:pStyle w:val="Heading${block.level}"/>`);
        case "paragraph":
          return docxParagraph(block.text);
        case "bullets":
          return block.items
            .map((item) =>
              docxParagraph(
                item,
                `<w:pStyle w:val="ListParagraph"/><w:numPr><w:ilvl w:val="0"/><w:numId w:val="1"/></w:numPr>`,
              ),
            )
            .join("");
        case "table":
          return `<w:tbl>${block.rows
            .map(
              (row) =>
                `<w:tr>${row.map((cell) => `<w:tc>${docxParagraph(cell)}</w:tc>`).join("")}</w:tr>`,
            )
            .join("")}</w:tbl>`;
      }
    })
    .join("");
  const headingStyle = (level: number) =>
    `<w:style w:type="paragraph" w:styleId="Heading${level}"><w:name w:val="heading ${level}"/>` +
    `<w:basedOn w:val="Normal"/><w:pPr><w:outlineLvl w:val="${level - 1}"/></w:pPr></w:style>`;
  const rel = (id: string, type: string, target: string) =>
    `<Relationship Id="${id}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/${type}" Target="${target}"/>`;
  return buildZip([
    {
      name: "[Content_Types].xml",
      data:
        `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` +
        `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
        `<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>` +
        `<Default Extension="xml" ContentType="application/xml"/>` +
        `<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>` +
        `<Override PartName="/word/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/>` +
        `<Override PartName="/word/numbering.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.numbering+xml"/>` +
        `</Types>`,
    },
    {
      name: "_rels/.rels",
      data:
        `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` +
        `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
        rel("rId1", "officeDocument", "word/document.xml") +
        `</Relationships>`,
    },
    {
      name: "word/_rels/document.xml.rels",
      data:
        `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` +
        `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
        rel("rId1", "styles", "styles.xml") +
        rel("rId2", "numbering", "numbering.xml") +
        `</Relationships>`,
    },
    {
      name: "word/document.xml",
      data: `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document ${W} ${R}><w:body>${body}</w:body></w:document>`,
    },
    {
      name: "word/styles.xml",
      data:
        `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:styles ${W}>` +
        `<w:style w:type="paragraph" w:default="1" w:styleId="Normal"><w:name w:val="Normal"/></w:style>` +
        headingStyle(1) +
        headingStyle(2) +
        headingStyle(3) +
        `<w:style w:type="paragraph" w:styleId="ListParagraph"><w:name w:val="List Paragraph"/></w:style>` +
        `</w:styles>`,
    },
    {
      name: "word/numbering.xml",
      data:
        `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:numbering ${W}>` +
        `<w:abstractNum w:abstractNumId="0"><w:lvl w:ilvl="0"><w:start w:val="1"/>` +
        `<w:numFmt w:val="bullet"/><w:lvlText w:val="-"/></w:lvl></w:abstractNum>` +
        `<w:num w:numId="1"><w:abstractNumId w:val="0"/></w:num></w:numbering>`,
    },
  ]);
}

/** The fact each fixture carries: the integration tests ask the question and expect the fact. */
export const fixtureFacts = [
  {
    file: "sample.txt",
    question: "How often does the harbour ferry to Kestrel Island leave?",
    fact: "The harbour ferry to Kestrel Island leaves every 40 minutes.",
    answer: "every 40 minutes",
  },
  {
    file: "sample.md",
    question: "How often must the Lumen X2 espresso machine be descaled?",
    fact: "The Lumen X2 espresso machine must be descaled every 3 weeks.",
    answer: "every 3 weeks",
  },
  {
    file: "sample.html",
    question: "How many books can members of the Orchid Valley Library borrow at a time?",
    fact: "Members of the Orchid Valley Library can borrow up to 12 books at a time.",
    answer: "12 books",
  },
  {
    file: "sample.pdf",
    question: "What time does the Aurora Tower open on Mondays?",
    fact: "The Aurora Tower opens at 9 am on Mondays.",
    answer: "9 am",
  },
  {
    file: "sample.docx",
    question: "How long is the warranty on the Zephyr Trail bicycle frame?",
    fact: "The Zephyr Trail bicycle frame is covered by a 7-year warranty.",
    answer: "7-year warranty",
  },
] as const;

const factOf = (file: string) => fixtureFacts.find((f) => f.file === file)?.fact as string;

const sampleTxt = `Kestrel Island Visitor Notes

Getting there

${factOf("sample.txt")} The first crossing departs from Pier 4 at 6:20 and the last one returns at 22:40.
Tickets are sold at the pier kiosk and on board, and bicycles travel free of charge.

Where to stay

The island has two guesthouses and a small campsite behind the dunes. The campsite opens in May
and closes at the end of September; pitches cannot be booked in advance.

Wildlife

Grey seals rest on the northern sandbank at low tide. Please keep at least 50 metres away and keep
dogs on a lead between March and July, when terns nest on the beach.
`;

const sampleMd = `---
title: Lumen X2 Care Guide
---

# Lumen X2 Care Guide

This guide explains how to keep the **Lumen X2** espresso machine in good working order.
Read it once before the first use.

## Daily cleaning

- Rinse the portafilter after every shot.
- Purge the steam wand for two seconds after frothing milk.
- Empty the drip tray when the red float appears.

## Descaling

${factOf("sample.md")} Use the Lumen citric descaler and run the
\`DESCALE\` programme from the settings menu; it takes about 25 minutes.

Hard water areas
----------------

If your water hardness is above 14 °dH, fit the [Lumen filter cartridge](https://example.com/filter)
and replace it every two months.

## Error codes

| Code | Meaning |
| ---- | ------- |
| E1   | Water tank empty |
| E4   | Brew unit not seated |

\`\`\`text
Settings > Maintenance > DESCALE > Start
\`\`\`
`;

const sampleHtml = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Borrowing books | Orchid Valley Library</title>
  <style>body { font-family: sans-serif; } .hidden-style-text { color: red; }</style>
  <script>window.trackingSecret = "script text must not be indexed";</script>
</head>
<body>
  <nav><a href="/">Home</a> <a href="/events">Navigation link about events</a></nav>
  <main>
    <article>
      <h1>Borrowing books at Orchid Valley Library</h1>
      <p>Orchid Valley Library lends books, audiobooks and board games to everyone who lives, works or
      studies in the valley. Membership is free and takes about five minutes at any front desk.</p>
      <h2>Loan limits</h2>
      <p>${factOf("sample.html")} Loans last three weeks and can be renewed twice online,
      as long as nobody else has reserved the item in the meantime.</p>
      <p>Board games count towards the limit and can be borrowed for one week at a time, because
      they are popular during the school holidays and the library only owns a few copies of each.</p>
      <h2>Late returns</h2>
      <p>There are no fines for children's books. Adult items cost 20 cents a day once they are more
      than a week overdue, up to a maximum of five euros per item.</p>
      <ul>
        <li>Return boxes are emptied every morning at 8.</li>
        <li>Items returned on a Sunday are checked in on Monday.</li>
      </ul>
      <h3>Opening hours of the return box</h3>
      <table>
        <tr><th>Day</th><th>Hours</th></tr>
        <tr><td>Monday to Friday</td><td>7:00 to 22:00</td></tr>
        <tr><td>Weekend</td><td>Always open</td></tr>
      </table>
    </article>
  </main>
  <footer>Footer text: copyright Orchid Valley Council</footer>
</body>
</html>
`;

const samplePdf = () =>
  buildPdf(
    [
      [
        { text: "Aurora Tower Visitor Guide", size: 20 },
        { text: "Opening hours", size: 15, gapBefore: 12 },
        { text: factOf("sample.pdf"), size: 11, gapBefore: 6 },
        { text: "From Tuesday to Sunday the tower opens at 8 am, and the last lift to", size: 11 },
        { text: "the observation deck leaves 30 minutes before closing time.", size: 11 },
        { text: "The tower is closed on 25 December and on 1 January.", size: 11, gapBefore: 10 },
      ],
      [
        { text: "Tickets", size: 15 },
        {
          text: "Adult tickets cost 18 euros and children under 12 enter free with a",
          size: 11,
          gapBefore: 6,
        },
        { text: "paying adult. Tickets bought online are valid for the whole day.", size: 11 },
      ],
    ],
    { title: "Aurora Tower Visitor Guide" },
  );

const sampleDocx = () =>
  buildDocx([
    { kind: "heading", level: 1, text: "Zephyr Trail Owner Handbook" },
    {
      kind: "paragraph",
      text: "Thank you for choosing the Zephyr Trail, a touring bicycle built for gravel and road.",
    },
    { kind: "heading", level: 2, text: "Warranty" },
    {
      kind: "paragraph",
      text: `${factOf("sample.docx")} Components such as the chain, tyres and brake pads are wear parts and are covered for 6 months.`,
    },
    { kind: "heading", level: 2, text: "Tyre pressure" },
    { kind: "bullets", items: ["Road: 5.5 bar", "Gravel: 3.2 bar", "Loaded touring: 6 bar"] },
    { kind: "heading", level: 2, text: "Service intervals" },
    {
      kind: "table",
      rows: [
        ["Part", "Interval"],
        ["Chain", "Every 3000 km"],
        ["Brake pads", "Every 1500 km"],
      ],
    },
  ]);

/** A Markdown table padded the way Prettier pads one, so formatting the repo leaves it alone. */
function markdownTable(
  header: readonly string[],
  rows: ReadonlyArray<readonly string[]>,
): string[] {
  const widths = header.map((cell, index) =>
    Math.max(cell.length, ...rows.map((row) => row[index]?.length ?? 0)),
  );
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, index) => cell.padEnd(widths[index] ?? 0)).join(" | ")} |`;
  return [line(header), line(widths.map((width) => "-".repeat(width))), ...rows.map(line)];
}

function fixturesReadme(): string {
  return [
    "# Test fixtures",
    "",
    "Generated by `npx tsx scripts/make-fixtures.ts` (deterministic; commit the output). Each file",
    "holds one distinctive fact that appears in no other fixture, so a test can upload a file, ask",
    "its question and expect an answer citing that file.",
    "",
    ...markdownTable(
      ["File", "Question", "Fact sentence", "Key words of the answer"],
      fixtureFacts.map((f) => [`\`${f.file}\``, f.question, f.fact, f.answer]),
    ),
    "",
    "Structure each parser must keep (headings become the chunk's heading path):",
    "",
    "- `sample.txt`: title line, then sections `Getting there`, `Where to stay`, `Wildlife`.",
    "- `sample.md`: front matter title, `#`/`##` and setext headings, a list, a table, a fenced code block.",
    "- `sample.html`: an article with h1/h2/h3, a list and a table; nav, footer, script and style are dropped.",
    "- `sample.pdf`: two pages, 20pt title, 15pt section headings (`Opening hours`, `Tickets`).",
    "- `sample.docx`: Heading 1/Heading 2 styles, a bullet list and a table.",
    "",
  ].join("\n");
}

export function writeFixtures(dir: string): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const files: Array<[string, string | Uint8Array]> = [
    ["sample.txt", sampleTxt],
    ["sample.md", sampleMd],
    ["sample.html", sampleHtml],
    ["sample.pdf", samplePdf()],
    ["sample.docx", sampleDocx()],
    ["README.md", fixturesReadme()],
  ];
  for (const [name, data] of files) fs.writeFileSync(path.join(dir, name), data);
  return files.map(([name]) => path.join(dir, name));
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../tests/fixtures");
  for (const file of writeFixtures(dir)) console.log(`wrote ${path.relative(process.cwd(), file)}`);
}
