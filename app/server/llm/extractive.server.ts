// The embedded answerer used when no LLM is configured: it answers by quoting the one to
// three retrieved sentences that best match the question, each with its [n] citation, and
// abstains when nothing in the sources matches. Deterministic, offline, no model at all.
import { NO_ANSWER } from "./prompt.server.ts";
import type {
  AnswerChunk,
  AnswerProvider,
  AnswerRequest,
  SourcePassage,
} from "./provider.server.ts";

export const EXTRACTIVE_NO_ANSWER =
  "I don't know based on the knowledge base — it doesn't seem to cover that question.";

export interface ExtractiveOptions {
  /** Most sentences in one answer. */
  maxSentences?: number;
  /** A sentence must share at least this many question content words to be quoted. */
  minSharedTerms?: number;
  /**
   * A sentence must cover at least this share (0–1) of the question's IDF-weighted content
   * words. Words the sources never use weigh the most, so a question about something the
   * knowledge base does not mention stays below the bar even when one common word matches.
   */
  minCoverage?: number;
  /**
   * With passage similarities (the encoder's cosine of question and passage), the coverage a
   * sentence needs is `coverageAtZeroSimilarity − similarityCredit × best similarity`, never
   * below 0: the more the encoder says the knowledge base is about the question, the less
   * word overlap an answer needs (a paraphrased FAQ question), and the less it says so, the
   * more (a question about something else that shares one common word). Without
   * similarities, `minCoverage` applies.
   */
  coverageAtZeroSimilarity?: number;
  similarityCredit?: number;
  /** Sources whose fused retrieval score is below this are not quoted. */
  minSourceScore?: number;
  /** Extra sentences must score at least this share of the best sentence's score. */
  relativeCutoff?: number;
  /** Words per streamed token chunk. */
  wordsPerChunk?: number;
}

const DEFAULTS: Required<ExtractiveOptions> = {
  maxSentences: 3,
  minSharedTerms: 1,
  minCoverage: 0.3,
  coverageAtZeroSimilarity: 0.85,
  similarityCredit: 1.1,
  minSourceScore: 0,
  relativeCutoff: 0.4,
  wordsPerChunk: 3,
};

/** Top source gets this much on top of its coverage, the n-th one 1/n of it: a tie-breaker. */
const RANK_BONUS = 0.06;
/** A question word found only in the source's title or heading counts this much. */
const CONTEXT_WEIGHT = 0.5;
/** Sentences longer than this are cut, so a table dumped as one "sentence" stays readable. */
const MAX_SENTENCE_WORDS = 60;
/** An answer stops growing once it is this long. */
const MAX_ANSWER_WORDS = 90;

/**
 * Words that carry no topic in a question ("how long does it take", "can you tell me ..."):
 * broader than the keyword stage's list because here a false match quotes the wrong sentence.
 */
// prettier-ignore
const STOP_WORDS: ReadonlySet<string> = new Set([
  "a", "about", "above", "after", "again", "all", "also", "am", "an", "and", "any", "anything",
  "are", "aren", "as", "at", "be", "been", "being", "both", "but", "by", "can", "come",
  "comes", "could", "did", "didn", "do", "does", "doesn", "doing", "don", "done", "each",
  "either", "else", "etc", "ever", "every", "explain", "find", "for", "from", "get", "gets",
  "getting", "give", "go", "goes", "going", "got", "had", "happen", "happens", "has", "have",
  "having", "he", "hello", "her", "here", "hers", "hi", "him", "his", "how", "i", "if", "in",
  "into", "is", "isn", "it", "its", "just", "know", "let", "like", "ll", "long", "make",
  "makes", "many", "may", "me", "might", "mine", "more", "most", "much", "must", "my",
  "need", "no", "nor", "not", "of", "off", "ok", "okay", "on", "once", "only", "onto", "or",
  "other", "our", "ours", "out", "over", "please", "re", "same", "see", "shall", "she",
  "should", "so", "some", "something", "such", "take", "takes", "taking", "tell", "than",
  "thank", "thanks", "that", "the", "their", "theirs", "them", "then", "there", "these",
  "they", "thing", "things", "this", "those", "through", "to", "too", "under", "until",
  "up", "us", "use", "using", "ve", "very", "want", "was", "wasn", "way", "we", "were",
  "what", "whats", "when", "where", "which", "while", "who", "whom", "whose", "why", "will",
  "with", "won", "work", "works", "would", "yes", "you", "your", "yours",
]);

const WORD = /[\p{L}\p{M}\p{N}]+/gu;

/**
 * A deliberately light English stemmer: plural, -ing, -ed, a doubled final consonant and a
 * final e, so "refunds"/"refunded", "shipping"/"ships" and "pricing"/"prices" meet. It
 * only has to agree with itself, never to produce real words.
 */
