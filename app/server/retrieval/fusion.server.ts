// The fusion of the two retrieval signals, shared by retrieval and by the per-tenant
// calibration that picks its weights: a weighted sum of per-query normalised scores.
// Pure arithmetic; touches nothing.

export interface FusionInput {
  /** BM25 score (higher is better; 0 when the keyword stage did not return the chunk). */
  keywordScore: number;
  /** Cosine similarity of the query and the chunk, or null when it has no vector. */
  similarity: number | null;
}

/**
 * Fused score of each entry, in order. BM25 is divided by the query's best BM25 score (BM25
 * has no fixed scale; its ratio to the best match does). Cosine is min-max scaled between the
 * best candidate and the weakest vector-stage neighbour, because the encoder's raw cosines
 * crowd into a narrow band whose position differs from one question to the next.
 */
export function fusedScores(
  entries: readonly FusionInput[],
  neighbours: readonly { similarity: number }[],
  keywordWeight: number,
  vectorWeight: number,
): number[] {
  const bestKeyword = Math.max(0, ...entries.map((entry) => entry.keywordScore));
  const similarities = entries.flatMap((entry) =>
    entry.similarity === null ? [] : [entry.similarity],
  );
  const top = Math.max(-1, ...similarities);
  const floor = neighbours.length > 1 ? (neighbours.at(-1)?.similarity ?? -1) : Math.min(0, top);
  const spread = top - floor;
  return entries.map((entry) => {
    const keyword = bestKeyword > 0 ? entry.keywordScore / bestKeyword : 0;
    const vector =
      entry.similarity === null || spread <= 0
        ? 0
        : Math.min(1, Math.max(0, (entry.similarity - floor) / spread));
    return keywordWeight * keyword + vectorWeight * vector;
  });
}
