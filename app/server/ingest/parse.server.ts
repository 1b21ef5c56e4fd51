// Turns the bytes of an uploaded file, pasted text or fetched page into a ParsedDocument: a
// title and the document's text as ordered blocks, each carrying the path of headings it
// sits under. Supports plain text, Markdown, HTML, PDF and DOCX; anything else is refused
// with UnsupportedDocumentError. Pure: reads no files, no network, no database.
import path from "node:path";
import { isProbablyReaderable, Readability } from "@mozilla/readability";
import { parseHTML } from "linkedom";
import mammoth from "mammoth";
import { getDocumentProxy } from "unpdf";
import {
  checkMarkup,
  checkPdfExpansion,
  checkZipExpansion,
  DocumentLimitError,
  type DocumentLimits,
  elementDepthExceeds,
  textTooLong,
  UNLIMITED,
} from "./document-limits.server.ts";

export type BlockKind = "heading" | "paragraph" | "list" | "code" | "table";

export interface Block {
  /**
   * Heading texts from the outermost (h1) down. A heading block's path ends with its own
   * text; every other block's path is the headings it sits under.
   */
  headingPath: string[];
  text: string;
  kind: BlockKind;
}

export interface ParsedDocument {
  title: string;
  blocks: Block[];
}

export interface ParseInput {
  bytes: Uint8Array;
  fileName?: string;
  /** May carry parameters (`text/html; charset=iso-8859-1`); the charset is honoured. */
  mimeType?: string;
  kind: "file" | "text" | "url";
}

export type DocumentFormat = "text" | "markdown" | "html" | "pdf" | "docx";

/** The document's type is not one we can read, or its bytes are not what the type claims. */
export class UnsupportedDocumentError extends Error {
  override name = "UnsupportedDocumentError";
}

/** The document was read but holds no text (e.g. a scanned PDF or an empty file). */
export class EmptyDocumentError extends Error {
  override name = "EmptyDocumentError";
}

export const SUPPORTED_EXTENSIONS: Readonly<Record<string, DocumentFormat>> = {
  ".txt": "text",
  ".text": "text",
  ".md": "markdown",
  ".markdown": "markdown",
  ".html": "html",
  ".htm": "html",
  ".xhtml": "html",
  ".pdf": "pdf",
  ".docx": "docx",
};

export const SUPPORTED_MIME_TYPES: Readonly<Record<string, DocumentFormat>> = {
  "text/plain": "text",
  "text/markdown": "markdown",
  "text/x-markdown": "markdown",
  "text/html": "html",
  "application/xhtml+xml": "html",
  "application/pdf": "pdf",
  "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
};

const SUPPORTED_LIST = ".txt, .md, .html, .pdf, .docx";
const MAX_TITLE_CHARS = 200;

function mimeEssence(mimeType: string | undefined): string | undefined {
  const essence = mimeType?.split(";")[0]?.trim().toLowerCase();
  return essence || undefined;
}

function mimeCharset(mimeType: string | undefined): string | undefined {
  const match = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(mimeType ?? "");
  return match?.[1]?.toLowerCase();
}

function startsWith(bytes: Uint8Array, signature: readonly number[]): boolean {
  return signature.every((byte, index) => bytes[index] === byte);
}

/**
 * Decides the format: a known file extension first, then a known MIME type, then (only when
 * neither says anything, e.g. `application/octet-stream` with no extension) the bytes
 * themselves. A name or type we do not support is refused rather than guessed at.
 */
export function detectFormat(input: ParseInput): DocumentFormat {
  const extension = input.fileName ? path.extname(input.fileName).toLowerCase() : "";
  const byExtension = SUPPORTED_EXTENSIONS[extension];
  if (byExtension) return byExtension;
  const mime = mimeEssence(input.mimeType);
  const byMime = mime ? SUPPORTED_MIME_TYPES[mime] : undefined;
  if (byMime) return byMime;
  const unknownMime = mime !== undefined && mime !== "application/octet-stream";
  if (extension || unknownMime) {
    const what = [input.fileName, mime].filter(Boolean).join(", ");
    throw new UnsupportedDocumentError(
      `Unsupported document type (${what}). Supported types: ${SUPPORTED_LIST}.`,
    );
  }
  if (startsWith(input.bytes, [0x25, 0x50, 0x44, 0x46, 0x2d])) return "pdf"; // %PDF-
  if (startsWith(input.bytes, [0x50, 0x4b, 0x03, 0x04])) return "docx"; // a ZIP package
  const head = new TextDecoder("utf-8")
    .decode(input.bytes.subarray(0, 512))
    .trimStart()
    .toLowerCase();
  if (head.startsWith("<!doctype html") || head.startsWith("<html")) return "html";
  // Pasted text is usually Markdown or prose, and prose reads the same under Markdown rules.
  return input.kind === "text" ? "markdown" : "text";
}

