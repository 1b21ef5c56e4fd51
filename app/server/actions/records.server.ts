// What the built-in back-ends record in a tenant's database (table action_records, tenant
// migration 9): appointments, leads and hand-off tickets, each with a short reference the
// visitor is given, open until an admin marks it done; listed and exported as CSV for the
// admin app. Contact details are here only because the visitor gave them with consent.
// An appointment holds its slot through a unique index, so two visitors cannot book one slot.
import { randomInt } from "node:crypto";
import type { TenantDb } from "#tenants/store.ts";

export const RECORD_KINDS = ["appointment", "lead", "handoff"] as const;
export type ActionRecordKind = (typeof RECORD_KINDS)[number];
export const RECORD_STATUSES = ["open", "done"] as const;
export type ActionRecordStatus = (typeof RECORD_STATUSES)[number];

export interface ActionContact {
  name: string;
  email: string;
  phone: string;
}

export interface ActionRecord {
  id: number;
  kind: ActionRecordKind;
  status: ActionRecordStatus;
  /** The short reference the visitor was given, e.g. "K7M2QX". */
  reference: string;
  createdAt: number;
  summary: string;
  contact: ActionContact | null;
  details: Record<string, string>;
  conversationId: string | null;
}

export interface NewActionRecord {
  kind: ActionRecordKind;
  summary: string;
  details: Record<string, string>;
  contact: Partial<ActionContact> | null;
  conversationId: string | null;
  /** An appointment's start (UTC ms): unique among appointments. */
  slotStart?: number;
  now?: number;
}

/** The slot was booked by someone else first. */
export class SlotTakenError extends Error {
  override name = "SlotTakenError";
}

interface RecordRow {
  id: number;
  kind: ActionRecordKind;
  status: ActionRecordStatus;
  reference: string;
  created_at: number;
  summary: string;
  contact: string | null;
  details: string;
  conversation_id: string | null;
}

const COLUMNS =
  "id, kind, status, reference, created_at, summary, contact, details, conversation_id";
// No 0/O, 1/I: the visitor may read the reference out over the phone.
const REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
const MAX_LIST = 1000;

function newReference(): string {
  let reference = "";
  for (let i = 0; i < 6; i++) reference += REFERENCE_ALPHABET[randomInt(REFERENCE_ALPHABET.length)];
  return reference;
}

function parseObject(json: string | null): Record<string, string> | null {
  if (json === null) return null;
  try {
    const value: unknown = JSON.parse(json);
    if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, String(v)]),
    );
  } catch {
    return null;
  }
}

function toRecord(row: RecordRow): ActionRecord {
  const contact = parseObject(row.contact);
  return {
    id: row.id,
    kind: row.kind,
    status: row.status,
    reference: row.reference,
    createdAt: row.created_at,
    summary: row.summary,
    contact: contact
      ? { name: contact.name ?? "", email: contact.email ?? "", phone: contact.phone ?? "" }
      : null,
    details: parseObject(row.details) ?? {},
    conversationId: row.conversation_id,
  };
}

function isUniqueViolation(error: unknown, index: string): boolean {
  return (
    error instanceof Error &&
    (error as { code?: string }).code?.startsWith("SQLITE_CONSTRAINT") === true &&
    error.message.includes(index)
  );
}

/** Stores a record (a SlotTakenError when an appointment's slot is already booked). */
export function createActionRecord(db: TenantDb, record: NewActionRecord): ActionRecord {
  const now = record.now ?? Date.now();
  const contact =
    record.contact && Object.values(record.contact).some((value) => value)
      ? JSON.stringify({
          name: record.contact.name ?? "",
          email: record.contact.email ?? "",
          phone: record.contact.phone ?? "",
        })
      : null;
  const insert = db.prepare(
    `INSERT INTO action_records
       (kind, status, reference, summary, details, contact, conversation_id, slot_start,
        created_at, updated_at)
     VALUES (?, 'open', ?, ?, ?, ?, ?, ?, ?, ?)
     RETURNING ${COLUMNS}`,
  );
  for (let attempt = 0; ; attempt++) {
    try {
      const row = insert.get(
        record.kind,
        newReference(),
        record.summary,
        JSON.stringify(record.details),
        contact,
        record.conversationId,
        record.kind === "appointment" ? (record.slotStart ?? null) : null,
        now,
        now,
      ) as RecordRow;
      return toRecord(row);
    } catch (error) {
      if (isUniqueViolation(error, "slot_start")) {
        throw new SlotTakenError("That slot has just been booked.");
      }
      // 32^6 references: a collision is rare; try another.
      if (isUniqueViolation(error, "reference") && attempt < 5) continue;
      throw error;
    }
  }
}

