import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import Database from "better-sqlite3";
import {
  CONTROL_FILE,
  controlMigrations,
  openControlDb,
  type ControlDb,
} from "../control-db.server.ts";
import { createSignInThrottle, retryMessage } from "./sign-in-throttle.server.ts";

const policy = { maxPerAccount: 3, maxPerClient: 5, windowMs: 60_000, lockoutMs: 120_000 };
let tmp: string;
let control: ControlDb;

beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-throttle-"));
  control = openControlDb(tmp);
});
afterEach(() => {
  control.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe("sign-in throttle", () => {
  it("locks an account after its failures, for the lockout time, whatever the client", () => {
    const throttle = createSignInThrottle(control, policy);
    const attempt = { email: "Owner@Example.com", clientAddress: "10.0.0.1" };
    expect(throttle.recordFailure(attempt, 1000)).toBeNull();
    expect(throttle.recordFailure(attempt, 2000)).toBeNull();
    expect(throttle.recordFailure(attempt, 3000)).toEqual({ retryAfterMs: 120_000 });
    // Another address, the same account (any case): still locked.
    const elsewhere = { email: " owner@example.com", clientAddress: "10.9.9.9" };
    expect(throttle.check(elsewhere, 60_000)).toEqual({ retryAfterMs: 63_000 });
    expect(throttle.check(elsewhere, 123_000)).toBeNull();
  });

  it("forgets failures older than the window", () => {
    const throttle = createSignInThrottle(control, policy);
    const attempt = { email: "a@example.com", clientAddress: null };
    throttle.recordFailure(attempt, 0);
    throttle.recordFailure(attempt, 1);
    expect(throttle.recordFailure(attempt, 70_000)).toBeNull();
    expect(throttle.recordFailure(attempt, 70_001)).toBeNull();
    expect(throttle.recordFailure(attempt, 70_002)).not.toBeNull();
  });

  it("locks a client address that tries many accounts", () => {
    const throttle = createSignInThrottle(control, policy);
    for (let i = 0; i < 4; i++) {
      expect(
        throttle.recordFailure({ email: `u${i}@x.com`, clientAddress: "10.0.0.2" }, i),
      ).toBeNull();
    }
    expect(throttle.recordFailure({ email: "u9@x.com", clientAddress: "10.0.0.2" }, 10)).toEqual({
      retryAfterMs: 120_000,
    });
    expect(throttle.check({ email: "fresh@x.com", clientAddress: "10.0.0.2" }, 20)).not.toBeNull();
    expect(throttle.check({ email: "fresh@x.com", clientAddress: "10.0.0.3" }, 20)).toBeNull();
  });

  it("clears the account's failures on success, not the client's", () => {
    const throttle = createSignInThrottle(control, policy);
    const attempt = { email: "a@example.com", clientAddress: "10.0.0.4" };
    throttle.recordFailure(attempt, 0);
    throttle.recordFailure(attempt, 1);
    throttle.recordSuccess(attempt);
    expect(throttle.recordFailure(attempt, 2)).toBeNull();
    expect(throttle.recordFailure(attempt, 3)).toBeNull();
    // The client has now failed 4 times; the 5th locks it.
    expect(throttle.recordFailure({ ...attempt, email: "b@example.com" }, 4)).not.toBeNull();
  });

  it("keeps its counts across a restart (they live in the control database)", () => {
    const attempt = { email: "a@example.com", clientAddress: null };
    const first = createSignInThrottle(control, policy);
    first.recordFailure(attempt, 0);
    first.recordFailure(attempt, 1);
    control.close();
    control = openControlDb(tmp);
    const second = createSignInThrottle(control, policy);
    expect(second.recordFailure(attempt, 2)).not.toBeNull();
  });

  it("stores neither the typed e-mail nor the client address, only keyed hashes", () => {
    const throttle = createSignInThrottle(control, policy);
    throttle.recordFailure({ email: "Frank.PII@example.org", clientAddress: "203.0.113.9" }, 0);
    const rows = control.prepare("SELECT * FROM sign_in_failures").all();
    expect(rows).toHaveLength(2);
    const stored = JSON.stringify(rows).toLowerCase();
    for (const part of ["frank", "example.org", "203.0.113.9"]) expect(stored).not.toContain(part);
    // Another server's secret gives other keys: the hashes cannot be looked up elsewhere.
    const other = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-throttle-"));
    const otherControl = openControlDb(other);
    createSignInThrottle(otherControl, policy).recordFailure(
      { email: "frank.pii@example.org", clientAddress: null },
      0,
    );
    const otherKey = (
      otherControl.prepare("SELECT key FROM sign_in_failures").get() as { key: string }
    ).key;
    otherControl.close();
    fs.rmSync(other, { recursive: true, force: true });
    expect(stored).not.toContain(otherKey.toLowerCase());
  });

  it("drops the plain-text rows an older version stored, when the control database migrates", () => {
    // A control database as version 8 left it: its first eight migrations, then a plain row.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-throttle-v8-"));
    const old = new Database(path.join(dir, CONTROL_FILE));
    for (const migration of controlMigrations.slice(0, 8)) old.exec(migration);
    old.pragma("user_version = 8");
    old
      .prepare(
        "INSERT INTO sign_in_failures (key, failures, window_started_at, locked_until) VALUES (?, 3, 0, 0)",
      )
      .run("account:frank.pii@example.org");
    old.close();
    const migrated = openControlDb(dir);
    expect(migrated.prepare("SELECT * FROM sign_in_failures").all()).toEqual([]);
    migrated.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("says how long to wait", () => {
    expect(retryMessage({ retryAfterMs: 14 * 60_000 + 1 })).toMatch(/try again in 15 minutes/);
    expect(retryMessage({ retryAfterMs: 60_000 })).toMatch(/in 1 minute\./);
    expect(retryMessage({ retryAfterMs: 1500 })).toMatch(/in 2 seconds/);
  });
});
