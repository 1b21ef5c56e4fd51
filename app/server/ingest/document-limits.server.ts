// The limits one document must keep while it is parsed (decision 043): bytes after
// decompression, extracted text, PDF pages, HTML nesting and chunks. Each is checked while the
// work happens (inflating a DOCX part or a PDF stream, extracting text), so a bomb stops at the
// limit instead of after it has filled memory. A broken limit is a DocumentLimitError whose
// message names the setting and its value; the job fails with it and is not retried.
import { Unzip, UnzipInflate, Unzlib } from "fflate";

export interface DocumentLimits {
  /** INGEST_MAX_DECOMPRESSED_BYTES: all DOCX parts, or all zlib streams of a PDF, together. */
  maxDecompressedBytes: number;
  /** INGEST_MAX_TEXT_CHARS: characters of text extracted from one document. */
  maxTextChars: number;
  /** INGEST_MAX_PDF_PAGES */
  maxPdfPages: number;
  /** INGEST_MAX_HTML_DEPTH: elements nested inside each other. */
  maxHtmlDepth: number;
  /** INGEST_MAX_CHUNKS: chunks of one document. */
  maxChunks: number;
}

/** No limit: for callers that parse trusted input (tests, the demo's own docs). */
export const UNLIMITED: DocumentLimits = {
  maxDecompressedBytes: Infinity,
  maxTextChars: Infinity,
  maxPdfPages: Infinity,
  maxHtmlDepth: Infinity,
  maxChunks: Infinity,
};

/** The document breaks one of the limits above (or the parser's memory or time limit). */
export class DocumentLimitError extends Error {
  override name = "DocumentLimitError";
}

const MB = 1024 * 1024;

export function formatBytes(bytes: number): string {
  return bytes % MB === 0 ? `${bytes / MB} MB` : `${bytes} bytes`;
}

export function decompressedTooLarge(limit: number): DocumentLimitError {
  return new DocumentLimitError(
    `The document expands to more than ${formatBytes(limit)} (INGEST_MAX_DECOMPRESSED_BYTES).`,
  );
}

export function textTooLong(limit: number): DocumentLimitError {
  return new DocumentLimitError(
    `The document holds more than ${limit.toLocaleString("en-US")} characters of text (INGEST_MAX_TEXT_CHARS).`,
  );
}

const PIECE = 64 * 1024;

/**
 * Inflates every part of a ZIP package (a DOCX) without keeping the output, counting bytes as
 * they come; throws DocumentLimitError as soon as the parts together pass `limit`. Parts that
 * are not deflated or stored are left to the parser to refuse.
 */
export function checkZipExpansion(bytes: Uint8Array, limit: number): void {
  if (!Number.isFinite(limit)) return;
  let total = 0;
  let over = false;
  const unzip = new Unzip((file) => {
    if (over) return;
    file.ondata = (error, data) => {
      if (error || over) return;
      total += data.length;
      if (total > limit) {
        over = true;
        file.terminate();
      }
    };
    try {
      file.start();
    } catch {
      // An unsupported compression method: mammoth will refuse the file.
    }
  });
  unzip.register(UnzipInflate);
  try {
    for (let offset = 0; offset < bytes.length && !over; offset += PIECE) {
      const end = Math.min(bytes.length, offset + PIECE);
      unzip.push(bytes.subarray(offset, end), end === bytes.length);
    }
  } catch {
    // A damaged package: mammoth reports that better than we can.
  }
  if (over) throw decompressedTooLarge(limit);
}

const STREAM = Buffer.from("stream");
const END_STREAM = Buffer.from("endstream");

/**
 * Inflates every zlib (FlateDecode) stream of a PDF without keeping the output, counting bytes;
 * throws DocumentLimitError as soon as the streams together pass `limit`. Streams that are not
 * zlib (images in DCT, other filters) are skipped: pdf.js decodes those inside the parser's
 * memory limit.
 */
