// What the built-in back-ends record in a tenant's database (table action_records, tenant
// migration 9): appointments, leads and hand-off tickets, each with a short reference the
// visitor is given, open until an admin marks it done; listed and exported as CSV for the
// admin app. Contact details are here only because the visitor gave them with consent.
// An appointment holds its slot through a unique index, so two visitors cannot book one slot.
// The SQL is in tenants/actions.ts; this module makes references and shapes the records.
import { randomInt } from "node:crypto";
import {
  actionRecordRow,
  actionRecordRows,
  allActionRecordRows,
  appointmentSlotStarts,
  insertActionRecord,
  updateActionRecordStatus,
  type ActionRecordRow,
} from "#tenants/actions.ts";
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

function toRecord(row: ActionRecordRow): ActionRecord {
  const contact = parseObject(row.contact);
  return {
    id: row.id,
    kind: row.kind as ActionRecordKind,
    status: row.status as ActionRecordStatus,
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
  for (let attempt = 0; ; attempt++) {
    try {
      const row = insertActionRecord(db, {
        kind: record.kind,
        reference: newReference(),
        summary: record.summary,
        details: JSON.stringify(record.details),
        contact,
        conversationId: record.conversationId,
        slotStart: record.kind === "appointment" ? (record.slotStart ?? null) : null,
        now,
      });
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
  return actionRecordRows(db, kind, options.status, limit).map(toRecord);
}

export function getActionRecord(
  db: TenantDb,
  kind: ActionRecordKind,
  id: number,
): ActionRecord | null {
  const row = actionRecordRow(db, kind, id);
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
  const row = updateActionRecordStatus(db, kind, id, status, now);
  return row ? toRecord(row) : null;
}

/** Start times (UTC ms) of the appointments booked in [from, to). */
export function bookedSlots(db: TenantDb, from: number, to: number): Set<number> {
  return new Set(appointmentSlotStarts(db, from, to));
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
  for (const row of allActionRecordRows(db, kind).map(toRecord)) {
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