// --- text decoding and whitespace ---------------------------------------------------------

// C0 control characters other than tab, newline, vertical tab, form feed and carriage return.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u0008\u000e-\u001f]/g;

function looksBinary(text: string): boolean {
  const sample = text.slice(0, 65_536);
  const controls = sample.match(CONTROL)?.length ?? 0;
  return controls > Math.max(8, sample.length * 0.01);
}

/**
 * Bytes to text: a byte-order mark or an explicit charset wins, then strict UTF-8, then
 * Windows-1252 (the usual encoding of legacy text files). Binary content is refused here so
 * that a mislabelled image never reaches the index as gibberish.
 */
export function decodeText(bytes: Uint8Array, charset?: string): string {
  let text: string | undefined;
  if (startsWith(bytes, [0xef, 0xbb, 0xbf]))
    text = new TextDecoder("utf-8").decode(bytes.subarray(3));
  else if (startsWith(bytes, [0xff, 0xfe]))
    text = new TextDecoder("utf-16le").decode(bytes.subarray(2));
  else if (startsWith(bytes, [0xfe, 0xff]))
    text = new TextDecoder("utf-16be").decode(bytes.subarray(2));
  else if (charset && charset !== "utf-8" && charset !== "utf8") {
    try {
      text = new TextDecoder(charset).decode(bytes);
    } catch {
      // An unknown charset label: fall through to detection.
    }
  }
  if (text === undefined) {
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      text = new TextDecoder("windows-1252").decode(bytes);
    }
  }
  if (looksBinary(text)) {
    throw new UnsupportedDocumentError("The file looks like binary data, not text.");
  }
  return text;
}

/** Line endings to \n, control characters and zero-width characters removed. */
function normaliseSource(text: string): string {
  return text
    .replace(/\r\n?/g, "\n")
    .replace(CONTROL, "")
    .replace(/[\u200b-\u200d\u2060\ufeff]/g, "");
}

/** One line of prose: every run of whitespace (including non-breaking spaces) becomes one space. */
function cleanInline(text: string | null | undefined): string {
  return normaliseSource(text ?? "")
    .replace(/\s+/g, " ")
    .trim();
}

/** Line-structured text (lists, tables): each line cleaned, leading indentation kept, empty lines dropped. */
function cleanLines(text: string): string {
  return normaliseSource(text)
    .split("\n")
    .map((line) => {
      const indent = /^ */.exec(line.replace(/\t/g, "  "))?.[0] ?? "";
      const body = cleanInline(line);
      return body ? indent + body : "";
    })
    .filter(Boolean)
    .join("\n");
}

/** Code keeps its layout; only trailing spaces and blank edges go. */
function cleanCode(text: string): string {
  return normaliseSource(text)
    .split("\n")
    .map((line) => line.replace(/\s+$/, ""))
    .join("\n")
    .replace(/^\n+|\n+$/g, "");
}

function cleanBlockText(kind: BlockKind, text: string): string {
  if (kind === "code") return cleanCode(text);
  if (kind === "list" || kind === "table") return cleanLines(text);
  return cleanInline(text);
}

// --- building blocks under a heading stack ------------------------------------------------

class BlockBuilder {
  readonly blocks: Block[] = [];
  private stack: Array<{ level: number; text: string }> = [];
  /** Path elements above every heading, e.g. `Page 3` for PDFs. */
  prefix: string[] = [];
  private chars = 0;

  /** `maxChars`: INGEST_MAX_TEXT_CHARS, counted as blocks are added. */
  constructor(private readonly maxChars = Infinity) {}

  private count(text: string): void {
    this.chars += text.length;
    if (this.chars > this.maxChars) throw textTooLong(this.maxChars);
  }

  private path(): string[] {
    return [...this.prefix, ...this.stack.map((heading) => heading.text)];
  }

  heading(level: number, rawText: string | null | undefined): void {
    const text = cleanInline(rawText);
    if (!text) return;
    while (this.stack.length > 0 && (this.stack.at(-1)?.level ?? 0) >= level) this.stack.pop();
    this.count(text);
    this.stack.push({ level, text });
    this.blocks.push({ kind: "heading", text, headingPath: this.path() });
  }

  /** Continues the last heading (a heading wrapped over several lines of a PDF). */
  extendHeading(rawText: string): void {
    const last = this.blocks.at(-1);
    const top = this.stack.at(-1);
    if (!last || last.kind !== "heading" || !top) return;
    top.text = cleanInline(`${top.text} ${rawText}`);
    last.text = top.text;
    last.headingPath = this.path();
  }