export function stem(word: string): string {
  let w = word;
  if (w.length <= 3) return w;
  if (w.endsWith("ies") && w.length > 4) return `${w.slice(0, -3)}y`;
  if (w.endsWith("sses") || /(?:ch|sh|x|z)es$/.test(w)) w = w.slice(0, -2);
  else if (w.endsWith("s") && !/(?:ss|us|is)$/.test(w)) w = w.slice(0, -1);
  if (w.endsWith("ing") && w.length > 5) w = w.slice(0, -3);
  else if (w.endsWith("ed") && w.length > 4) w = w.slice(0, -2);
  if (/([b-df-hj-np-tv-z])\1$/.test(w) && !/(?:ll|ss|zz)$/.test(w)) w = w.slice(0, -1);
  if (w.endsWith("e") && w.length > 3) w = w.slice(0, -1);
  return w;
}

/** "five sacks in nine games" and "5 sacks in 9 starts" name the same numbers. */
// prettier-ignore
const NUMBER_WORDS: ReadonlyMap<string, string> = new Map(
  [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen", "twenty",
  ].map((word, value) => [word, String(value)]),
);

/**
 * The stems of a text's topic words: lowercased, stop words dropped, number words as digits.
 * Single letters are dropped, single digits kept ("5 sacks").
 */
export function contentTerms(text: string): Set<string> {
  const terms = new Set<string>();
  for (const word of text.normalize("NFKC").toLowerCase().match(WORD) ?? []) {
    const number = NUMBER_WORDS.get(word);
    if (number !== undefined) {
      terms.add(number);
      continue;
    }
    if ((word.length < 2 && !/^\d$/.test(word)) || STOP_WORDS.has(word)) continue;
    terms.add(stem(word));
  }
  return terms;
}

/** About four characters a token: the usual estimate for English with BPE tokenizers. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** True for both no-answer sentences (the LLM one and the extractive one). */
export function isAbstention(answerText: string): boolean {
  const normalised = (text: string) =>
    text.replaceAll("\u2019", "'").replace(/\s+/g, " ").trim().toLowerCase();
  const answer = normalised(answerText);
  // Both sentences start with NO_ANSWER minus its full stop.
  const phrase = normalised(NO_ANSWER).replace(/\.$/, "");
  // An answer that cites a source answered at least part of the question.
  return answer.includes(phrase) && !/\[\d+\]/.test(answer);
}

interface Sentence {
  /** Position of the source in the request (0 = best retrieved). */
  sourceIndex: number;
  n: number;
  /** Position of the sentence inside its source. */
  position: number;
  text: string;
  terms: Set<string>;
  /** Terms of the source's title and heading: what the sentence is about, if not in it. */
  context: Set<string>;
  score: number;
  shared: number;
  coverage: number;
}

const segmenter = new Intl.Segmenter("en", { granularity: "sentence" });

