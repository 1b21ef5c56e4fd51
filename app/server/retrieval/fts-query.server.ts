// Turns whatever a visitor typed into a safe FTS5 MATCH expression for the keyword stage of
// retrieval. User text is data, never query syntax: every term is a quoted string, so
// quotes, NEAR(...), `*`, `:`, `^`, `-`, AND/OR/NOT and column filters cannot change the query.

/**
 * Small English stop-word list. These words match nearly every chunk, so as OR terms they
 * only add noise to BM25; kept short on purpose so domain words are never dropped.
 */
// prettier-ignore
export const STOP_WORDS: ReadonlySet<string> = new Set([
  "a", "about", "after", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be",
  "been", "but", "by", "can", "could", "did", "do", "does", "for", "from", "had", "has",
  "have", "he", "her", "his", "how", "i", "if", "in", "into", "is", "it", "its", "me", "my",
  "no", "not", "of", "on", "or", "our", "she", "so", "than", "that", "the", "their", "them",
  "then", "there", "these", "they", "this", "those", "to", "us", "was", "we", "were", "what",
  "when", "where", "which", "who", "why", "will", "with", "would", "you", "your",
]);

/** More OR terms than this make BM25 slower without making the ranking better. */
export const MAX_FTS_TERMS = 32;

// Letters, combining marks and digits: the same characters FTS5's unicode61 tokenizer keeps
// in a token, so our terms split where the index's tokens split.
const WORD = /[\p{L}\p{M}\p{N}]+/gu;

/** Quotes one term as an FTS5 string; a `"` inside is doubled (none survive WORD, but be safe). */
function quote(term: string): string {
  return `"${term.replaceAll('"', '""')}"`;
}

/**
 * Builds `"term1" OR "term2" ...` from arbitrary user text, or null when the text holds no
 * word at all (then the keyword stage is skipped and retrieval relies on vectors).
 */
export function toFtsQuery(userText: string): string | null {
  const tokens = userText.normalize("NFKC").toLowerCase().match(WORD) ?? [];
  const unique = [...new Set(tokens)];
  if (unique.length === 0) return null;
  // A single ASCII letter is usually debris of a contraction ("don't" → "don", "t").
  const content = unique.filter((token) => !STOP_WORDS.has(token) && !/^[a-z]$/.test(token));
  // A question made only of stop words ("who are you?") still deserves a keyword search.
  const terms = (content.length > 0 ? content : unique).slice(0, MAX_FTS_TERMS);
  return terms.map(quote).join(" OR ");
}