  add(kind: Exclude<BlockKind, "heading">, rawText: string | null | undefined): void {
    const text = cleanBlockText(kind, rawText ?? "");
    if (!text) return;
    this.count(text);
    this.blocks.push({ kind, text, headingPath: this.path() });
  }
}

// --- plain text ---------------------------------------------------------------------------

const BULLET_LINE = /^\s*(?:[-*+•‣◦]|\d{1,3}[.)])\s+\S/;

/** A short line with no closing punctuation that stands alone reads as a heading. */
function looksLikeHeading(paragraph: string): boolean {
  if (paragraph.includes("\n")) return false;
  const text = paragraph.trim();
  return (
    text.length <= 80 &&
    text.split(/\s+/).length <= 12 &&
    /^[\p{L}\p{N}]/u.test(text) &&
    !/[.,;:!?]$/.test(text)
  );
}

function parsePlainText(source: string, maxChars: number): BlockBuilder {
  const builder = new BlockBuilder(maxChars);
  const paragraphs = normaliseSource(source)
    .split(/\n[ \t]*\n/)
    .map((paragraph) => paragraph.replace(/^\n+|\s+$/g, ""))
    .filter((paragraph) => paragraph.trim() !== "");
  let seenBody = false;
  paragraphs.forEach((paragraph, index) => {
    const lines = paragraph.split("\n");
    const underline = lines.length === 2 ? /^\s*(=+|-+)\s*$/.exec(lines[1] as string) : null;
    if (underline) {
      builder.heading(underline[1]?.startsWith("=") ? 1 : 2, lines[0]);
    } else if (index < paragraphs.length - 1 && looksLikeHeading(paragraph)) {
      // The opening line of a document is its title; later ones are its sections.
      builder.heading(!seenBody && index === 0 ? 1 : 2, paragraph);
    } else if (lines.every((line) => BULLET_LINE.test(line))) {
      builder.add("list", paragraph);
      seenBody = true;
    } else {
      builder.add("paragraph", paragraph);
      seenBody = true;
    }
  });
  return builder;
}

// --- Markdown -----------------------------------------------------------------------------

const FENCE_OPEN = /^( {0,3})(`{3,}|~{3,})(.*)$/;
const ATX = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const SETEXT_1 = /^ {0,3}=+[ \t]*$/;
const SETEXT_2 = /^ {0,3}-{2,}[ \t]*$/;
const THEMATIC_BREAK = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
const LIST_ITEM = /^( *)([-*+]|\d{1,9}[.)])[ \t]+(.*)$/;
const TABLE_DELIMITER = /^ *\|? *:?-+:? *(?:\| *:?-+:? *)*\|? *$/;
const REFERENCE_DEFINITION = /^ {0,3}\[[^\]]+\]:\s*\S+/;

/** Markdown inline syntax to the text a reader sees. Code spans are kept verbatim, so
 * `<script>` in backticks stays in the text instead of being dropped as an HTML tag. */
function inlineMarkdown(text: string): string {
  return text
    .split(/(`+)(.+?)\1/)
    .map((part, index) => {
      // split() with two groups yields [text, ticks, code, text, ticks, code, …].
      if (index % 3 === 2) return part;
      if (index % 3 === 1) return "";
      return inlineMarkup(part);
    })
    .join("");
}

