// Hostile documents, made on the spot (nothing checked in): a DOCX and a PDF that inflate far
// beyond their size, a very large and a very deeply nested HTML page, and a PDF of thousands
// of empty pages. Used by tests/integration/hostile-files.test.ts and scripts/bench/hostile.ts.
import zlib from "node:zlib";
import { Zip, ZipDeflate } from "fflate";

export interface HostileFile {
  name: string;
  mimeType: string;
  bytes: Uint8Array;
  /** The setting whose limit the file breaks with the default configuration. */
  limit: RegExp;
}

const MB = 1024 * 1024;

function zip(parts: Array<{ name: string; chunks: () => Iterable<Uint8Array> }>): Uint8Array {
  const out: Uint8Array[] = [];
  const archive = new Zip((error, data) => {
    if (error) throw error;
    out.push(data);
  });
  for (const part of parts) {
    const entry = new ZipDeflate(part.name, { level: 9 });
    archive.add(entry);
    let previous: Uint8Array | undefined;
    for (const chunk of part.chunks()) {
      if (previous) entry.push(previous);
      previous = chunk;
    }
    entry.push(previous ?? new Uint8Array(), true);
  }
  archive.end();
  return Buffer.concat(out);
}

const text = (value: string) => () => [new TextEncoder().encode(value)];

/** A DOCX whose word/document.xml inflates to `spaces` bytes of spaces (about 1,000:1). */
export function docxBomb(spaces = 200 * MB): HostileFile {
  const w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main";
  const blank = new Uint8Array(MB).fill(0x20);
  const bytes = zip([
    {
      name: "[Content_Types].xml",
      chunks: text(
        '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
      ),
    },
    {
      name: "_rels/.rels",
      chunks: text(
        '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>',
      ),
    },
    {
      name: "word/document.xml",
      *chunks() {
        yield new TextEncoder().encode(
          `<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="${w}"><w:body><w:p><w:r><w:t xml:space="preserve">Bomb`,
        );
        for (let left = spaces; left > 0; left -= MB) yield blank.subarray(0, Math.min(MB, left));
        yield new TextEncoder().encode("</w:t></w:r></w:p></w:body></w:document>");
      },
    },
  ]);
  return {
    name: "bomb.docx",
    mimeType: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    bytes,
    limit: /\(INGEST_MAX_DECOMPRESSED_BYTES\)/,
  };
}

/** A PDF from its objects (1-based, in order), with a correct cross-reference table. */
function pdf(objects: Array<string | Buffer>): Uint8Array {
  const parts: Buffer[] = [Buffer.from("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "latin1")];
  let length = parts[0]!.length;
  const offsets: number[] = [];
  objects.forEach((object, index) => {
    offsets.push(length);
    const body = Buffer.concat([
      Buffer.from(`${index + 1} 0 obj\n`),
      typeof object === "string" ? Buffer.from(object, "latin1") : object,
      Buffer.from("\nendobj\n"),
    ]);
    parts.push(body);
    length += body.length;
  });
  const xref = [
    "xref",
    `0 ${objects.length + 1}`,
    "0000000000 65535 f ",
    ...offsets.map((offset) => `${String(offset).padStart(10, "0")} 00000 n `),
    "trailer",
    `<< /Size ${objects.length + 1} /Root 1 0 R >>`,
    "startxref",
    String(length),
    "%%EOF",
  ].join("\n");
  parts.push(Buffer.from(`${xref}\n`));
  return Buffer.concat(parts);
}

/** A one-page PDF whose one FlateDecode content stream expands to `size` bytes of text. */
export function pdfBomb(size = 54 * 1000 * 1000): HostileFile {
  const line = Buffer.from("BT /F1 12 Tf 72 720 Td (All work and no play makes a bomb) Tj ET\n");
  const content = Buffer.alloc(size);
  for (let at = 0; at < size; at += line.length) line.copy(content, at);
  const stream = zlib.deflateSync(content, { level: 9 });
  return {
    name: "bomb.pdf",
    mimeType: "application/pdf",
    bytes: pdf([
      "<< /Type /Catalog /Pages 2 0 R >>",
      "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
      "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
      Buffer.concat([
        Buffer.from(`<< /Length ${stream.length} /Filter /FlateDecode >>\nstream\n`),
        stream,
        Buffer.from("\nendstream"),
      ]),
      "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]),
    limit: /\(INGEST_MAX_DECOMPRESSED_BYTES\)/,
  };
}

/** A PDF of `count` pages with nothing on them. */
export function emptyPagesPdf(count = 10_000): HostileFile {
  const kids = Array.from({ length: count }, (_, index) => `${index + 4} 0 R`).join(" ");
  const pages = Array.from(
    { length: count },
    () => "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 3 0 R >>",
  );
  return {
    name: "empty-pages.pdf",
    mimeType: "application/pdf",
    bytes: pdf([
      "<< /Type /Catalog /Pages 2 0 R >>",
      `<< /Type /Pages /Kids [${kids}] /Count ${count} >>`,
      "<< /Length 0 >>\nstream\n\nendstream",
      ...pages,
    ]),
    limit: /\(INGEST_MAX_PDF_PAGES\)/,
  };
}

/** An HTML page of `size` bytes of paragraphs. */
export function hugeHtml(size = 50 * MB): HostileFile {
  const paragraph = Buffer.from(
    "<p>Hostile pages repeat the same sentence until memory runs out.</p>\n",
  );
  const head = Buffer.from("<!doctype html><html><head><title>Huge</title></head><body>\n");
  const bytes = Buffer.alloc(size + head.length + 16, 0x20);
  head.copy(bytes, 0);
  for (let at = head.length; at + paragraph.length <= head.length + size; at += paragraph.length)
    paragraph.copy(bytes, at);
  Buffer.from("</body></html>").copy(bytes, bytes.length - 16);
  return {
    name: "huge.html",
    mimeType: "text/html",
    bytes,
    limit: /\(INGEST_MAX_TEXT_CHARS\)/,
  };
}

/** An HTML page with `depth` nested <div>s. */
export function deepHtml(depth = 100_000): HostileFile {
  const page = `<!doctype html><html><body>${"<div>".repeat(depth)}deep${"</div>".repeat(depth)}</body></html>`;
  return {
    name: "deep.html",
    mimeType: "text/html",
    bytes: new TextEncoder().encode(page),
    limit: /\(INGEST_MAX_HTML_DEPTH\)/,
  };
}

export function hostileFiles(): HostileFile[] {
  return [docxBomb(), pdfBomb(), hugeHtml(), deepHtml(), emptyPagesPdf()];
}
