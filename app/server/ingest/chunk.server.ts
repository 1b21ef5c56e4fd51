// Splits a ParsedDocument into retrieval chunks under a token budget. Structure-aware: a chunk
// never spans two top-level sections, small neighbouring subsections share a chunk (with their
// headings inline), oversized blocks are cut at sentence, then word boundaries, code stays
// whole when it fits, and consecutive chunks of one section overlap by a few sentences so a
// fact cut at a boundary is still retrievable. Pure and synchronous.
import { createHash } from "node:crypto";
import type { Block, BlockKind, ParsedDocument } from "./parse.server.ts";

export interface Chunk {
  /** Position in the document, from 0. */
  ord: number;
  /** The chunk's headings joined with " > " (empty for text before the first heading). */
  headingPath: string;
  text: string;
  tokenCount: number;
}

export interface ChunkOptions {
  maxTokens: number;
  overlapTokens: number;
}

export const HEADING_SEPARATOR = " > ";

// Scripts written without spaces count a token per character; elsewhere a run of letters and
// digits is one token per 6 characters (short words are one BPE token, long ones split) and
// every punctuation mark or symbol is one. On English prose this lands within ~10% of the
// cl100k/Llama tokenizers, which is all a chunk budget needs; it is also additive over
// whitespace-joined text, so budgets can be checked piece by piece.
const CJK = String.raw`\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}`;
const TOKEN = new RegExp(
  String.raw`[${CJK}]|(?:(?![${CJK}])[\p{L}\p{M}\p{N}])+|[^\s\p{L}\p{M}\p{N}]`,
  "gu",
);
const CHARS_PER_WORD_TOKEN = 6;
const ATOM_RUN = new RegExp(`[^]{1,${CHARS_PER_WORD_TOKEN}}`, "gu");

/** Estimated model tokens of a text; see the note above for the rule. */
export function countTokens(text: string): number {
  let tokens = 0;
  for (const match of text.matchAll(TOKEN)) {
    const length = [...match[0]].length;
    tokens +=
      /[\p{L}\p{M}\p{N}]/u.test(match[0]) && length > 1
        ? Math.ceil(length / CHARS_PER_WORD_TOKEN)
        : 1;
  }
  return tokens;
}

interface Unit {
  /** Index of the block the unit comes from; pieces and overlaps of one block share it. */
  block: number;
  path: readonly string[];
  kind: Exclude<BlockKind, "heading">;
  text: string;
  tokens: number;
}

const sentenceSegmenter = new Intl.Segmenter("en", { granularity: "sentence" });

function sentencesOf(text: string): string[] {
  return Array.from(sentenceSegmenter.segment(text), (segment) => segment.segment.trim()).filter(
    Boolean,
  );
}

/**
 * Cuts a word longer than the budget (base64 blobs, long URLs, CJK runs) into pieces. Works on
 * token-sized atoms in one pass: a piece's real count never exceeds the sum of its atoms'.
 */
function splitWord(word: string, budget: number): string[] {
  const atoms = Array.from(word.matchAll(TOKEN), (match) => match[0]).flatMap((token) =>
    token.length > CHARS_PER_WORD_TOKEN ? (token.match(ATOM_RUN) ?? []) : [token],
  );
  const pieces: string[] = [];
  let current = "";
  let tokens = 0;
  for (const atom of atoms) {
    if (current && tokens + 1 > budget) {
      pieces.push(current);
      current = "";
      tokens = 0;
    }
    current += atom;
    tokens += 1;
  }
  if (current) pieces.push(current);
  return pieces;
}

/** Greedily joins parts with `separator` into pieces of at most `budget` tokens. */
function pack(parts: readonly string[], separator: string, budget: number): string[] {
  const pieces: string[] = [];
  let current = "";
  for (const part of parts) {
    const candidate = current ? `${current}${separator}${part}` : part;
    if (countTokens(candidate) <= budget) {
      current = candidate;
      continue;
    }
    if (current) pieces.push(current);
    current = part;
  }
  if (current) pieces.push(current);
  return pieces;
}