function inlineMarkup(text: string): string {
  return text
    .replace(/!\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/\[([^\]]+)\]\((?:[^()]|\([^)]*\))*\)/g, "$1")
    .replace(/\[([^\]]+)\]\[[^\]]*\]/g, "$1")
    .replace(/<((?:https?|mailto):[^>\s]+)>/g, "$1")
    .replace(/<\/?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?\/?>/g, " ")
    .replace(/(\*\*|__)(?=\S)(.*?\S)\1/g, "$2")
    .replace(/(^|[^\w*])\*(?=\S)([^*]*?\S)\*(?![\w*])/g, "$1$2")
    .replace(/(^|[^\w_])_(?=\S)([^_]*?\S)_(?![\w_])/g, "$1$2")
    .replace(/~~(?=\S)(.*?\S)~~/g, "$1")
    .replace(/\\([\\`*_{}[\]()#+\-.!|>~])/g, "$1");
}

function tableCells(line: string): string[] {
  return line
    .trim()
    .replace(/^\|/, "")
    .replace(/(?<!\\)\|$/, "")
    .split(/(?<!\\)\|/)
    .map((cell) => inlineMarkdown(cell.trim()));
}

function frontMatterTitle(lines: readonly string[]): { title?: string; end: number } {
  if (lines[0]?.trim() !== "---") return { end: 0 };
  for (let index = 1; index < Math.min(lines.length, 200); index++) {
    const line = lines[index] as string;
    if (line.trim() === "---" || line.trim() === "...") {
      const titleLine = lines.slice(1, index).find((l) => /^title\s*:/i.test(l));
      const title = titleLine?.replace(/^title\s*:\s*/i, "").replace(/^(["'])(.*)\1$/, "$2");
      return { title: cleanInline(title) || undefined, end: index + 1 };
    }
  }
  return { end: 0 };
}

function parseMarkdown(
  source: string,
  maxChars: number,
): { builder: BlockBuilder; title?: string } {
  const builder = new BlockBuilder(maxChars);
  const lines = normaliseSource(source).split("\n");
  const front = frontMatterTitle(lines);
  let paragraph: string[] = [];
  const flush = () => {
    if (paragraph.length > 0) builder.add("paragraph", inlineMarkdown(paragraph.join(" ")));
    paragraph = [];
  };
  const startsBlock = (line: string) =>
    FENCE_OPEN.test(line) || ATX.test(line) || THEMATIC_BREAK.test(line) || /^ {0,3}>/.test(line);

  let i = front.end;
  while (i < lines.length) {
    const line = lines[i] as string;
    const fence = FENCE_OPEN.exec(line);
    if (fence && !(fence[2]?.startsWith("`") && fence[3]?.includes("`"))) {
      flush();
      const marker = fence[2] as string;
      const indent = (fence[1] as string).length;
      const code: string[] = [];
      i++;
      while (i < lines.length) {
        const current = lines[i] as string;
        const close = /^ {0,3}(`{3,}|~{3,})[ \t]*$/.exec(current);
        if (close && close[1]?.[0] === marker[0] && (close[1]?.length ?? 0) >= marker.length) break;
        code.push(current.replace(new RegExp(`^ {0,${indent}}`), ""));
        i++;
      }
      i++; // the closing fence (or the end of an unclosed block)
      builder.add("code", code.join("\n"));
      continue;
    }
    if (line.trim() === "") {
      flush();
      i++;
      continue;
    }
    const atx = ATX.exec(line);
    if (atx) {
      flush();
      builder.heading((atx[1] as string).length, inlineMarkdown(atx[2] ?? ""));
      i++;
      continue;
    }
    if (paragraph.length > 0 && (SETEXT_1.test(line) || SETEXT_2.test(line))) {
      builder.heading(SETEXT_1.test(line) ? 1 : 2, inlineMarkdown(paragraph.join(" ")));
      paragraph = [];
      i++;
      continue;
    }
    if (THEMATIC_BREAK.test(line)) {
      flush();
      i++;
      continue;
    }
    if (
      line.includes("|") &&
      TABLE_DELIMITER.test(lines[i + 1] ?? "") &&
      (lines[i + 1] ?? "").includes("-")
    ) {
      flush();
      const rows = [tableCells(line)];
      i += 2;
      while (
        i < lines.length &&
        (lines[i] as string).includes("|") &&
        (lines[i] as string).trim() !== ""
      ) {
        rows.push(tableCells(lines[i] as string));
        i++;
      }
      builder.add("table", rows.map((row) => row.join(" | ")).join("\n"));
      continue;
    }
    if (LIST_ITEM.test(line)) {
      flush();
      const items: Array<{ indent: number; marker: string; text: string }> = [];
      while (i < lines.length) {
        const current = lines[i] as string;
        const item = LIST_ITEM.exec(current);
        if (item) {
          items.push({
            indent: (item[1] as string).length,
            marker: item[2] as string,
            text: item[3] as string,
          });
          i++;
          continue;
        }
        if (current.trim() === "") {
          const next = lines.slice(i + 1).find((l) => l.trim() !== "");
          if (next !== undefined && (LIST_ITEM.test(next) || /^( {2,}|\t)/.test(next))) {
            i++;
            continue;
          }
          break;
        }
        if (startsBlock(current)) break;
        // A continuation line (indented or lazy) belongs to the item above it.
        const last = items.at(-1) as { text: string };
        last.text += ` ${current.trim()}`;
        i++;
      }
      const indents = [...new Set(items.map((item) => item.indent))].sort((a, b) => a - b);
      builder.add(
        "list",
        items
          .map((item) => {
            const depth = indents.indexOf(item.indent);
            const marker = /^\d/.test(item.marker) ? item.marker : "-";
            return `${"  ".repeat(depth)}${marker} ${inlineMarkdown(item.text)}`;
          })
          .join("\n"),
      );
      continue;
    }
    if (paragraph.length === 0 && /^( {4}|\t)/.test(line)) {
      const code: string[] = [];
      while (
        i < lines.length &&
        (/^( {4}|\t)/.test(lines[i] as string) || (lines[i] as string).trim() === "")
      ) {
        code.push((lines[i] as string).replace(/^( {4}|\t)/, ""));
        i++;
      }
      builder.add("code", code.join("\n"));
      continue;
    }
    if (paragraph.length === 0 && REFERENCE_DEFINITION.test(line)) {
      i++;
      continue;
    }
    const quote = /^ {0,3}>[ ]?(.*)$/.exec(line);
    paragraph.push(quote ? (quote[1] as string) : line.trim());
    i++;
  }
  flush();
  return { builder, title: front.title };
}

