// The audit log of one tenant database: every ask (who asked, a SHA-256 of the question,
// latency, tokens, cache hit, outcome) and every admin action (who did what, when).
// Only hashes of questions are kept here; the conversation itself is in messages.
import { statement } from "./statements.ts";
import type { TenantDb } from "./store.ts";

export type AuditKind = "ask" | "admin";

export interface AuditEntry {
  id: number;
  at: number;
  kind: AuditKind;
  /** A visitor session (conversation id), `key:<id>` for a secret key, or an admin's e-mail. */
  actor: string;
  action: string;
  outcome: string;
  questionSha256: string | null;
  latencyMs: number | null;
  promptTokens: number | null;
  completionTokens: number | null;
  cacheHit: boolean | null;
  detail: unknown;
}

export type AuditInput = Omit<AuditEntry, "id" | "at" | "detail" | "cacheHit"> & {
  at?: number;
  cacheHit?: boolean | null;
  detail?: unknown;
};

export function appendAudit(db: TenantDb, entry: AuditInput): number {
  // Every ask writes one: the statement is prepared once per handle.
  return Number(
    statement(
      db,
      `INSERT INTO audit_log (at, kind, actor, action, outcome, question_sha256, latency_ms,
         prompt_tokens, completion_tokens, cache_hit, detail)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      entry.at ?? Date.now(),
      entry.kind,
      entry.actor,
      entry.action,
      entry.outcome,
      entry.questionSha256,
      entry.latencyMs,
      entry.promptTokens,
      entry.completionTokens,
      entry.cacheHit === null || entry.cacheHit === undefined ? null : entry.cacheHit ? 1 : 0,
      entry.detail === undefined ? null : JSON.stringify(entry.detail),
    ).lastInsertRowid,
  );
}

interface AuditRow {
  id: number;
  at: number;
  kind: AuditKind;
  actor: string;
  action: string;
  outcome: string;
  question_sha256: string | null;
  latency_ms: number | null;
  prompt_tokens: number | null;
  completion_tokens: number | null;
  cache_hit: number | null;
  detail: string | null;
}

/**
 * Newest first; `before` (an entry id) pages back through older entries. `action` matches
 * an action or its dotted family ("api_key" finds api_key.create and api_key.revoke);
 * `actor` is matched exactly.
 */
export function listAudit(
  db: TenantDb,
  options: { limit: number; before?: number; kind?: AuditKind; action?: string; actor?: string },
): AuditEntry[] {
  const action = options.action || null;
  const rows = db
    .prepare(
      `SELECT * FROM audit_log
       WHERE (? IS NULL OR id < ?) AND (? IS NULL OR kind = ?)
         AND (? IS NULL OR action = ? OR substr(action, 1, length(?) + 1) = ? || '.')
         AND (? IS NULL OR actor = ?)
       ORDER BY id DESC LIMIT ?`,
    )
    .all(
      options.before ?? null,
      options.before ?? null,
      options.kind ?? null,
      options.kind ?? null,
      action,
      action,
      action,
      action,
      options.actor || null,
      options.actor || null,
      options.limit,
    ) as AuditRow[];
  return rows.map((row) => ({
    id: row.id,
    at: row.at,
    kind: row.kind,
    actor: row.actor,
    action: row.action,
    outcome: row.outcome,
    questionSha256: row.question_sha256,
    latencyMs: row.latency_ms,
    promptTokens: row.prompt_tokens,
    completionTokens: row.completion_tokens,
    cacheHit: row.cache_hit === null ? null : row.cache_hit === 1,
    detail: row.detail === null ? null : (JSON.parse(row.detail) as unknown),
  }));
}

export const AUDIT_CSV_COLUMNS = [
  "id",
  "time",
  "kind",
  "actor",
  "action",
  "outcome",
  "question_sha256",
  "latency_ms",
  "prompt_tokens",
  "completion_tokens",
  "cache_hit",
  "detail",
] as const;

/** RFC 4180 field; a leading =, +, - or @ is prefixed with ' so spreadsheets do not run it. */
function csvField(value: unknown): string {
  if (value === null || value === undefined) return "";
  let text = typeof value === "string" ? value : JSON.stringify(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function auditToCsv(entries: readonly AuditEntry[]): string {
  const lines = [AUDIT_CSV_COLUMNS.join(",")];
  for (const e of entries) {
    lines.push(
      [
        e.id,
        new Date(e.at).toISOString(),
        e.kind,
        e.actor,
        e.action,
        e.outcome,
        e.questionSha256,
        e.latencyMs,
        e.promptTokens,
        e.completionTokens,
        e.cacheHit === null ? null : String(e.cacheHit),
        e.detail,
      ]
        .map(csvField)
        .join(","),
    );
  }
  return `${lines.join("\r\n")}\r\n`;
}