/** Prose cut to fit: whole sentences where they fit, else words, else characters. */
function splitProse(text: string, budget: number): string[] {
  const parts = sentencesOf(text).flatMap((sentence) => {
    if (countTokens(sentence) <= budget) return [sentence];
    const words = sentence
      .split(/\s+/)
      .flatMap((word) => (countTokens(word) <= budget ? [word] : splitWord(word, budget)));
    return pack(words, " ", budget);
  });
  return pack(parts, " ", budget);
}

/** Line-structured text cut between lines; a table's header row is repeated in each piece. */
function splitLines(text: string, kind: Unit["kind"], budget: number): string[] {
  const lines = text.split("\n");
  const header = lines[0] as string;
  const headerTokens = countTokens(header);
  const repeatHeader = kind === "table" && lines.length > 2 && headerTokens <= budget / 3;
  const body = repeatHeader ? lines.slice(1) : lines;
  const lineBudget = repeatHeader ? budget - headerTokens : budget;
  const fitted = body.flatMap((line) =>
    countTokens(line) <= lineBudget ? [line] : splitProse(line, lineBudget),
  );
  const pieces = pack(fitted, "\n", lineBudget);
  return repeatHeader ? pieces.map((piece) => `${header}\n${piece}`) : pieces;
}

function splitUnit(unit: Unit, budget: number): Unit[] {
  if (unit.tokens <= budget) return [unit];
  const pieces =
    unit.kind === "paragraph"
      ? splitProse(unit.text, budget)
      : splitLines(unit.text, unit.kind, budget);
  return pieces.map((text) => ({ ...unit, text, tokens: countTokens(text) }));
}

const samePath = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((part, index) => part === b[index]);

function commonPrefix(paths: ReadonlyArray<readonly string[]>): string[] {
  const [first = [], ...rest] = paths;
  let length = first.length;
  for (const path of rest) {
    let shared = 0;
    while (shared < Math.min(length, path.length) && path[shared] === first[shared]) shared++;
    length = shared;
  }
  return first.slice(0, length);
}

/**
 * A chunk's text: its units separated by blank lines; where a unit sits in a deeper section
 * than the chunk's own heading path, that section's headings lead it so the text still says
 * what it is about.
 */
function render(units: readonly Unit[]): { base: string[]; text: string } {
  const base = commonPrefix(units.map((unit) => unit.path));
  let text = "";
  units.forEach((unit, index) => {
    const previous = units[index - 1];
    if (previous && previous.block === unit.block) {
      // Pieces of one block (an overlap and its continuation) read on as one block.
      text += `${unit.kind === "paragraph" ? " " : "\n"}${unit.text}`;
      return;
    }
    const changed = !previous || !samePath(unit.path, previous.path);
    const local = unit.path.slice(base.length);
    const part =
      changed && local.length > 0 ? `${local.join(HEADING_SEPARATOR)}\n${unit.text}` : unit.text;
    text += previous ? `\n\n${part}` : part;
  });
  return { base, text };
}

/**
 * The end of a unit worth repeating at the start of the next chunk, in at most `room` tokens:
 * whole sentences (or whole lines of a list or table) of about `overlapTokens` (a sentence
 * may run half as long again). Only a unit cut mid-sentence (a sentence longer than a chunk)
 * repeats its last `overlapTokens` words instead.
 */