// --- HTML ---------------------------------------------------------------------------------

// Elements whose content is never document text: code, styling, navigation, site chrome, forms' controls.
const SKIPPED = new Set([
  "SCRIPT",
  "STYLE",
  "NOSCRIPT",
  "TEMPLATE",
  "NAV",
  "FOOTER",
  "SVG",
  "CANVAS",
  "IFRAME",
  "OBJECT",
  "EMBED",
  "BUTTON",
  "SELECT",
  "INPUT",
  "TEXTAREA",
  "HEAD",
  "TITLE",
  "META",
  "LINK",
]);

const BLOCK_ELEMENTS = new Set([
  "ADDRESS",
  "ARTICLE",
  "ASIDE",
  "BLOCKQUOTE",
  "BODY",
  "CENTER",
  "DD",
  "DETAILS",
  "DIALOG",
  "DIV",
  "DL",
  "DT",
  "FIELDSET",
  "FIGCAPTION",
  "FIGURE",
  "FORM",
  "HEADER",
  "HGROUP",
  "HR",
  "HTML",
  "LI",
  "MAIN",
  "P",
  "SECTION",
  "SUMMARY",
  "TBODY",
  "TD",
  "TFOOT",
  "TH",
  "THEAD",
  "TR",
  "CAPTION",
]);

const BLOCK_SELECTOR = [
  ...BLOCK_ELEMENTS,
  "H1",
  "H2",
  "H3",
  "H4",
  "H5",
  "H6",
  "PRE",
  "UL",
  "OL",
  "TABLE",
]
  .map((tag) => tag.toLowerCase())
  .join(",");

const TEXT_NODE = 3;
const ELEMENT_NODE = 1;

function isSkipped(element: Element): boolean {
  const role = element.getAttribute("role");
  return (
    SKIPPED.has(element.tagName.toUpperCase()) ||
    element.hasAttribute("hidden") ||
    element.getAttribute("aria-hidden") === "true" ||
    role === "navigation" ||
    role === "contentinfo"
  );
}

/** The visible text of an element, without skipped elements and (optionally) nested lists. */
function textOf(node: Node | null | undefined, options: { skipLists?: boolean } = {}): string {
  if (!node) return "";
  if (node.nodeType === TEXT_NODE) return node.textContent ?? "";
  if (node.nodeType !== ELEMENT_NODE) return "";
  const element = node as Element;
  const tag = element.tagName.toUpperCase();
  if (isSkipped(element)) return "";
  if (options.skipLists && (tag === "UL" || tag === "OL")) return "";
  if (tag === "BR") return "\n";
  const parts: string[] = [];
  for (const child of Array.from(element.childNodes)) parts.push(textOf(child, options));
  const text = parts.join("");
  return BLOCK_ELEMENTS.has(tag) || /^H[1-6]$/.test(tag) ? ` ${text} ` : text;
}

function renderList(list: Element, depth: number): string[] {
  const ordered = list.tagName.toUpperCase() === "OL";
  let number = Number(list.getAttribute("start") ?? "1") || 1;
  const lines: string[] = [];
  for (const child of Array.from(list.children)) {
    if (child.tagName.toUpperCase() !== "LI") continue;
    const text = cleanInline(textOf(child, { skipLists: true }));
    if (text) lines.push(`${"  ".repeat(depth)}${ordered ? `${number}.` : "-"} ${text}`);
    number++;
    for (const nested of Array.from(child.querySelectorAll("ul, ol"))) {
      // Only lists directly inside this item; deeper ones are rendered by their own parent.
      if (nested.parentElement?.closest("li") === child)
        lines.push(...renderList(nested, depth + 1));
    }
  }
  return lines;
}