export function listActionRecords(
  db: TenantDb,
  kind: ActionRecordKind,
  options: { status?: ActionRecordStatus; limit?: number } = {},
): ActionRecord[] {
  const limit = Math.min(Math.max(options.limit ?? MAX_LIST, 1), MAX_LIST);
  const rows = (
    options.status
      ? db
          .prepare(
            `SELECT ${COLUMNS} FROM action_records WHERE kind = ? AND status = ?
             ORDER BY id DESC LIMIT ?`,
          )
          .all(kind, options.status, limit)
      : db
          .prepare(`SELECT ${COLUMNS} FROM action_records WHERE kind = ? ORDER BY id DESC LIMIT ?`)
          .all(kind, limit)
  ) as RecordRow[];
  return rows.map(toRecord);
}

export function getActionRecord(
  db: TenantDb,
  kind: ActionRecordKind,
  id: number,
): ActionRecord | null {
  const row = db
    .prepare(`SELECT ${COLUMNS} FROM action_records WHERE kind = ? AND id = ?`)
    .get(kind, id) as RecordRow | undefined;
  return row ? toRecord(row) : null;
}

/** Marks a record open or done; null when this tenant has no such record of that kind. */
export function setActionRecordStatus(
  db: TenantDb,
  kind: ActionRecordKind,
  id: number,
  status: ActionRecordStatus,
  now = Date.now(),
): ActionRecord | null {
  const row = db
    .prepare(
      `UPDATE action_records SET status = ?, updated_at = ? WHERE kind = ? AND id = ?
       RETURNING ${COLUMNS}`,
    )
    .get(status, now, kind, id) as RecordRow | undefined;
  return row ? toRecord(row) : null;
}

/** Start times (UTC ms) of the appointments booked in [from, to). */
export function bookedSlots(db: TenantDb, from: number, to: number): Set<number> {
  const rows = db
    .prepare(
      `SELECT slot_start FROM action_records
       WHERE kind = 'appointment' AND slot_start >= ? AND slot_start < ?`,
    )
    .all(from, to) as { slot_start: number }[];
  return new Set(rows.map((row) => row.slot_start));
}

// A cell a spreadsheet would run as a formula is prefixed with a quote (CSV injection).
function csvCell(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

/** Every record of one kind as CSV (RFC 4180, CRLF), newest first, with a header row. */
export function actionRecordsCsv(db: TenantDb, kind: ActionRecordKind): string {
  const header = [
    "id",
    "reference",
    "status",
    "created_at",
    "summary",
    "name",
    "email",
    "phone",
    "details",
    "conversation_id",
  ];
  const lines = [header.join(",")];
  const rows = db
    .prepare(`SELECT ${COLUMNS} FROM action_records WHERE kind = ? ORDER BY id DESC`)
    .all(kind) as RecordRow[];
  for (const row of rows.map(toRecord)) {
    lines.push(
      [
        String(row.id),
        row.reference,
        row.status,
        new Date(row.createdAt).toISOString(),
        row.summary,
        row.contact?.name ?? "",
        row.contact?.email ?? "",
        row.contact?.phone ?? "",
        Object.entries(row.details)
          .map(([key, value]) => `${key}: ${value}`)
          .join("; "),
        row.conversationId ?? "",
      ]
        .map(csvCell)
        .join(","),
    );
  }
  return `${lines.join("\r\n")}\r\n`;
}
