// The admin's view of visitors' conversations: a newest-first list that pages by keyset on
// the table's rowid (conversations are inserted when they start, so no index the ask would
// have to maintain is needed) and finds a word in any message,
// and one conversation's transcript with each answer's citations and the visitor's rating.
// Texts are returned as stored: masked when the tenant masks transcripts. Reads only.
import type { TenantDb } from "./store.ts";

export interface ConversationSummary {
  /** Position in the order conversations started (the rowid): the paging key. */
  seq: number;
  id: string;
  createdAt: number;
  updatedAt: number;
  /** Questions asked in it. */
  questions: number;
  firstQuestion: string;
  helpful: number;
  unhelpful: number;
}

export interface ConversationPage {
  conversations: ConversationSummary[];
  /** The `before` of the next (older) page; null on the last page. */
  next: number | null;
}

const MAX_SEARCH_CHARS = 200;

/** A LIKE pattern that matches `text` literally anywhere (\ escapes % and _). */
export function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export function listConversations(
  db: TenantDb,
  options: { limit: number; before?: number | null; search?: string | null },
): ConversationPage {
  const search = options.search?.trim().slice(0, MAX_SEARCH_CHARS) || null;
  const before = options.before ?? null;
  const rows = db
    .prepare(
      `SELECT c.rowid AS seq, c.id, c.created_at AS createdAt, c.updated_at AS updatedAt,
         (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id AND m.role = 'user')
           AS questions,
         coalesce((SELECT content FROM messages m WHERE m.conversation_id = c.id
           AND m.role = 'user' ORDER BY m.id LIMIT 1), '') AS firstQuestion,
         (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id AND m.feedback = 1)
           AS helpful,
         (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id AND m.feedback = -1)
           AS unhelpful
       FROM conversations c
       WHERE (? IS NULL OR c.rowid < ?)
         AND (? IS NULL OR EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id
           AND m.content LIKE ? ESCAPE '\\'))
       ORDER BY c.rowid DESC
       LIMIT ?`,
    )
    .all(
      before,
      before,
      search,
      search === null ? null : containsPattern(search),
      options.limit + 1,
    ) as ConversationSummary[];
  const more = rows.length > options.limit;
  const conversations = more ? rows.slice(0, options.limit) : rows;
  const last = conversations.at(-1);
  return {
    conversations,
    next: more && last ? last.seq : null,
  };
}

export interface TranscriptCitation {
  n: number;
  title: string;
  url: string | null;
  snippet: string;
  headingPath: string;
}

export interface TranscriptMessage {
  id: number;
  role: "user" | "assistant";
  content: string;
  createdAt: number;
  /** Answers only. */
  citations: TranscriptCitation[];
  provider: string | null;
  promptTokens: number | null;
  completionTokens: number | null;
  latencyMs: number | null;
  cached: boolean;
  /** The visitor's thumbs: 1 up, -1 down, null none. */
  feedback: 1 | -1 | null;
  feedbackAt: number | null;
}

export interface Transcript {
  id: string;
  createdAt: number;
  updatedAt: number;
  messages: TranscriptMessage[];
}

interface MessageRow {
  id: number;
  role: "user" | "assistant";
  content: string;
  citations: string | null;
  provider: string | null;
  prompt_tokens: number | null;
  completion_tokens: number | null;
  latency_ms: number | null;
  created_at: number;
  cached: number;
  feedback: 1 | -1 | null;
  feedback_at: number | null;
}

const str = (value: unknown) => (typeof value === "string" ? value : "");

/** The stored citations, read defensively: older rows or replicas may have other shapes. */
export function parseCitations(json: string | null): TranscriptCitation[] {
  if (!json) return [];
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return [];
  }
  if (!Array.isArray(value)) return [];
  return value.flatMap((item: unknown, i) => {
    if (typeof item !== "object" || item === null) return [];
    const c = item as Record<string, unknown>;
    return [
      {
        n: typeof c.n === "number" ? c.n : i + 1,
        title: str(c.title) || str(c.fileName) || "Untitled source",
        url: typeof c.url === "string" && /^https?:\/\//i.test(c.url) ? c.url : null,
        snippet: str(c.snippet),
        headingPath: str(c.headingPath),
      },
    ];
  });
}

export function getTranscript(db: TenantDb, id: string): Transcript | null {
  const conversation = db
    .prepare(
      "SELECT id, created_at AS createdAt, updated_at AS updatedAt FROM conversations WHERE id = ?",
    )
    .get(id) as Omit<Transcript, "messages"> | undefined;
  if (!conversation) return null;
  const rows = db
    .prepare(
      `SELECT id, role, content, citations, provider, prompt_tokens, completion_tokens,
         latency_ms, created_at, cached, feedback, feedback_at
       FROM messages WHERE conversation_id = ? ORDER BY id`,
    )
    .all(id) as MessageRow[];
  return {
    ...conversation,
    messages: rows.map((row) => ({
      id: row.id,
      role: row.role,
      content: row.content,
      createdAt: row.created_at,
      citations: row.role === "assistant" ? parseCitations(row.citations) : [],
      provider: row.provider,
      promptTokens: row.prompt_tokens,
      completionTokens: row.completion_tokens,
      latencyMs: row.latency_ms,
      cached: row.cached === 1,
      feedback: row.feedback,
      feedbackAt: row.feedback_at,
    })),
  };
}