function renderTable(table: Element): string {
  const lines: string[] = [];
  const caption = table.querySelector("caption");
  if (caption) lines.push(cleanInline(textOf(caption)));
  for (const row of Array.from(table.querySelectorAll("tr"))) {
    const cells = Array.from(row.children)
      .filter((cell) => /^T[HD]$/.test(cell.tagName.toUpperCase()))
      .map((cell) => cleanInline(textOf(cell)));
    if (cells.some(Boolean)) lines.push(cells.join(" | "));
  }
  return lines.join("\n");
}

function walkHtml(root: Element, builder: BlockBuilder): void {
  let inline: string[] = [];
  const flush = () => {
    // A double <br> separates paragraphs in pages that use no <p>; whitespace from the
    // source markup never does.
    for (const part of inline.join("").split(/\n[ ]*\n/)) builder.add("paragraph", part);
    inline = [];
  };
  const visitChildren = (element: Element) => {
    for (const child of Array.from(element.childNodes)) visit(child);
  };
  const visit = (node: Node) => {
    if (node.nodeType === TEXT_NODE) {
      inline.push((node.textContent ?? "").replace(/\s+/g, " "));
      return;
    }
    if (node.nodeType !== ELEMENT_NODE) return;
    const element = node as Element;
    if (isSkipped(element)) return;
    const tag = element.tagName.toUpperCase();
    if (tag === "BR") {
      inline.push("\n");
      return;
    }
    const heading = /^H([1-6])$/.exec(tag);
    if (heading) {
      flush();
      builder.heading(Number(heading[1]), textOf(element));
      return;
    }
    if (tag === "PRE") {
      flush();
      builder.add("code", element.textContent ?? "");
      return;
    }
    if (tag === "UL" || tag === "OL") {
      flush();
      builder.add("list", renderList(element, 0).join("\n"));
      return;
    }
    if (tag === "TABLE") {
      flush();
      // Tables that hold headings, code or other tables lay out a page rather than data.
      if (element.querySelector("table, h1, h2, h3, h4, h5, h6, pre")) visitChildren(element);
      else builder.add("table", renderTable(element));
      flush();
      return;
    }
    if (BLOCK_ELEMENTS.has(tag) || element.querySelector(BLOCK_SELECTOR)) {
      flush();
      visitChildren(element);
      flush();
      return;
    }
    visitChildren(element);
  };
  visit(root);
  flush();
}

function htmlDocument(html: string): Document {
  // linkedom builds no <html>/<body> around a fragment, so wrap one ourselves.
  const source = /<html[\s>]/i.test(html)
    ? html
    : `<!doctype html><html><head></head><body>${html}</body></html>`;
  return parseHTML(source).document as unknown as Document;
}

// Below this much text Readability has probably cut the page to a teaser; keep the body.
const MIN_ARTICLE_CHARS = 200;

function parseHtml(
  html: string,
  options: { readability: boolean; limits: DocumentLimits },
): { builder: BlockBuilder; title?: string } {
  const { maxHtmlDepth, maxTextChars } = options.limits;
  const tooDeep = () =>
    new DocumentLimitError(
      `The page nests elements more than ${maxHtmlDepth} deep (INGEST_MAX_HTML_DEPTH).`,
    );
  // The parser and the walkers below slow down with depth (or recurse): a page nested deeper
  // than the limit is refused from its markup, and checked again on the tree built.
  checkMarkup(html, options.limits);
  const document = htmlDocument(html);
  if (document.documentElement && elementDepthExceeds(document.documentElement, maxHtmlDepth))
    throw tooDeep();
  const builder = new BlockBuilder(maxTextChars);
  const pageTitle = cleanInline(textOf(document.querySelector("title")?.firstChild));
  const firstH1 = cleanInline(textOf(document.querySelector("h1")));
  let root: Element | null = document.body ?? document.documentElement;
  if (options.readability && isProbablyReaderable(document)) {
    const article = new Readability(document.cloneNode(true) as Document).parse();
    if (article?.content && cleanInline(article.textContent).length >= MIN_ARTICLE_CHARS) {
      const content = htmlDocument(article.content);
      // Readability removes the <h1> that repeats the page title; it still heads the text.
      if (firstH1 && !content.querySelector("h1")) builder.heading(1, firstH1);
      root = content.body;
    }
  }
  if (root) walkHtml(root, builder);
  return { builder, title: pageTitle || firstH1 || undefined };
}

// --- DOCX ---------------------------------------------------------------------------------

