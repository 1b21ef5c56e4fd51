// Splits the reply to an aggregated batch call ("answer each numbered question") back into
// one answer per question. Models format such replies in many ways, so several shapes are
// tried from the most to the least explicit; anything ambiguous returns null and the batch
// falls back to one call per question rather than guess.

interface Marker {
  /** The question number the marker names. */
  n: number;
  /** Where the marker's line starts. */
  start: number;
  /** Where the answer text after the marker starts. */
  body: number;
  /** "Question 1:", "Q1:", "**1.**" or "### 1." — a marker no ordinary list item looks like. */
  explicit: boolean;
  /** The line is the first of a paragraph (start of text or after a blank line). */
  paragraphStart: boolean;
  /** The marker is not indented (indented numbers are usually a nested list). */
  topLevel: boolean;
}

// A line opening with a question number, in any of the shapes models use:
// "1." "1)" "(1)" "**1.**" "**1**." "### 1." "Question 1:" "**Question 1:**" "Answer 1:" "Q1:".
const MARKER =
  /^[ \t]*(#{1,6}[ \t]*)?(\*\*|__)?[ \t]*(?:(?:question|answer|q)[ \t]*(\d{1,2})[ \t]*(?:[:.)\-–—]|(?=\*\*|__))|\(?(\d{1,2})(?:[.)]|(?=\*\*|__))(?!\d))[ \t]*(\*\*|__)?[ \t]*(?:[:.)\-–—][ \t]*)?/gim;

function findMarkers(text: string): Marker[] {
  const markers: Marker[] = [];
  for (const match of text.matchAll(MARKER)) {
    const [whole, heading, openBold, questionNumber, plainNumber, closeBold] = match;
    const start = match.index;
    const n = Number(questionNumber ?? plainNumber);
    // "1.5 litres" at the start of a line is a number, not a marker; "1." needs a space after.
    if (questionNumber === undefined && !openBold && !heading) {
      const next = text.charAt(start + whole.length - 1);
      const after = text.charAt(start + whole.length);
      if (!/[ \t]/.test(next) && after !== "" && after !== "\n") continue;
    }
    const before = text.slice(0, start);
    markers.push({
      n,
      start,
      body: start + whole.length,
      explicit: questionNumber !== undefined || Boolean(openBold && closeBold) || Boolean(heading),
      paragraphStart: before.trim() === "" || /\n[ \t]*\n[ \t]*$/.test(before),
      topLevel: !/^[ \t]/.test(whole),
    });
  }
  return markers;
}

/** Removes emphasis left dangling by a marker ("**1.** **Answer**" keeps "**Answer**"). */
function cleanSegment(segment: string): string {
  let text = segment.trim();
  if (/^(\*\*|__)\s*$/.test(text)) return "";
  text = text.replace(/^(?:\*\*|__)\s+/, "");
  return text.trim();
}

/** The texts between consecutive markers, if the markers number exactly 1..count in order. */
function segmentsOf(text: string, markers: Marker[], count: number): string[] | null {
  if (markers.length !== count) return null;
  if (markers.some((marker, i) => marker.n !== i + 1)) return null;
  const segments = markers.map((marker, i) =>
    cleanSegment(text.slice(marker.body, markers[i + 1]?.start ?? text.length)),
  );
  return segments.every((segment) => segment.length > 0) ? segments : null;
}

/** Numbered answers, the clearest markers first, so numbered steps inside an answer survive. */
function byNumbers(text: string, count: number): string[] | null {
  const all = findMarkers(text);
  if (all.length === 0) return null;
  const candidates = [
    all.filter((m) => m.explicit),
    all.filter((m) => m.paragraphStart),
    all.filter((m) => m.topLevel),
    all.filter((m) => m.explicit && m.paragraphStart),
    all,
  ];
  for (const markers of candidates) {
    const segments = segmentsOf(text, markers, count);
    if (segments) return segments;
  }
  // Numbered steps inside answers, answers each starting a paragraph: the first paragraph
  // marker numbered 1, then the next one numbered 2, and so on.
  const chain: Marker[] = [];
  for (const marker of all) {
    if (marker.paragraphStart && marker.n === chain.length + 1) chain.push(marker);
  }
  return segmentsOf(text, chain, count);
}

/** A bulleted list with exactly one top-level bullet per question, in order. */
function byBullets(text: string, count: number): string[] | null {
  const starts = [...text.matchAll(/^[-*•+][ \t]+/gm)];
  if (starts.length !== count) return null;
  const segments = starts.map((match, i) =>
    text.slice(match.index + match[0].length, starts[i + 1]?.index ?? text.length).trim(),
  );
  return segments.every((segment) => segment.length > 0) ? segments : null;
}

const STARTS_WITH_MARKER = new RegExp(MARKER.source, "i");

/** Exactly one paragraph per question, none of them numbered (numbers that did not split are a misfit). */
function byParagraphs(text: string, count: number): string[] | null {
  const paragraphs = text
    .split(/\n[ \t]*\n/)
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
  if (paragraphs.some((p) => STARTS_WITH_MARKER.test(p))) return null;
  return paragraphs.length === count ? paragraphs : null;
}

/**
 * The reply split into `count` answers in question order, or null when it cannot be split
 * with confidence (the caller then asks each question on its own).
 */
export function splitBatchAnswer(text: string, count: number): string[] | null {
  const reply = text.replace(/\r\n?/g, "\n").trim();
  if (count < 1 || reply === "") return null;
  // One question: the whole reply is its answer (a numbered list in it is the answer's own).
  if (count === 1) return [reply];
  return byNumbers(reply, count) ?? byBullets(reply, count) ?? byParagraphs(reply, count);
}
