// How questions are compared: the same question asked with different case, spacing or
// trailing punctuation is one question (batch de-duplication, the retrieval cache).

/** The key identical questions share: case, spacing and trailing punctuation ignored. */
export function normaliseQuestion(question: string): string {
  return question
    .normalize("NFKC")
    .toLowerCase()
    .replace(/\s+/g, " ")
    .replace(/[\s?!.,;:…]+$/u, "")
    .trim();
}