async function parseDocx(bytes: Uint8Array, limits: DocumentLimits): Promise<BlockBuilder> {
  // Every part is inflated and counted first, so a bomb stops at the limit, not in mammoth.
  checkZipExpansion(bytes, limits.maxDecompressedBytes);
  let html: string;
  try {
    const result = await mammoth.convertToHtml(
      { buffer: Buffer.from(bytes) },
      // Images are not text: leave them out instead of inlining them as data: URLs.
      { convertImage: mammoth.images.imgElement(() => Promise.resolve({ src: "" })) },
    );
    html = result.value;
  } catch (error) {
    throw new UnsupportedDocumentError(`Could not read the DOCX file: ${errorMessage(error)}`);
  }
  // Mammoth maps Word's heading styles to <h1>..<h6>, so the HTML walker keeps the outline.
  return parseHtml(html, { readability: false, limits }).builder;
}

// --- PDF ----------------------------------------------------------------------------------

interface PdfTextItem {
  str: string;
  transform: number[];
  width: number;
  height: number;
  hasEOL: boolean;
}

interface PdfLine {
  text: string;
  size: number;
  y: number;
}

const roundSize = (size: number) => Math.round(size * 2) / 2;

function pdfLines(items: readonly unknown[]): PdfLine[] {
  const lines: PdfLine[] = [];
  let current:
    { parts: string[]; size: number; longest: number; y: number; xEnd: number } | undefined;
  const end = () => {
    const text = cleanInline(current?.parts.join(""));
    if (current && text) lines.push({ text, size: current.size, y: current.y });
    current = undefined;
  };
  for (const raw of items) {
    if (typeof raw !== "object" || raw === null || !("str" in raw)) continue;
    const item = raw as PdfTextItem;
    const [, , , d = 0, x = 0, y = 0] = item.transform;
    const size = Math.abs(d) || item.height;
    if (item.str !== "") {
      if (current && Math.abs(y - current.y) > Math.max(size, current.size) * 0.5) end();
      if (!current) current = { parts: [], size, longest: 0, y, xEnd: x };
      else if (x - current.xEnd > size * 0.15 && !/\s$/.test(current.parts.at(-1) ?? ""))
        current.parts.push(" ");
      current.parts.push(item.str);
      current.xEnd = x + item.width;
      // A line's size is that of its longest run, so a drop cap does not make it a heading.
      if (item.str.length > current.longest) {
        current.longest = item.str.length;
        current.size = size;
      }
    }
    if (item.hasEOL) end();
  }
  end();
  return lines;
}

function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/**
 * Rebuilds paragraphs and headings from positioned text: the size that carries most of the
 * characters is body text, larger short lines are headings (bigger = higher level), and a
 * vertical gap clearly wider than the usual line spacing ends a paragraph.
 */
function layoutPdf(pages: PdfLine[][], maxChars: number): BlockBuilder {
  const charsBySize = new Map<number, number>();
  for (const line of pages.flat()) {
    const size = roundSize(line.size);
    charsBySize.set(size, (charsBySize.get(size) ?? 0) + line.text.length);
  }
  const bodySize =
    [...charsBySize.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]?.[0] ?? 0;
  const isHeading = (line: PdfLine) =>
    roundSize(line.size) >= bodySize * 1.15 &&
    line.text.length <= 200 &&
    /[\p{L}\p{N}]/u.test(line.text);
  const headingSizes = [
    ...new Set(
      pages
        .flat()
        .filter(isHeading)
        .map((line) => roundSize(line.size)),
    ),
  ].sort((a, b) => b - a);
  const gaps: number[] = [];
  for (const lines of pages) {
    for (let index = 1; index < lines.length; index++) {
      const [previous, line] = [lines[index - 1] as PdfLine, lines[index] as PdfLine];
      const gap = previous.y - line.y;
      if (!isHeading(previous) && !isHeading(line) && gap > 0) gaps.push(gap);
    }
  }
  const paragraphGap = (median(gaps) ?? bodySize * 1.3) * 1.4;

  const builder = new BlockBuilder(maxChars);
  pages.forEach((lines, pageIndex) => {
    builder.prefix = [`Page ${pageIndex + 1}`];
    let paragraph = "";
    const flush = () => {
      builder.add("paragraph", paragraph);
      paragraph = "";
    };
    let previous: PdfLine | undefined;
    for (const line of lines) {
      const gap = previous ? previous.y - line.y : 0;
      if (isHeading(line)) {
        flush();
        const sameHeading =
          previous &&
          isHeading(previous) &&
          roundSize(previous.size) === roundSize(line.size) &&
          gap > 0;
        if (sameHeading && gap <= line.size * 1.6) builder.extendHeading(line.text);
        else
          builder.heading(Math.min(headingSizes.indexOf(roundSize(line.size)) + 1, 6), line.text);
      } else {
        const newParagraph =
          !previous ||
          isHeading(previous) ||
          gap > paragraphGap ||
          gap < 0 ||
          roundSize(line.size) !== roundSize(previous.size);
        if (newParagraph) flush();
        // A word hyphenated at the end of a line is joined back together.
        if (/\p{L}-$/u.test(paragraph) && /^\p{Ll}/u.test(line.text))
          paragraph = paragraph.slice(0, -1) + line.text;
        else paragraph = paragraph ? `${paragraph} ${line.text}` : line.text;
      }
      previous = line;
    }
    flush();
  });
  return builder;
}

