// Data access for a tenant's actions (docs/decisions/027, 032): the claims on action offers
// (`action_offers`), the records the built-in back-ends keep (`action_records`), the action
// settings and booking calendar (`action_settings`, `action_config`) and the suggested
// actions (`action_suggestions`). Rows come back as stored (snake_case JSON strings
// included); app/server/actions/ validates, parses and gives them their domain shape.
// Touches only the tenant database it is handed.
import { statement } from "./statements.ts";
import type { TenantDb } from "./store.ts";

// ---- action_offers: single-use claims on signed offers -------------------------------------

export interface OfferClaim {
  /** A hash of the offer id (the table keeps no bearer tokens). */
  id: string;
  name: string;
  conversationId: string;
  source: string;
  expiresAt: number;
}

/** Sweeps the claims of offers that expired before `before`. */
export function deleteOfferClaimsExpiredBefore(db: TenantDb, before: number): void {
  statement(db, "DELETE FROM action_offers WHERE expires_at < ?").run(before);
}

/** Inserts a running claim; false when the offer is claimed already. */
export function insertOfferClaim(db: TenantDb, claim: OfferClaim, now: number): boolean {
  const result = statement(
    db,
    `INSERT INTO action_offers (id, name, conversation_id, source, state, expires_at, created_at)
       VALUES (?, ?, ?, ?, 'running', ?, ?) ON CONFLICT(id) DO NOTHING`,
  ).run(claim.id, claim.name, claim.conversationId, claim.source, claim.expiresAt, now);
  return result.changes === 1;
}

export function markOfferClaimDone(db: TenantDb, id: string, recordId: number | null): void {
  statement(db, "UPDATE action_offers SET state = 'done', record_id = ? WHERE id = ?").run(
    recordId,
    id,
  );
}

/** Drops a claim that is still running, so the offer may be tried again. */
export function deleteRunningOfferClaim(db: TenantDb, id: string): void {
  statement(db, "DELETE FROM action_offers WHERE id = ? AND state = 'running'").run(id);
}

// ---- action_records: appointments, leads and hand-off tickets ------------------------------

export interface ActionRecordRow {
  id: number;
  kind: string;
  status: string;
  reference: string;
  created_at: number;
  summary: string;
  /** JSON object, or null without contact details. */
  contact: string | null;
  /** JSON object. */
  details: string;
  conversation_id: string | null;
}

export interface ActionRecordInsert {
  kind: string;
  reference: string;
  summary: string;
  /** JSON object. */
  details: string;
  /** JSON object or null. */
  contact: string | null;
  conversationId: string | null;
  /** An appointment's start (UTC ms): unique among appointments (index on slot_start). */
  slotStart: number | null;
  now: number;
}

const RECORD_COLUMNS =
  "id, kind, status, reference, created_at, summary, contact, details, conversation_id";

/** Inserts a record; SQLite's constraint error when its slot or reference is taken. */
export function insertActionRecord(db: TenantDb, record: ActionRecordInsert): ActionRecordRow {
  return statement(
    db,
    `INSERT INTO action_records
       (kind, status, reference, summary, details, contact, conversation_id, slot_start,
        created_at, updated_at)
     VALUES (?, 'open', ?, ?, ?, ?, ?, ?, ?, ?)
     RETURNING ${RECORD_COLUMNS}`,
  ).get(
    record.kind,
    record.reference,
    record.summary,
    record.details,
    record.contact,
    record.conversationId,
    record.slotStart,
    record.now,
    record.now,
  ) as ActionRecordRow;
}

/** Records of one kind, newest first; of one status when given; at most `limit`. */
export function actionRecordRows(
  db: TenantDb,
  kind: string,
  status: string | undefined,
  limit: number,
): ActionRecordRow[] {
  return (
    status
      ? statement(
          db,
          `SELECT ${RECORD_COLUMNS} FROM action_records WHERE kind = ? AND status = ?
             ORDER BY id DESC LIMIT ?`,
        ).all(kind, status, limit)
      : statement(
          db,
          `SELECT ${RECORD_COLUMNS} FROM action_records WHERE kind = ? ORDER BY id DESC LIMIT ?`,
        ).all(kind, limit)
  ) as ActionRecordRow[];
}

