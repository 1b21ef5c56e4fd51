// The measurable half of the knowledge-base check: reads one tenant's documents, chunks and
// ingestion jobs and reports counts and findings — empty, tiny, identical, near-duplicate,
// failed and garbled documents — each with the measurement behind it and what to do. Reads
// the tenant database only; synchronous, no network, no model. (docs/decisions/032)
import { createHash } from "node:crypto";
import {
  MAX_GARBLED_SHARE,
  MIN_ALPHANUMERIC_SHARE,
  MIN_CHARS_TO_JUDGE,
  NEAR_DUPLICATE_SHARE,
  SHINGLE_WORDS,
  TINY_DOCUMENT_WORDS,
  type KbCounts,
  type KbFinding,
} from "#app/shared/kb-check.ts";
import {
  chunkTextsByDocument,
  countPendingJobs,
  hasPendingJobs,
  latestFailedJobs,
  listDocuments,
  totalChunkTokens,
} from "#tenants/knowledge-base.ts";
import type { TenantDb } from "#tenants/store.ts";

/** Shingles kept per knowledge base before sampling starts (bounds memory on big tenants). */
const MAX_SHINGLES = 2_000_000;
/** A shingle in more documents than this is boilerplate (a footer) and says nothing. */
const MAX_DOCUMENTS_PER_SHINGLE = 25;
/** Longest overlap between consecutive chunks looked for, in words. */
const MAX_OVERLAP_WORDS = 400;

export interface DocumentStats {
  id: number;
  title: string;
  contentHash: string;
  chunkCount: number;
  words: number;
  /** SHA-256 of the lower-cased words: equal for documents with the same text. */
  textHash: string;
  /** Visible (non-space) characters. */
  visibleChars: number;
  alphanumericChars: number;
  /** Replacement characters, control characters, private-use glyphs, mis-decoded UTF-8. */
  garbledChars: number;
  /** Examples of the garbled characters found, for the finding's text. */
  garbledExamples: string[];
  shingles: Set<number>;
}

export interface Inspection {
  counts: KbCounts;
  findings: KbFinding[];
}

