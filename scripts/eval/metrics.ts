// Ranking metrics of the eval command, computed the way BEIR's pytrec_eval does: graded gains
// taken as they are (not 2^rel − 1), log2 discounts, the ideal ranking built from the qrels,
// and only documents with a positive judgement counted as relevant. Pure functions.

/** Relevance judgements of one query: document id → grade (0 = judged not relevant). */
export type Judgements = ReadonlyMap<string, number>;

function relevantIds(judgements: Judgements): Set<string> {
  return new Set([...judgements].filter(([, grade]) => grade > 0).map(([id]) => id));
}

/** Normalised discounted cumulative gain of the first k ranked documents. */
export function ndcgAt(ranking: readonly string[], judgements: Judgements, k: number): number {
  let dcg = 0;
  ranking.slice(0, k).forEach((id, index) => {
    const grade = judgements.get(id) ?? 0;
    if (grade > 0) dcg += grade / Math.log2(index + 2);
  });
  const ideal = [...judgements.values()]
    .filter((grade) => grade > 0)
    .sort((a, b) => b - a)
    .slice(0, k)
    .reduce((sum, grade, index) => sum + grade / Math.log2(index + 2), 0);
  return ideal === 0 ? 0 : dcg / ideal;
}

/** Share of the relevant documents found in the first k. */
export function recallAt(ranking: readonly string[], judgements: Judgements, k: number): number {
  const relevant = relevantIds(judgements);
  if (relevant.size === 0) return 0;
  const found = ranking.slice(0, k).filter((id) => relevant.has(id)).length;
  return found / relevant.size;
}

/** Reciprocal rank of the first relevant document within the first k, else 0. */
export function mrrAt(ranking: readonly string[], judgements: Judgements, k: number): number {
  const relevant = relevantIds(judgements);
  const index = ranking.slice(0, k).findIndex((id) => relevant.has(id));
  return index === -1 ? 0 : 1 / (index + 1);
}

/** Nearest-rank percentile (p in 0–100) of a list of numbers; 0 for an empty list. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number;
}

export function mean(values: readonly number[]): number {
  return values.length === 0 ? 0 : values.reduce((sum, value) => sum + value, 0) / values.length;
}

/**
 * Collapses a ranking of chunks into a ranking of documents: a document takes the rank of
 * its best chunk, and later chunks of the same document are dropped.
 */
export function documentRanking(chunkDocumentIds: readonly string[]): string[] {
  return [...new Set(chunkDocumentIds)];
}

/**
 * SQuAD-style answer normalisation: lower case, no punctuation, no articles, single spaces.
 * "The Panthers' defense" and "panthers defense" compare equal.
 */
export function normaliseAnswer(text: string): string {
  return text
    .normalize("NFKC")
    .toLowerCase()
    .replace(/[\p{P}\p{S}]/gu, " ")
    .replace(/\b(?:a|an|the)\b/g, " ")
    .replace(/\s+/g, " ")
    .trim();
}

/** Whether an answer contains one of the gold answers, after normalising both. */
export function containsGoldAnswer(answer: string, golds: readonly string[]): boolean {
  const normalised = ` ${normaliseAnswer(answer)} `;
  return golds.some((gold) => {
    const target = normaliseAnswer(gold);
    return target !== "" && normalised.includes(` ${target} `);
  });
}