/** Every record of one kind, newest first (the CSV export). */
export function allActionRecordRows(db: TenantDb, kind: string): ActionRecordRow[] {
  return statement(
    db,
    `SELECT ${RECORD_COLUMNS} FROM action_records WHERE kind = ? ORDER BY id DESC`,
  ).all(kind) as ActionRecordRow[];
}

export function actionRecordRow(
  db: TenantDb,
  kind: string,
  id: number,
): ActionRecordRow | undefined {
  return statement(
    db,
    `SELECT ${RECORD_COLUMNS} FROM action_records WHERE kind = ? AND id = ?`,
  ).get(kind, id) as ActionRecordRow | undefined;
}

/** Sets a record's status; undefined when there is no such record of that kind. */
export function updateActionRecordStatus(
  db: TenantDb,
  kind: string,
  id: number,
  status: string,
  now: number,
): ActionRecordRow | undefined {
  return statement(
    db,
    `UPDATE action_records SET status = ?, updated_at = ? WHERE kind = ? AND id = ?
       RETURNING ${RECORD_COLUMNS}`,
  ).get(status, now, kind, id) as ActionRecordRow | undefined;
}

/** Start times (UTC ms) of the appointments booked in [from, to). */
export function appointmentSlotStarts(db: TenantDb, from: number, to: number): number[] {
  const rows = statement(
    db,
    `SELECT slot_start FROM action_records
       WHERE kind = 'appointment' AND slot_start >= ? AND slot_start < ?`,
  ).all(from, to) as { slot_start: number }[];
  return rows.map((row) => row.slot_start);
}

// ---- action_settings and action_config -----------------------------------------------------

export interface ActionSettingRow {
  name: string;
  enabled: number;
  backend: string;
  webhook_url: string | null;
}

export interface ActionConfigRow {
  /** JSON: opening hours per weekday. */
  hours: string;
  slot_minutes: number;
  timezone: string;
  webhook_secret: string | null;
}

export function actionSettingRows(db: TenantDb): ActionSettingRow[] {
  return statement(
    db,
    "SELECT name, enabled, backend, webhook_url FROM action_settings",
  ).all() as ActionSettingRow[];
}

export function actionConfigRow(db: TenantDb): ActionConfigRow | undefined {
  return statement(
    db,
    "SELECT hours, slot_minutes, timezone, webhook_secret FROM action_config WHERE id = 1",
  ).get() as ActionConfigRow | undefined;
}

/**
 * Whether any action other than `except` is switched on. Every widget ask asks this: the
 * statement is prepared once per handle (and per length of `except`).
 */
export function anyActionEnabledExcept(db: TenantDb, except: readonly string[]): boolean {
  const placeholders = except.map(() => "?").join(", ");
  return (
    statement(
      db,
      `SELECT 1 FROM action_settings WHERE enabled = 1 AND name NOT IN (${placeholders}) LIMIT 1`,
    ).get(...except) !== undefined
  );
}

export interface ActionSettingWrite {
  name: string;
  enabled: boolean;
  backend: string;
  webhookUrl: string | null;
}

export interface ActionConfigWrite {
  /** JSON: opening hours per weekday. */
  hours: string;
  slotMinutes: number;
  timezone: string;
}

/** Stores every action's setting and the booking calendar, in one transaction. */
export function writeActionSettings(
  db: TenantDb,
  actions: readonly ActionSettingWrite[],
  config: ActionConfigWrite,
): void {
  const upsertAction = statement(
    db,
    `INSERT INTO action_settings (name, enabled, backend, webhook_url) VALUES (?, ?, ?, ?)
     ON CONFLICT(name) DO UPDATE SET enabled = excluded.enabled, backend = excluded.backend,
       webhook_url = excluded.webhook_url`,
  );
  db.transaction(() => {
    for (const action of actions) {
      upsertAction.run(action.name, action.enabled ? 1 : 0, action.backend, action.webhookUrl);
    }
    statement(
      db,
      `INSERT INTO action_config (id, hours, slot_minutes, timezone) VALUES (1, ?, ?, ?)
       ON CONFLICT(id) DO UPDATE SET hours = excluded.hours,
         slot_minutes = excluded.slot_minutes, timezone = excluded.timezone`,
    ).run(config.hours, config.slotMinutes, config.timezone);
  })();
}

