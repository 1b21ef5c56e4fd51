// A tenant whose file is truncated, zeroed or overwritten — while its handle is open or while
// it is closed — is marked unavailable once (the observer hears it once), without the process
// dying (no mmap: no SIGBUS) and without disturbing any other tenant; restoring the file
// brings it back without a restart.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { TenantId } from "./id.ts";
import {
  TENANT_FILE_CHECK_MS,
  TenantPool,
  TenantUnavailableError,
  tenantFilePath,
} from "./store.ts";

const spec = { model: "test:model", dimension: 4 };
const damaged = "tn_" + "d".repeat(32);
const healthy = "tn_" + "e".repeat(32);

let dir: string;
let pool: TenantPool;
const events: string[] = [];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-unavailable-"));
  events.length = 0;
  pool = new TenantPool(dir, spec, 8, {
    unavailable: (id, reason) => events.push(`down ${id} ${reason}`),
    available: (id) => events.push(`up ${id}`),
  });
  for (const id of [damaged, healthy] as TenantId[]) {
    const db = pool.create(id);
    db.prepare("INSERT INTO meta (key, value) VALUES ('greeting', ?)").run(`hello from ${id}`);
    // Enough rows that the file is more than the page cache holds at first sight.
    const put = db.prepare("INSERT INTO meta (key, value) VALUES (?, ?)");
    for (let i = 0; i < 500; i++) put.run(`row:${i}`, "x".repeat(200));
    db.pragma("wal_checkpoint(TRUNCATE)");
  }
});
afterEach(() => {
  vi.useRealTimers();
  pool.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const greeting = (id: string) =>
  pool
    .get(id as TenantId)
    .prepare("SELECT value FROM meta WHERE key = 'greeting'")
    .pluck()
    .get();

const damages: Record<string, (file: string) => void> = {
  truncated: (file) => fs.truncateSync(file, 0),
  zeroed: (file) => fs.writeFileSync(file, Buffer.alloc(fs.statSync(file).size)),
  overwritten: (file) => {
    const size = fs.statSync(file).size;
    const fd = fs.openSync(file, "r+");
    fs.writeSync(fd, Buffer.alloc(size, 0x5a), 0, size, 0);
    fs.closeSync(fd);
  },
};

function expectUnavailable(id: string) {
  let thrown: unknown;
  try {
    pool.get(id as TenantId);
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(TenantUnavailableError);
  expect((thrown as TenantUnavailableError).tenantId).toBe(id);
}

describe.each(["open", "closed"] as const)("a tenant file damaged while %s", (state) => {
  it.each(Object.keys(damages))(
    "%s: that tenant is unavailable, the others answer, and a restored file brings it back",
    (damage) => {
      vi.useFakeTimers({ toFake: ["Date"] });
      const file = tenantFilePath(dir, damaged as TenantId);
      expect(greeting(damaged)).toBe(`hello from ${damaged}`);
      // A backup taken while it was sound (the store's handles are closed for the copy).
      pool.evict(damaged as TenantId);
      const backup = fs.readFileSync(file);
      if (state === "open") expect(greeting(damaged)).toBe(`hello from ${damaged}`);

      damages[damage]!(file);
      for (const suffix of ["-wal", "-shm"]) fs.rmSync(file + suffix, { force: true });
      // An open handle's file is looked at once a second: SQLite's cache would hide the damage.
      vi.advanceTimersByTime(TENANT_FILE_CHECK_MS + 1);

      expectUnavailable(damaged);
      expectUnavailable(damaged);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatch(new RegExp(`^down ${damaged} `));
      expect(pool.unavailableCount).toBe(1);
      expect(greeting(healthy)).toBe(`hello from ${healthy}`);
      // Without the file changing, it stays down (and is not reopened on every request).
      vi.advanceTimersByTime(TENANT_FILE_CHECK_MS + 1);
      expectUnavailable(damaged);

      fs.writeFileSync(file, backup);
      vi.advanceTimersByTime(TENANT_FILE_CHECK_MS + 1);
      expect(greeting(damaged)).toBe(`hello from ${damaged}`);
      expect(events.at(-1)).toBe(`up ${damaged}`);
      expect(pool.unavailableCount).toBe(0);
      expect(greeting(healthy)).toBe(`hello from ${healthy}`);
    },
  );
});

describe("tenant handles", () => {
  it("do not memory-map their files (a mapped file that shrinks kills the process)", () => {
    expect(pool.get(healthy as TenantId).pragma("mmap_size", { simple: true })).toBe(0);
  });
});

describe("a storage error met while using a handle", () => {
  it("marks the tenant unavailable when the file fails quick_check, and not otherwise", () => {
    const file = tenantFilePath(dir, damaged as TenantId);
    const error = Object.assign(new Error("database disk image is malformed"), {
      code: "SQLITE_CORRUPT",
    });
    // A sound file: the error was passing (the handle is reopened), the tenant stays up.
    expect(pool.reportFailure(damaged as TenantId, error)).toBe(false);
    expect(pool.reportFailure(damaged as TenantId, new Error("no such column"))).toBe(false);
    expect(greeting(damaged)).toBe(`hello from ${damaged}`);

    // Pages past the header damaged: the header still looks right, quick_check does not.
    pool.evict(damaged as TenantId);
    const size = fs.statSync(file).size;
    const fd = fs.openSync(file, "r+");
    fs.writeSync(fd, Buffer.alloc(size - 8192, 0x5a), 0, size - 8192, 8192);
    fs.closeSync(fd);
    expect(pool.reportFailure(damaged as TenantId, error)).toBe(true);
    expectUnavailable(damaged);
    expect(events).toHaveLength(1);
    expect(greeting(healthy)).toBe(`hello from ${healthy}`);
  });
});