export function checkPdfExpansion(bytes: Uint8Array, limit: number): void {
  if (!Number.isFinite(limit)) return;
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let total = 0;
  let at = 0;
  for (;;) {
    const keyword = buffer.indexOf(STREAM, at);
    if (keyword < 0) return;
    at = keyword + STREAM.length;
    // "endstream" also contains "stream".
    if (keyword >= 3 && buffer.toString("latin1", keyword - 3, keyword) === "end") continue;
    let start = at;
    if (buffer[start] === 0x0d) start++;
    if (buffer[start] === 0x0a) start++;
    const end = buffer.indexOf(END_STREAM, start);
    if (end < 0) return;
    at = end + END_STREAM.length;
    let over = false;
    let failed = false;
    const inflater = new Unzlib((data) => {
      total += data.length;
      if (total > limit) over = true;
    });
    try {
      for (let offset = start; offset < end && !over && !failed; offset += PIECE) {
        const stop = Math.min(end, offset + PIECE);
        inflater.push(buffer.subarray(offset, stop), stop === end);
      }
    } catch {
      failed = true; // not zlib, or truncated: what came out still counts.
    }
    if (over) throw decompressedTooLarge(limit);
  }
}

/** Whether elements under `root` nest deeper than `limit`, counted without recursion. */
export function elementDepthExceeds(root: Element, limit: number): boolean {
  if (!Number.isFinite(limit)) return false;
  const stack: Array<[Element, number]> = [[root, 1]];
  while (stack.length > 0) {
    const [element, depth] = stack.pop() as [Element, number];
    if (depth > limit) return true;
    for (let child = element.firstElementChild; child; child = child.nextElementSibling)
      stack.push([child, depth + 1]);
  }
  return false;
}

// Elements that never nest (void ones) or that the HTML parser closes by itself when the next
// one opens (a run of unclosed <p> or <li> is a list, not a nesting).
const NOT_NESTING = new Set(
  "area base br col embed hr img input link meta source track wbr p li dt dd tr td th option"
    .split(" ")
    .map((tag) => tag.toUpperCase()),
);
const RAW_TEXT = new Set(["SCRIPT", "STYLE"]);
const SCRIPT_END = /<\/script/gi;
const STYLE_END = /<\/style/gi;
const TAG = /<!--[^]*?-->|<(\/?)([a-zA-Z][a-zA-Z0-9:-]*)\b[^>]*?(\/?)>/g;

/**
 * A linear scan of the markup before any DOM is built (an HTML parser's time grows with the
 * square of the depth, and its tree with the page): refuses a page nested deeper than
 * `maxHtmlDepth`, or with more than `maxTextChars` characters of text between its tags
 * (whitespace, comments, scripts and styles not counted).
 */
export function checkMarkup(html: string, limits: DocumentLimits): void {
  let depth = 0;
  let text = 0;
  let last = 0;
  const countText = (end: number) => {
    for (let index = last; index < end; index++) if (html.charCodeAt(index) > 32) text++;
  };
  TAG.lastIndex = 0;
  for (let match = TAG.exec(html); match; match = TAG.exec(html)) {
    countText(match.index);
    last = TAG.lastIndex;
    if (text > limits.maxTextChars) throw textTooLong(limits.maxTextChars);
    const name = match[2]?.toUpperCase();
    if (!name || NOT_NESTING.has(name)) continue;
    if (match[1]) {
      depth = Math.max(0, depth - 1);
    } else if (!match[3]) {
      if (RAW_TEXT.has(name)) {
        const closing = name === "SCRIPT" ? SCRIPT_END : STYLE_END;
        closing.lastIndex = TAG.lastIndex;
        const close = closing.exec(html);
        if (!close) return;
        TAG.lastIndex = last = close.index;
        continue;
      }
      if (++depth > limits.maxHtmlDepth) {
        throw new DocumentLimitError(
          `The page nests elements more than ${limits.maxHtmlDepth} deep (INGEST_MAX_HTML_DEPTH).`,
        );
      }
    }
  }
  countText(html.length);
  if (text > limits.maxTextChars) throw textTooLong(limits.maxTextChars);
}
