// The built-in booking calendar: a day's slots from the tenant's opening hours, slot length
// and time zone, minus those already booked and those already begun. Local times are turned
// into instants with Intl (no time-zone library): a local time that does not exist (the hour
// skipped when clocks go forward) is no slot. Reads the tenant database only.
import type { TenantDb } from "#tenants/store.ts";
import { bookedSlots } from "./records.server.ts";
import { type ActionSettings, minutesOf, type Weekday } from "./settings.server.ts";

/** How far ahead a visitor may book. */
export const BOOKING_HORIZON_DAYS = 90;
const DAY_MS = 24 * 60 * 60 * 1000;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

const formatters = new Map<string, Intl.DateTimeFormat>();
function partsFormatter(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** The wall-clock date and time of `instant` in `timeZone`: "YYYY-MM-DD" and "HH:MM". */
export function localDateTime(instant: number, timeZone: string): { date: string; time: string } {
  const parts: Record<string, string> = {};
  for (const part of partsFormatter(timeZone).formatToParts(instant)) parts[part.type] = part.value;
  return {
    date: `${parts.year}-${parts.month}-${parts.day}`,
    time: `${parts.hour}:${parts.minute}`,
  };
}

function offsetAt(instant: number, timeZone: string): number {
  const { date, time } = localDateTime(instant, timeZone);
  const [y, m, d] = date.split("-").map(Number) as [number, number, number];
  const asUtc = Date.UTC(y, m - 1, d, Number(time.slice(0, 2)), Number(time.slice(3, 5)));
  return asUtc - Math.floor(instant / 60_000) * 60_000;
}

/** The instant (ms) of a local date and time in `timeZone`; null when that time does not exist. */
export function zonedInstant(date: string, time: string, timeZone: string): number | null {
  const match = DATE.exec(date);
  if (!match) return null;
  const naive = Date.UTC(
    Number(match[1]),
    Number(match[2]) - 1,
    Number(match[3]),
    Number(time.slice(0, 2)),
    Number(time.slice(3, 5)),
  );
  let instant = naive - offsetAt(naive, timeZone);
  // Near a change of offset the first guess can be off by the change: correct once.
  instant = naive - offsetAt(instant, timeZone);
  const back = localDateTime(instant, timeZone);
  return back.date === date && back.time === time ? instant : null;
}

export function isCalendarDate(date: string): boolean {
  const match = DATE.exec(date);
  if (!match) return false;
  const day = new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])));
  return day.toISOString().slice(0, 10) === date;
}

function weekdayOf(date: string): Weekday {
  return String(new Date(`${date}T00:00:00Z`).getUTCDay()) as Weekday;
}

const hhmm = (minutes: number) =>
  `${String(Math.floor(minutes / 60)).padStart(2, "0")}:${String(minutes % 60).padStart(2, "0")}`;

export interface Slot {
  time: string;
  start: number;
}

/** Every slot of the opening hours of `date` (booked or not), with its instant. */
export function daySlots(settings: ActionSettings, date: string): Slot[] {
  if (!isCalendarDate(date)) return [];
  const hours = settings.hours[weekdayOf(date)];
  if (!hours) return [];
  const slots: Slot[] = [];
  const close = minutesOf(hours.close);
  for (
    let at = minutesOf(hours.open);
    at + settings.slotMinutes <= close;
    at += settings.slotMinutes
  ) {
    const time = hhmm(at);
    const start = zonedInstant(date, time, settings.timezone);
    if (start !== null) slots.push({ time, start });
  }
  return slots;
}

/** The free start times ("HH:MM") of `date`: in opening hours, not booked, not begun. */
export function freeSlots(
  db: TenantDb,
  settings: ActionSettings,
  date: string,
  now = Date.now(),
): Slot[] {
  const slots = daySlots(settings, date).filter(
    (slot) => slot.start > now && slot.start <= now + BOOKING_HORIZON_DAYS * DAY_MS,
  );
  if (slots.length === 0) return [];
  const taken = bookedSlots(db, slots[0]!.start, slots[slots.length - 1]!.start + 1);
  return slots.filter((slot) => !taken.has(slot.start));
}

/** The tenant's local date today and the next `days` dates after it. */
export function upcomingDates(settings: ActionSettings, days: number, now = Date.now()): string[] {
  const today = localDateTime(now, settings.timezone).date;
  const start = Date.parse(`${today}T00:00:00Z`);
  return Array.from({ length: days + 1 }, (_, i) =>
    new Date(start + i * DAY_MS).toISOString().slice(0, 10),
  );
}

/** The first date (from today, within two weeks) that still has a free slot. */
export function firstDateWithFreeSlots(
  db: TenantDb,
  settings: ActionSettings,
  now = Date.now(),
): string | null {
  for (const date of upcomingDates(settings, 14, now)) {
    if (freeSlots(db, settings, date, now).length > 0) return date;
  }
  return null;
}

/** "Fri 4 Dec at 10:00" for a booking's message. */
export function describeSlot(date: string, time: string): string {
  const day = new Date(`${date}T00:00:00Z`);
  const label = new Intl.DateTimeFormat("en-GB", {
    timeZone: "UTC",
    weekday: "short",
    day: "numeric",
    month: "short",
  }).format(day);
  return `${label} at ${time}`;
}
