import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { newTenantId } from "#tenants/id.ts";
import { openTenantDb, type TenantDb } from "#tenants/store.ts";
import {
  actionRecordsCsv,
  bookedSlots,
  createActionRecord,
  getActionRecord,
  listActionRecords,
  setActionRecordStatus,
  SlotTakenError,
} from "./records.server.ts";

let dir: string;
let db: TenantDb;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-action-records-"));
  db = openTenantDb(dir, newTenantId(), { model: "t", dimension: 4 }, { create: true });
});
afterEach(() => {
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("action records", () => {
  it("stores, lists by kind and status, and marks done", () => {
    const lead = createActionRecord(db, {
      kind: "lead",
      summary: "Wants a quote",
      details: { interest: "enterprise plan", timeline: "now" },
      contact: { name: "Ada", email: "ada@example.com" },
      conversationId: "cv_0123456789abcdef01234567",
      now: 1000,
    });
    expect(lead).toMatchObject({
      kind: "lead",
      status: "open",
      createdAt: 1000,
      contact: { name: "Ada", email: "ada@example.com", phone: "" },
      details: { interest: "enterprise plan", timeline: "now" },
      conversationId: "cv_0123456789abcdef01234567",
    });
    expect(lead.reference).toMatch(/^[A-Z2-9]{6}$/);
    const handoff = createActionRecord(db, {
      kind: "handoff",
      summary: "Wants a person",
      details: { reason: "billing" },
      contact: null,
      conversationId: null,
    });
    expect(handoff.contact).toBeNull();
    expect(listActionRecords(db, "lead").map((r) => r.id)).toEqual([lead.id]);
    expect(listActionRecords(db, "handoff", { status: "done" })).toEqual([]);

    expect(setActionRecordStatus(db, "lead", lead.id, "done", 2000)?.status).toBe("done");
    expect(listActionRecords(db, "lead", { status: "open" })).toEqual([]);
    expect(listActionRecords(db, "lead", { status: "done" })[0]?.id).toBe(lead.id);
    // The kind must match: a lead's id is not a hand-off ticket.
    expect(setActionRecordStatus(db, "handoff", lead.id, "done")).toBeNull();
    expect(setActionRecordStatus(db, "lead", 9999, "done")).toBeNull();
    expect(getActionRecord(db, "lead", lead.id)?.status).toBe("done");
  });

  it("holds an appointment's slot: the second booking of a slot fails", () => {
    const base = {
      kind: "appointment" as const,
      summary: "Appointment",
      details: {},
      contact: null,
      conversationId: null,
    };
    createActionRecord(db, { ...base, slotStart: 5_000 });
    expect(() => createActionRecord(db, { ...base, slotStart: 5_000 })).toThrow(SlotTakenError);
    createActionRecord(db, { ...base, slotStart: 6_000 });
    expect([...bookedSlots(db, 0, 10_000)].sort()).toEqual([5_000, 6_000]);
    expect([...bookedSlots(db, 5_500, 10_000)]).toEqual([6_000]);
  });

  it("exports CSV with escaping and formula guarding", () => {
    createActionRecord(db, {
      kind: "lead",
      summary: 'Said "hi", then left',
      details: { interest: "=HYPERLINK(1)" },
      contact: { name: "=cmd", email: "a@b.c", phone: "+33 1 23" },
      conversationId: null,
      now: Date.UTC(2026, 11, 2),
    });
    const csv = actionRecordsCsv(db, "lead");
    const lines = csv.trimEnd().split("\r\n");
    expect(lines[0]).toBe(
      "id,reference,status,created_at,summary,name,email,phone,details,conversation_id",
    );
    expect(lines[1]).toContain(',open,2026-12-02T00:00:00.000Z,"Said ""hi"", then left",');
    expect(lines[1]).toContain(",'=cmd,a@b.c,'+33 1 23,interest: =HYPERLINK(1),");
    expect(actionRecordsCsv(db, "handoff")).toBe(
      "id,reference,status,created_at,summary,name,email,phone,details,conversation_id\r\n",
    );
  });
});
