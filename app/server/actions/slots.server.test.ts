import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { newTenantId } from "#tenants/id.ts";
import { openTenantDb, type TenantDb } from "#tenants/store.ts";
import { createActionRecord } from "./records.server.ts";
import { getActionSettings, saveActionSettings } from "./settings.server.ts";
import {
  daySlots,
  describeSlot,
  firstDateWithFreeSlots,
  freeSlots,
  isCalendarDate,
  localDateTime,
  zonedInstant,
} from "./slots.server.ts";

let dir: string;
let db: TenantDb;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-slots-"));
  db = openTenantDb(dir, newTenantId(), { model: "t", dimension: 4 }, { create: true });
});
afterEach(() => {
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

// Wednesday 2 December 2026, 08:00 UTC.
const NOW = Date.UTC(2026, 11, 2, 8, 0);

describe("booking slots", () => {
  it("turns local times into instants across time zones and clock changes", () => {
    expect(zonedInstant("2026-12-04", "10:00", "UTC")).toBe(Date.UTC(2026, 11, 4, 10));
    expect(zonedInstant("2026-12-04", "10:00", "Europe/Paris")).toBe(Date.UTC(2026, 11, 4, 9));
    expect(zonedInstant("2026-07-04", "10:00", "Europe/Paris")).toBe(Date.UTC(2026, 6, 4, 8));
    expect(zonedInstant("2026-12-04", "10:00", "America/New_York")).toBe(Date.UTC(2026, 11, 4, 15));
    // 29 March 2026, 02:30 does not exist in Paris (clocks go from 02:00 to 03:00).
    expect(zonedInstant("2026-03-29", "02:30", "Europe/Paris")).toBeNull();
    expect(localDateTime(Date.UTC(2026, 11, 4, 23, 30), "Europe/Paris")).toEqual({
      date: "2026-12-05",
      time: "00:30",
    });
    expect(isCalendarDate("2026-02-30")).toBe(false);
    expect(isCalendarDate("2026-02-28")).toBe(true);
    expect(describeSlot("2026-12-04", "10:00")).toBe("Fri 4 Dec at 10:00");
  });

  it("lists the day's slots inside the opening hours, none on a closed day", () => {
    const settings = getActionSettings(db);
    const friday = daySlots(settings, "2026-12-04").map((slot) => slot.time);
    expect(friday[0]).toBe("09:00");
    expect(friday.at(-1)).toBe("16:30");
    expect(friday).toHaveLength(16);
    expect(daySlots(settings, "2026-12-06")).toEqual([]); // a Sunday
    expect(daySlots(settings, "not-a-date")).toEqual([]);
  });

  it("leaves out booked slots and slots already begun", () => {
    saveActionSettings(db, { slotMinutes: 60, timezone: "Europe/Paris" });
    const settings = getActionSettings(db);
    // 08:00 UTC is 09:00 in Paris: the 09:00 slot has begun.
    const today = freeSlots(db, settings, "2026-12-02", NOW).map((slot) => slot.time);
    expect(today).toEqual(["10:00", "11:00", "12:00", "13:00", "14:00", "15:00", "16:00"]);
    createActionRecord(db, {
      kind: "appointment",
      summary: "x",
      details: {},
      contact: null,
      conversationId: null,
      slotStart: zonedInstant("2026-12-02", "11:00", "Europe/Paris") as number,
    });
    expect(freeSlots(db, settings, "2026-12-02", NOW).map((slot) => slot.time)).not.toContain(
      "11:00",
    );
    expect(freeSlots(db, settings, "2026-11-30", NOW)).toEqual([]); // the past
    expect(freeSlots(db, settings, "2027-12-01", NOW)).toEqual([]); // beyond the horizon
  });

  it("finds the first date with a free slot", () => {
    saveActionSettings(db, {
      hours: { "1": null, "2": null, "3": null, "4": null, "5": null },
    });
    // Only weekends… and both closed by default: nothing.
    expect(firstDateWithFreeSlots(db, getActionSettings(db), NOW)).toBeNull();
    saveActionSettings(db, { hours: { "6": { open: "10:00", close: "12:00" } } });
    expect(firstDateWithFreeSlots(db, getActionSettings(db), NOW)).toBe("2026-12-05");
  });
});
