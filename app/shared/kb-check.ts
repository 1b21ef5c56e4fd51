// The knowledge-base check's report and the suggested actions, as the server stores them and
// the admin pages show them (docs/decisions/032). Types and the thresholds only: the server
// side is app/server/kb-check/check.server.ts and app/server/actions/suggest.server.ts, the view
// app/admin/kb-check-view.tsx.

/** Fewer words than this make a document "tiny". */
export const TINY_DOCUMENT_WORDS = 30;
/** Words per shingle when comparing documents for near-duplicates. */
export const SHINGLE_WORDS = 5;
/** Share of the smaller document's shingles found in the other one that makes it a near-duplicate. */
export const NEAR_DUPLICATE_SHARE = 0.8;
/** Below this share of letters and digits among its visible characters a text is unreadable. */
export const MIN_ALPHANUMERIC_SHARE = 0.6;
/** From this share of replacement, control or mis-decoded characters a text is garbled. */
export const MAX_GARBLED_SHARE = 0.01;
/** Texts shorter than this (visible characters) are too short to judge as garbled. */
export const MIN_CHARS_TO_JUDGE = 80;

export type KbCheckState = "running" | "done" | "failed";
export type KbCheckTrigger = "auto" | "manual";

export type FindingKind =
  | "no_documents"
  | "empty"
  | "tiny"
  | "duplicate"
  | "near_duplicate"
  | "failed"
  | "unreadable"
  | "unanswerable_question"
  | "unchecked_question"
  | "no_starter_questions";

/** problem: visitors get worse answers because of it; warning: probably; info: worth knowing. */
export type FindingSeverity = "problem" | "warning" | "info";

export interface FindingDocument {
  /** The indexed document, or null when none was indexed (a failed job). */
  id: number | null;
  title: string;
  /** The ingestion job, for findings about jobs. */
  jobId?: number;
}

export interface KbFinding {
  kind: FindingKind;
  severity: FindingSeverity;
  /** What was found, in one line. */
  summary: string;
  /** The measurement behind it (counts, shares, the reason a job gave). */
  detail: string;
  /** What to do about it. */
  fix: string;
  documents: FindingDocument[];
  /** The starter question, for question findings. */
  question?: string;
}

export interface StarterQuestionResult {
  question: string;
  /** answered: the answerer answered with citations; abstained: it said it does not know. */
  outcome: "answered" | "abstained" | "no_passages" | "error";
  /** The best passage retrieval found, when any. */
  topSource: { documentId: number; title: string; snippet: string } | null;
  /** `name:model` of the answerer that decided, e.g. `extractive:…` or `groq:…`. */
  answeredBy: string;
  error?: string;
}

export interface KbCounts {
  documents: number;
  chunks: number;
  /** Words of the indexed text, with the overlap between consecutive chunks counted once. */
  words: number;
  /** Sources whose latest ingestion failed. */
  failedJobs: number;
  /** Jobs still queued or running when the check ran. */
  pendingJobs: number;
}

export interface KbCheckReport {
  counts: KbCounts;
  findings: KbFinding[];
  starterQuestions: StarterQuestionResult[];
  /** The answerer the starter questions went through, `name:model`. */
  answerer: string;
  thresholds: {
    tinyWords: number;
    shingleWords: number;
    nearDuplicateShare: number;
    minAlphanumericShare: number;
    maxGarbledShare: number;
  };
}

export interface KbCheck {
  id: number;
  trigger: KbCheckTrigger;
  state: KbCheckState;
  /** What a running check is doing now. */
  step: string | null;
  progress: { done: number; total: number };
  startedAt: number;
  finishedAt: number | null;
  error: string | null;
  /** The report of a finished check (null while running, or when it failed). */
  report: KbCheckReport | null;
}

export type SuggestionStatus = "proposed" | "accepted" | "rejected";

export interface SuggestionEvidence {
  documentId: number;
  chunkId: number;
  title: string;
  headingPath: string;
  /** The passage around the words that matched. */
  snippet: string;
  /** The words in it that matched the action's rule, e.g. "opening hours". */
  matched: string;
}

export interface ActionSuggestion {
  id: number;
  /** An action name of app/server/actions/registry.server.ts, e.g. "book_appointment". */
  action: string;
  title: string;
  status: SuggestionStatus;
  /** Why it is proposed: what the evidence shows, and the industry when it counted. */
  reason: string;
  evidence: SuggestionEvidence[];
  /** After a decision: what accepting did ("enabled", "needs_webhook") or "rejected". */
  outcome: string | null;
  decidedBy: string | null;
  decidedAt: number | null;
  createdAt: number;
  updatedAt: number;
}