const WORD = /[\p{L}\p{N}][\p{L}\p{N}'’_-]*/gu;
// U+FFFD, C0/C1 controls other than tab and newlines, private-use glyphs (PDF fonts without a
// text map), and the two-character sequences UTF-8 read as Latin-1 leaves (Ã©, â€™, Â ).
const GARBLED = /\uFFFD|(?![\t\n\r])\p{Cc}|\p{Co}|Ã[\u0080-\u00BF]|â€|Â[\u00A0-\u00BF]/gu;

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

export function wordsOf(text: string): string[] {
  return (text.match(WORD) ?? []).map((word) => word.toLowerCase());
}

/**
 * How many leading words of `next` repeat the end of `previous` — the overlap the chunker
 * gives consecutive chunks of a section, which must be counted once.
 */
export function overlapWords(previous: readonly string[], next: readonly string[]): number {
  const longest = Math.min(previous.length, next.length, MAX_OVERLAP_WORDS);
  for (let size = longest; size > 0; size--) {
    let same = true;
    for (let i = 0; i < size; i++) {
      if (previous[previous.length - size + i] !== next[i]) {
        same = false;
        break;
      }
    }
    if (same) return size;
  }
  return 0;
}

/** Character measurements of a text: visible, letters or digits, garbled. */
export function characterStats(text: string): {
  visible: number;
  alphanumeric: number;
  garbled: number;
  examples: string[];
} {
  const visible = text.replace(/\s+/g, "").length;
  const alphanumeric = (text.match(/[\p{L}\p{N}]/gu) ?? []).length;
  const matches = text.match(GARBLED) ?? [];
  const garbled = matches.reduce((sum, match) => sum + match.length, 0);
  const examples = [...new Set(matches)].slice(0, 3).map(printable);
  return { visible, alphanumeric, garbled, examples };
}

function printable(sequence: string): string {
  return [...sequence]
    .map((ch) => {
      const code = ch.codePointAt(0) ?? 0;
      return code < 0x20 || (code >= 0x7f && code <= 0x9f) || /\p{Co}/u.test(ch)
        ? `U+${code.toString(16).toUpperCase().padStart(4, "0")}`
        : ch;
    })
    .join("");
}

/** Per-document measurements, reading each document's chunks once in order. */
export function documentStats(db: TenantDb): DocumentStats[] {
  const documents = listDocuments(db);
  const totalTokens = totalChunkTokens(db);
  // Keep every shingle of a normal knowledge base; on a huge one, a fixed hash-based sample.
  const sampleEvery = Math.max(1, Math.ceil(totalTokens / MAX_SHINGLES));
  const byId = new Map<number, DocumentStats>();
  for (const document of documents) {
    byId.set(document.id, {
      id: document.id,
      title: document.title,
      contentHash: document.contentHash,
      chunkCount: document.chunkCount,
      words: 0,
      textHash: "",
      visibleChars: 0,
      alphanumericChars: 0,
      garbledChars: 0,
      garbledExamples: [],
      shingles: new Set(),
    });
  }
  interface Reading {
    stats: DocumentStats;
    words: string[];
    previousChunk: string[];
  }
  const finish = (reading: Reading | null) => {
    if (!reading) return;
    const { stats, words } = reading;
    stats.words = words.length;
    stats.textHash = createHash("sha256").update(words.join(" ")).digest("hex");
    for (let i = 0; i + SHINGLE_WORDS <= words.length; i++) {
      const shingle = fnv1a(words.slice(i, i + SHINGLE_WORDS).join(" "));
      if (shingle % sampleEvery === 0) stats.shingles.add(shingle);
    }
  };
  let reading = null as Reading | null;
  for (const row of chunkTextsByDocument(db)) {
    const stats = byId.get(row.document_id);
    if (!stats) continue;
    if (reading?.stats !== stats) {
      finish(reading);
      reading = { stats, words: [], previousChunk: [] };
    }
    const words = wordsOf(row.text);
    const repeated = overlapWords(reading.previousChunk, words);
    for (let i = repeated; i < words.length; i++) reading.words.push(words[i] as string);
    reading.previousChunk = words;
    const chars = characterStats(row.text);
    stats.visibleChars += chars.visible;
    stats.alphanumericChars += chars.alphanumeric;
    stats.garbledChars += chars.garbled;
    if (stats.garbledExamples.length < 3) {
      stats.garbledExamples = [...new Set([...stats.garbledExamples, ...chars.examples])].slice(
        0,
        3,
      );
    }
  }
  finish(reading);
  return [...byId.values()].sort((a, b) => a.id - b.id);
}

const percent = (share: number) => `${Math.round(share * 1000) / 10}%`;
const quoted = (title: string) => `“${title}”`;
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

export function emptyDocumentFindings(stats: readonly DocumentStats[]): KbFinding[] {
  return stats
    .filter((doc) => doc.chunkCount === 0 || doc.words === 0)
    .map((doc) => ({
      kind: "empty",
      severity: "problem",
      summary: `${quoted(doc.title)} is empty`,
      detail: `It has ${plural(doc.chunkCount, "chunk")} and no words of text, so it can never be cited.`,
      fix: "Delete it, or add it again from a version that contains text (a scanned PDF needs OCR first).",
      documents: [{ id: doc.id, title: doc.title }],
    }));
}

export function tinyDocumentFindings(
  stats: readonly DocumentStats[],
  tinyWords = TINY_DOCUMENT_WORDS,
): KbFinding[] {
  return stats
    .filter((doc) => doc.words > 0 && doc.words < tinyWords)
    .map((doc) => ({
      kind: "tiny",
      severity: "warning",
      summary: `${quoted(doc.title)} is tiny`,
      detail: `${plural(doc.words, "word")} (fewer than ${tinyWords}): too little to answer most questions on its own.`,
      fix: "Merge it into a fuller page on the same topic, or replace it with the complete text.",
      documents: [{ id: doc.id, title: doc.title }],
    }));
}

/** Documents with the same text (or the same content hash), grouped. */
export function duplicateFindings(stats: readonly DocumentStats[]): KbFinding[] {
  const groups = new Map<string, DocumentStats[]>();
  for (const doc of stats) {
    if (doc.words === 0) continue;
    const group = groups.get(doc.textHash) ?? [];
    group.push(doc);
    groups.set(doc.textHash, group);
  }
  const findings: KbFinding[] = [];
  for (const group of groups.values()) {
    if (group.length < 2) continue;
    const sameHash = group.every((doc) => doc.contentHash === group[0]?.contentHash);
    const [first] = group;
    findings.push({
      kind: "duplicate",
      severity: "warning",
      summary: `${plural(group.length, "document")} have the same text`,
      detail:
        `${group.map((doc) => quoted(doc.title)).join(", ")}: identical text, ` +
        `${plural(first?.words ?? 0, "word")} each` +
        (sameHash ? ", and the same content hash." : " (same words, different titles or layout)."),
      fix: "Keep one and delete the others: duplicates crowd other passages out of answers.",
      documents: group.map((doc) => ({ id: doc.id, title: doc.title })),
    });
  }
  return findings;
}

/**
 * Pairs of documents where most of the smaller one's word sequences (shingles of
 * SHINGLE_WORDS words) also appear in the other: an old and a new version, a page and its
 * print view. Identical documents are reported by duplicateFindings instead.
 */
export function nearDuplicateFindings(
  stats: readonly DocumentStats[],
  share = NEAR_DUPLICATE_SHARE,
): KbFinding[] {
  const candidates = stats.filter((doc) => doc.shingles.size > 0);
  const index = new Map<number, number[]>();
  candidates.forEach((doc, position) => {
    for (const shingle of doc.shingles) {
      const holders = index.get(shingle);
      if (holders) holders.push(position);
      else index.set(shingle, [position]);
    }
  });
  const shared = new Map<number, number>();
  const n = candidates.length;
  for (const holders of index.values()) {
    if (holders.length < 2 || holders.length > MAX_DOCUMENTS_PER_SHINGLE) continue;
    for (let i = 0; i < holders.length; i++) {
      for (let j = i + 1; j < holders.length; j++) {
        const key = (holders[i] as number) * n + (holders[j] as number);
        shared.set(key, (shared.get(key) ?? 0) + 1);
      }
    }
  }
  const findings: KbFinding[] = [];
  for (const [key, count] of shared) {
    const a = candidates[Math.floor(key / n)] as DocumentStats;
    const b = candidates[key % n] as DocumentStats;
    if (a.textHash === b.textHash) continue;
    const [smaller, larger] = a.shingles.size <= b.shingles.size ? [a, b] : [b, a];
    const overlap = count / smaller.shingles.size;
    if (overlap < share) continue;
    findings.push({
      kind: "near_duplicate",
      severity: "warning",
      summary: `${quoted(smaller.title)} largely repeats ${quoted(larger.title)}`,
      detail:
        `${percent(overlap)} of the ${SHINGLE_WORDS}-word passages of ${quoted(smaller.title)} ` +
        `also appear in ${quoted(larger.title)} (${plural(smaller.words, "word")} and ` +
        `${plural(larger.words, "word")}).`,
      fix: "If one is an older or partial version, delete it; otherwise keep both and ignore this.",
      documents: [
        { id: smaller.id, title: smaller.title },
        { id: larger.id, title: larger.title },
      ],
    });
  }
  return findings.sort((x, y) => x.summary.localeCompare(y.summary));
}

/** Documents whose text is mostly not letters, or holds replacement or mis-decoded characters. */
export function garbledFindings(stats: readonly DocumentStats[]): KbFinding[] {
  const findings: KbFinding[] = [];
  for (const doc of stats) {
    if (doc.visibleChars < MIN_CHARS_TO_JUDGE) continue;
    const alphanumeric = doc.alphanumericChars / doc.visibleChars;
    const garbled = doc.garbledChars / doc.visibleChars;
    if (alphanumeric >= MIN_ALPHANUMERIC_SHARE && garbled < MAX_GARBLED_SHARE) continue;
    const measures = [`${percent(alphanumeric)} of its visible characters are letters or digits`];
    if (garbled > 0) {
      measures.push(
        `${percent(garbled)} are replacement, control or mis-decoded characters` +
          (doc.garbledExamples.length ? ` (e.g. ${doc.garbledExamples.join(" ")})` : ""),
      );
    }
    findings.push({
      kind: "unreadable",
      severity: "problem",
      summary: `${quoted(doc.title)} looks unreadable`,
      detail: `${measures.join("; ")}.`,
      fix:
        garbled >= MAX_GARBLED_SHARE
          ? "The text was decoded with the wrong character set or extracted badly: export it again as UTF-8 text, HTML or a text-based PDF and re-add it."
          : "It is mostly symbols or numbers (a scan, a chart, a table dump): add a text version, or delete it.",
      documents: [{ id: doc.id, title: doc.title }],
    });
  }
  return findings;
}

const EMPTY_ERROR = /\b(is empty|contains no text|holds no text|no text)\b/i;

/** Sources whose latest ingestion failed, with the reason the job gave. */
export function failedJobFindings(db: TenantDb): KbFinding[] {
  return latestFailedJobs(db).map((row) => {
    const reason = row.error ?? "No reason was recorded.";
    const empty = EMPTY_ERROR.test(reason);
    const previous =
      row.document_id === null
        ? " Nothing from it is in the knowledge base."
        : " Its previous version is still indexed and answering.";
    return {
      kind: empty ? "empty" : "failed",
      severity: "problem",
      summary: empty
        ? `${quoted(row.title)} has no text`
        : `${quoted(row.title)} could not be read`,
      detail: `The ingestion job failed: ${reason}${previous}`,
      fix: empty
        ? "Upload a version that contains selectable text (a scanned PDF needs OCR), or paste the text instead."
        : "Fix the cause named in the reason (a supported file type, a reachable URL) and add it again.",
      documents: [{ id: row.document_id, title: row.title, jobId: row.id }],
    };
  });
}

/** Counts and every document finding of the tenant's knowledge base. */
export function inspectKnowledgeBase(db: TenantDb): Inspection {
  const stats = documentStats(db);
  const failed = failedJobFindings(db);
  const counts: KbCounts = {
    documents: stats.length,
    chunks: stats.reduce((sum, doc) => sum + doc.chunkCount, 0),
    words: stats.reduce((sum, doc) => sum + doc.words, 0),
    failedJobs: failed.length,
    pendingJobs: hasPendingJobs(db) ? countPendingJobs(db) : 0,
  };
  const findings: KbFinding[] = [];
  if (stats.length === 0) {
    findings.push({
      kind: "no_documents",
      severity: "problem",
      summary: "The knowledge base is empty",
      detail: "No document is indexed, so every question gets “I don't know”.",
      fix: "Add knowledge: upload files, paste text or give your website's address.",
      documents: [],
    });
  }
  findings.push(
    ...failed,
    ...emptyDocumentFindings(stats),
    ...garbledFindings(stats),
    ...duplicateFindings(stats),
    ...nearDuplicateFindings(stats),
    ...tinyDocumentFindings(stats),
  );
  return { counts, findings };
}