/** Lines first (chunks are Markdown-ish: headings and list items end without a full stop). */
function splitSentences(text: string): string[] {
  const sentences: string[] = [];
  for (const line of text.split(/\n+/)) {
    const cleaned = line.replace(/^\s*(?:#{1,6}\s+|[-*•+]\s+|\d+[.)]\s+|>\s*)/, "");
    for (const { segment } of segmenter.segment(cleaned)) {
      const words = segment.trim().split(/\s+/).filter(Boolean);
      // Fragments such as a lone heading ("Refund policy") are labels, not answers.
      if (words.length < 3) continue;
      sentences.push(
        words.length > MAX_SENTENCE_WORDS
          ? `${words.slice(0, MAX_SENTENCE_WORDS).join(" ")}…`
          : words.join(" "),
      );
    }
  }
  return sentences;
}

/** Puts the citation before the sentence's closing punctuation: "… 14 days [2]." */
function cite(sentence: string, n: number): string {
  const match = /[.!?]+["'”’)\]]*$/.exec(sentence);
  if (match) return `${sentence.slice(0, match.index)} [${n}]${match[0]}`;
  // A sentence we cut short keeps its ellipsis; anything else gets a full stop.
  return sentence.endsWith("…") ? `${sentence} [${n}]` : `${sentence} [${n}].`;
}

function jaccard(a: Set<string>, b: Set<string>): number {
  let both = 0;
  for (const term of a) if (b.has(term)) both++;
  const either = a.size + b.size - both;
  return either === 0 ? 1 : both / either;
}

/** The answer text for a request: cited sentences, or EXTRACTIVE_NO_ANSWER. */
const QUESTION_SENTENCE = /\?["'”’)\]*_]*$/;

export function composeExtractiveAnswer(
  request: Pick<AnswerRequest, "question" | "sources">,
  options: ExtractiveOptions = {},
): string {
  const settings = { ...DEFAULTS, ...options };
  const questionTerms = contentTerms(request.question);
  if (questionTerms.size === 0) return EXTRACTIVE_NO_ANSWER;

  const sentences: Sentence[] = [];
  request.sources.forEach((source: SourcePassage, sourceIndex) => {
    if (source.score < settings.minSourceScore) return;
    const context = contentTerms(`${source.title} ${source.headingPath}`);
    splitSentences(source.text).forEach((text, position) => {
      // A question in the sources ("How do I deploy?") restates the visitor's question; it
      // never answers it.
      if (QUESTION_SENTENCE.test(text)) return;
      sentences.push({
        sourceIndex,
        n: source.n,
        position,
        text,
        terms: contentTerms(text),
        context,
        score: 0,
        shared: 0,
        coverage: 0,
      });
    });
  });
  if (sentences.length === 0) return EXTRACTIVE_NO_ANSWER;

  // IDF over the candidate sentences: a word every sentence uses says little about which
  // one answers; a question word no sentence uses has the highest weight of all. The 1 + …
  // keeps weights sensible when there are only a handful of sentences.
  const idf = new Map<string, number>();
  let questionWeight = 0;
  for (const term of questionTerms) {
    let df = 0;
    for (const sentence of sentences) if (sentence.terms.has(term)) df++;
    const weight = Math.log(1 + (sentences.length + 1) / (df + 0.5));
    idf.set(term, weight);
    questionWeight += weight;
  }

  for (const sentence of sentences) {
    let matched = 0;
    for (const term of questionTerms) {
      if (sentence.terms.has(term)) {
        sentence.shared++;
        matched += idf.get(term) as number;
      } else if (sentence.context.has(term)) {
        // "Items must be unused" answers a refund question when it sits under "Refund policy".
        matched += CONTEXT_WEIGHT * (idf.get(term) as number);
      }
    }
    sentence.coverage = matched / questionWeight;
    sentence.score = sentence.coverage + RANK_BONUS / (sentence.sourceIndex + 1);
  }

  const similarities = request.sources.flatMap((source) =>
    typeof source.similarity === "number" ? [source.similarity] : [],
  );
  const minCoverage =
    similarities.length === 0
      ? settings.minCoverage
      : Math.max(
          0,
          settings.coverageAtZeroSimilarity - settings.similarityCredit * Math.max(...similarities),
        );
  const eligible = sentences
    .filter((s) => s.shared >= settings.minSharedTerms && s.coverage >= minCoverage)
    .sort((a, b) => b.score - a.score || a.sourceIndex - b.sourceIndex || a.position - b.position);
  const best = eligible[0];
  if (!best) return EXTRACTIVE_NO_ANSWER;

  const chosen: Sentence[] = [best];
  let words = best.text.split(" ").length;
  for (const sentence of eligible.slice(1)) {
    if (chosen.length >= settings.maxSentences) break;
    if (sentence.score < best.score * settings.relativeCutoff) break;
    const length = sentence.text.split(" ").length;
    if (words + length > MAX_ANSWER_WORDS) continue;
    // The same fact in two chunks (overlap, copied pages) is said once.
    if (chosen.some((c) => c.text === sentence.text || jaccard(c.terms, sentence.terms) >= 0.7)) {
      continue;
    }
    chosen.push(sentence);
    words += length;
  }
  chosen.sort((a, b) => a.sourceIndex - b.sourceIndex || a.position - b.position);
  return chosen.map((sentence) => cite(sentence.text, sentence.n)).join(" ");
}

/** The extractive answer provider; `name` is `extractive`, `model` is `extractive-v1`. */
export function createExtractiveAnswerer(options: ExtractiveOptions = {}): AnswerProvider {
  const wordsPerChunk = Math.max(1, Math.floor(options.wordsPerChunk ?? DEFAULTS.wordsPerChunk));
  return {
    name: "extractive",
    model: "extractive-v1",
    async *stream(request: AnswerRequest): AsyncGenerator<AnswerChunk> {
      request.signal?.throwIfAborted();
      const answer = composeExtractiveAnswer(request, options);
      // Each piece keeps its trailing space, so the pieces join back into the exact answer.
      const pieces = answer.match(/\S+\s*/g) ?? [];
      for (let start = 0; start < pieces.length; start += wordsPerChunk) {
        request.signal?.throwIfAborted();
        yield { type: "token", text: pieces.slice(start, start + wordsPerChunk).join("") };
      }
      const promptText = [request.question, ...request.sources.map((s) => s.text)].join("\n");
      yield {
        type: "usage",
        usage: {
          promptTokens: estimateTokens(promptText),
          completionTokens: estimateTokens(answer),
          estimated: true,
        },
      };
    },
  };
}