function overlapOf(unit: Unit, overlapTokens: number, room: number): Unit | undefined {
  if (unit.kind === "code") return undefined;
  const prose = unit.kind === "paragraph";
  const cutMidSentence = prose && !/[.!?]["'”’)\]]*$/u.test(unit.text);
  const limit = Math.min(room, cutMidSentence ? overlapTokens : Math.ceil(overlapTokens * 1.5));
  if (limit <= 0) return undefined;
  const parts = cutMidSentence
    ? unit.text.split(/\s+/)
    : prose
      ? sentencesOf(unit.text)
      : unit.text.split("\n");
  const taken: string[] = [];
  let tokens = 0;
  for (let index = parts.length - 1; index >= 0; index--) {
    const partTokens = countTokens(parts[index] as string);
    if (tokens + partTokens > limit) break;
    taken.unshift(parts[index] as string);
    tokens += partTokens;
  }
  if (taken.length === 0) return undefined;
  const text = taken.join(prose ? " " : "\n");
  return { ...unit, text, tokens: countTokens(text) };
}

function unitsOf(blocks: readonly Block[]): Unit[] {
  const body = blocks.filter((block) => block.kind !== "heading");
  // A document of headings alone still has something to say: index the headings as text.
  const source =
    body.length > 0
      ? body
      : blocks.map((block) => ({ ...block, headingPath: block.headingPath.slice(0, -1) }));
  return source
    .map((block, index) => ({
      block: index,
      path: block.headingPath,
      kind: block.kind === "heading" ? ("paragraph" as const) : block.kind,
      text: block.text,
      tokens: countTokens(block.text),
    }))
    .filter((unit) => unit.tokens > 0);
}

/** Cuts a parsed document into chunks of at most `maxTokens` estimated tokens each. */
export function chunkDocument(doc: ParsedDocument, opts: ChunkOptions): Chunk[] {
  const { maxTokens, overlapTokens } = opts;
  if (!Number.isInteger(maxTokens) || maxTokens < 1)
    throw new RangeError("maxTokens must be a positive integer");
  if (!Number.isInteger(overlapTokens) || overlapTokens < 0 || overlapTokens >= maxTokens) {
    throw new RangeError("overlapTokens must be an integer from 0 to maxTokens - 1");
  }
  // Pieces of a split block leave room for the overlap that will precede them.
  const pieceBudget = Math.max(1, maxTokens - overlapTokens);
  const units = unitsOf(doc.blocks).flatMap((unit) =>
    splitUnit(unit, unit.tokens <= maxTokens ? maxTokens : pieceBudget),
  );

  // Sections are the first heading level below what every block shares (usually the
  // document's title), so a single <h1> on top does not make the whole file one section.
  const shared = commonPrefix(units.map((unit) => unit.path)).length;
  const sectionOf = (unit: Unit) => unit.path[shared] ?? "";

  const chunks: Chunk[] = [];
  let current: Unit[] = [];
  const emit = () => {
    if (current.length === 0) return;
    const { base, text } = render(current);
    chunks.push({
      ord: chunks.length,
      headingPath: base.join(HEADING_SEPARATOR),
      text,
      tokenCount: countTokens(text),
    });
    current = [];
  };

  for (const unit of units) {
    const last = current.at(-1);
    if (last && sectionOf(last) !== sectionOf(unit)) emit();
    else if (last && !samePath(last.path, unit.path)) {
      // A new subsection joins the chunk only while the chunk is still small.
      if (countTokens(render(current).text) >= maxTokens / 2) emit();
    }
    if (current.length > 0 && countTokens(render([...current, unit]).text) <= maxTokens) {
      current.push(unit);
      continue;
    }
    const previous = current.at(-1);
    emit();
    const overlap =
      previous && overlapTokens > 0 && samePath(previous.path, unit.path)
        ? overlapOf(previous, overlapTokens, maxTokens - unit.tokens)
        : undefined;
    current = overlap ? [overlap, unit] : [unit];
  }
  emit();
  return chunks;
}

/**
 * Identifies what would be indexed: the title, the parsed text with its structure, and the
 * chunking settings (so changing CHUNK_MAX_TOKENS re-chunks a document on its next ingest).
 */
export function contentHash(title: string, doc: ParsedDocument, chunking: ChunkOptions): string {
  const canonical = JSON.stringify({
    v: 1,
    title,
    chunking: [chunking.maxTokens, chunking.overlapTokens],
    blocks: doc.blocks.map((block) => [block.kind, block.headingPath, block.text]),
  });
  return createHash("sha256").update(canonical).digest("hex");
}
