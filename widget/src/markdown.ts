// The Markdown subset the widget renders answers with, parsed into plain data: paragraphs,
// line breaks, **bold**, *italic*, `code` and [n] citation markers. Anything else stays
// literal text. The renderer (render.ts) turns this data into DOM nodes with textContent,
// so neither model output nor knowledge-base text is ever parsed as HTML.

export type Inline =
  | { type: "text"; text: string }
  | { type: "strong"; children: Inline[] }
  | { type: "em"; children: Inline[] }
  | { type: "code"; text: string }
  | { type: "break" }
  | { type: "cite"; n: number };

export interface Paragraph {
  type: "paragraph";
  children: Inline[];
}

/** Which citation numbers may become markers; `[n]` for any other n stays literal text. */
export type Citable = (n: number) => boolean;

export function parseMarkdown(source: string, citable: Citable = () => false): Paragraph[] {
  return source
    .replace(/\r\n?/g, "\n")
    .split(/\n(?:[ \t]*\n)+/)
    .map((block) => block.replace(/^\n+|\n+$/g, ""))
    .filter((block) => block.trim() !== "")
    .map((block) => ({ type: "paragraph", children: parseInline(block, citable) }));
}

const ESCAPABLE = "\\`*_[]";
// `[1]`, `[1, 2]` and `[1][2]` (the last one is two markers in a row).
const CITATION = /^\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]/;

export function parseInline(source: string, citable: Citable = () => false): Inline[] {
  const out: Inline[] = [];
  let text = "";
  const flush = () => {
    if (text) out.push({ type: "text", text });
    text = "";
  };
  let i = 0;
  while (i < source.length) {
    const char = source[i] as string;
    if (char === "\\" && i + 1 < source.length && ESCAPABLE.includes(source[i + 1] as string)) {
      text += source[i + 1];
      i += 2;
    } else if (char === "\n") {
      flush();
      out.push({ type: "break" });
      i++;
    } else if (char === "`") {
      const close = source.indexOf("`", i + 1);
      if (close > i + 1) {
        flush();
        out.push({ type: "code", text: source.slice(i + 1, close) });
        i = close + 1;
      } else {
        text += char;
        i++;
      }
    } else if (char === "*") {
      const span = emphasis(source, i);
      if (span) {
        flush();
        const children = parseInline(source.slice(span.innerStart, span.innerEnd), citable);
        out.push({ type: span.strong ? "strong" : "em", children });
        i = span.end;
      } else {
        text += char;
        i++;
      }
    } else if (char === "[") {
      const match = CITATION.exec(source.slice(i));
      const numbers = match ? (match[1] as string).split(",").map((part) => Number(part)) : [];
      if (match && numbers.every(citable)) {
        flush();
        for (const n of numbers) out.push({ type: "cite", n });
        i += match[0].length;
      } else {
        text += char;
        i++;
      }
    } else {
      text += char;
      i++;
    }
  }
  flush();
  return out;
}

interface EmphasisSpan {
  strong: boolean;
  innerStart: number;
  innerEnd: number;
  end: number;
}

/**
 * The emphasis span opening at `start`, or null when it does not close. Like CommonMark, an
 * opener must not be followed by whitespace and a closer must not follow whitespace (so
 * `2 * 3 * 4` stays text); `**` opens strong, a single `*` opens italic.
 */
function emphasis(source: string, start: number): EmphasisSpan | null {
  const strong = source[start + 1] === "*";
  const width = strong ? 2 : 1;
  const innerStart = start + width;
  if (innerStart >= source.length || /\s/.test(source[innerStart] as string)) return null;
  let i = innerStart;
  while (i < source.length) {
    if (source[i] === "`") {
      // Stars inside a code span do not close anything.
      const close = source.indexOf("`", i + 1);
      i = close === -1 ? i + 1 : close + 1;
      continue;
    }
    if (source[i] !== "*") {
      i++;
      continue;
    }
    let runEnd = i;
    while (source[runEnd] === "*") runEnd++;
    const run = runEnd - i;
    const afterSpace = /\s/.test(source[i - 1] as string);
    // A strong closer is any run of two or more; an italic closer is a run of odd length
    // (`*` or the last star of `***`), so `*a **b** c*` closes at the final star.
    if (!afterSpace && (strong ? run >= 2 : run % 2 === 1)) {
      const innerEnd = runEnd - width;
      if (innerEnd > innerStart) return { strong, innerStart, innerEnd, end: runEnd };
    }
    i = runEnd;
  }
  return null;
}

/** The text of parsed inlines, without markup; markers become `[n]`. */
export function plainText(inlines: Inline[]): string {
  return inlines
    .map((inline) => {
      switch (inline.type) {
        case "text":
        case "code":
          return inline.text;
        case "break":
          return "\n";
        case "cite":
          return `[${inline.n}]`;
        default:
          return plainText(inline.children);
      }
    })
    .join("");
}