/** Stores the webhook signing secret; `defaults` make the calendar row when there is none. */
export function writeWebhookSecret(
  db: TenantDb,
  secret: string,
  defaults: ActionConfigWrite,
): void {
  statement(
    db,
    `INSERT INTO action_config (id, hours, slot_minutes, timezone, webhook_secret)
     VALUES (1, ?, ?, ?, ?)
     ON CONFLICT(id) DO UPDATE SET webhook_secret = excluded.webhook_secret`,
  ).run(defaults.hours, defaults.slotMinutes, defaults.timezone, secret);
}

// ---- action_suggestions --------------------------------------------------------------------

export type SuggestionRowStatus = "proposed" | "accepted" | "rejected";

export interface ActionSuggestionRow {
  id: number;
  action: string;
  status: SuggestionRowStatus;
  reason: string;
  /** JSON array of evidence. */
  evidence: string;
  check_id: number | null;
  outcome: string | null;
  decided_by: string | null;
  created_at: number;
  updated_at: number;
  decided_at: number | null;
}

export interface SuggestionOutcomeWrite {
  action: string;
  proposed: boolean;
  reason: string;
  /** JSON array of evidence. */
  evidence: string;
}

export function actionSuggestionRows(db: TenantDb): ActionSuggestionRow[] {
  return statement(db, "SELECT * FROM action_suggestions").all() as ActionSuggestionRow[];
}

export function actionSuggestionRow(db: TenantDb, id: number): ActionSuggestionRow | undefined {
  return statement(db, "SELECT * FROM action_suggestions WHERE id = ?").get(id) as
    ActionSuggestionRow | undefined;
}

/**
 * Stores one check's outcomes in one transaction: a proposal for an action proposed for the
 * first time; fresh reason and evidence for an existing one (its status is kept); an
 * undecided proposal that is no longer proposed is withdrawn.
 */
export function writeSuggestionOutcomes(
  db: TenantDb,
  outcomes: readonly SuggestionOutcomeWrite[],
  checkId: number | null,
  now: number,
): void {
  const existing = statement(db, "SELECT id, status FROM action_suggestions WHERE action = ?");
  const insert = statement(
    db,
    `INSERT INTO action_suggestions (action, status, reason, evidence, check_id, created_at, updated_at)
     VALUES (?, 'proposed', ?, ?, ?, ?, ?)`,
  );
  const refresh = statement(
    db,
    "UPDATE action_suggestions SET reason = ?, evidence = ?, check_id = ?, updated_at = ? WHERE id = ?",
  );
  const withdraw = statement(
    db,
    "DELETE FROM action_suggestions WHERE id = ? AND status = 'proposed'",
  );
  db.transaction(() => {
    for (const outcome of outcomes) {
      const row = existing.get(outcome.action) as
        { id: number; status: SuggestionRowStatus } | undefined;
      if (outcome.proposed) {
        if (row) refresh.run(outcome.reason, outcome.evidence, checkId, now, row.id);
        else insert.run(outcome.action, outcome.reason, outcome.evidence, checkId, now, now);
      } else if (row) {
        withdraw.run(row.id);
      }
    }
  })();
}

/** Records an admin's decision on a suggestion. */
export function writeSuggestionDecision(
  db: TenantDb,
  id: number,
  decision: { status: "accepted" | "rejected"; outcome: string; actor: string; now: number },
): void {
  statement(
    db,
    `UPDATE action_suggestions SET status = ?, outcome = ?, decided_by = ?, decided_at = ?,
         updated_at = ? WHERE id = ?`,
  ).run(decision.status, decision.outcome, decision.actor, decision.now, decision.now, id);
}