async function parsePdf(
  bytes: Uint8Array,
  limits: DocumentLimits,
): Promise<{ builder: BlockBuilder; title?: string }> {
  // Every zlib stream is inflated and counted first; pdf.js would hold each one whole.
  checkPdfExpansion(bytes, limits.maxDecompressedBytes);
  let pdf: Awaited<ReturnType<typeof getDocumentProxy>>;
  try {
    // pdf.js takes ownership of (detaches) the buffer it is given, so hand it a copy.
    pdf = await getDocumentProxy(bytes.slice(), { verbosity: 0, isEvalSupported: false });
  } catch (error) {
    const reason =
      (error as { name?: string }).name === "PasswordException"
        ? "it is password-protected"
        : errorMessage(error);
    throw new UnsupportedDocumentError(`Could not read the PDF: ${reason}`);
  }
  try {
    const metadata = await pdf.getMetadata().catch(() => undefined);
    const info = metadata?.info as { Title?: unknown } | undefined;
    if (pdf.numPages > limits.maxPdfPages) {
      throw new DocumentLimitError(
        `The PDF has more than ${limits.maxPdfPages} pages (INGEST_MAX_PDF_PAGES).`,
      );
    }
    const pages: PdfLine[][] = [];
    let chars = 0;
    for (let pageNumber = 1; pageNumber <= pdf.numPages; pageNumber++) {
      const page = await pdf.getPage(pageNumber);
      const content = await page.getTextContent();
      const lines = pdfLines(content.items);
      page.cleanup();
      for (const line of lines) chars += line.text.length;
      if (chars > limits.maxTextChars) throw textTooLong(limits.maxTextChars);
      pages.push(lines);
    }
    if (pages.every((lines) => lines.length === 0)) {
      throw new EmptyDocumentError(
        "The PDF has no extractable text; a scanned document needs OCR before it can be added.",
      );
    }
    const title = typeof info?.Title === "string" ? cleanInline(info.Title) : "";
    return { builder: layoutPdf(pages, limits.maxTextChars), title: title || undefined };
  } finally {
    await pdf.destroy();
  }
}

// --- entry point --------------------------------------------------------------------------

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1).trimEnd()}…`;
}

function fallbackTitle(blocks: readonly Block[], fileName: string | undefined): string {
  const heading = blocks.find((block) => block.kind === "heading")?.text;
  if (heading) return heading;
  const base = fileName ? path.basename(fileName, path.extname(fileName)).trim() : "";
  if (base) return base;
  const words = (blocks[0]?.text ?? "").split(/\s+/).slice(0, 8).join(" ");
  return words || "Untitled document";
}

/**
 * Reads a document of any supported type; see UnsupportedDocumentError and EmptyDocumentError.
 * Over one of `limits` it throws DocumentLimitError (the ingestion queue runs this in a worker
 * with memory and time limits besides: sandbox.server.ts).
 */
export async function parseDocument(
  input: ParseInput,
  limits: DocumentLimits = UNLIMITED,
): Promise<ParsedDocument> {
  if (input.bytes.length === 0) throw new EmptyDocumentError("The document is empty.");
  const format = detectFormat(input);
  const charset = mimeCharset(input.mimeType);
  let parsed: { builder: BlockBuilder; title?: string };
  switch (format) {
    case "text":
      parsed = { builder: parsePlainText(decodeText(input.bytes, charset), limits.maxTextChars) };
      break;
    case "markdown":
      parsed = parseMarkdown(decodeText(input.bytes, charset), limits.maxTextChars);
      break;
    case "html":
      parsed = parseHtml(decodeText(input.bytes, charset), { readability: true, limits });
      break;
    case "pdf":
      parsed = await parsePdf(input.bytes, limits);
      break;
    case "docx":
      parsed = { builder: await parseDocx(input.bytes, limits) };
      break;
  }
  const blocks = parsed.builder.blocks;
  if (blocks.length === 0) throw new EmptyDocumentError("The document contains no text.");
  const title = clip(
    cleanInline(parsed.title) || fallbackTitle(blocks, input.fileName),
    MAX_TITLE_CHARS,
  );
  return { title, blocks };
}
