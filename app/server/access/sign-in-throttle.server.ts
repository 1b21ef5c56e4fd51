// Throttling and temporary lockout of admin sign-in: after `maxPerAccount` failed attempts on
// one e-mail address, or `maxPerClient` from one client address, within `windowMs`, further
// attempts are refused for `lockoutMs` — before any password is checked, with the same answer
// whether the password would have been right. Counters live in the control database
// (sign_in_failures), so a restart does not reset them, under keyed hashes (HMAC-SHA256 with a
// secret of the control database) so the table names no e-mail address and no client address.
// Touches only that table and that secret.
import { createHmac } from "node:crypto";
import {
  clearSignInFailures,
  getOrCreateSecret,
  getSignInFailures,
  purgeSignInFailures,
  putSignInFailures,
  type ControlDb,
} from "../control-db.server.ts";

export interface SignInThrottlePolicy {
  /** Failed attempts on one account, within the window, that lock it. */
  maxPerAccount: number;
  /** Failed attempts from one client address, within the window, that lock it out. */
  maxPerClient: number;
  /** How long failures are counted for. */
  windowMs: number;
  /** How long a lock lasts. */
  lockoutMs: number;
}

export const DEFAULT_SIGN_IN_POLICY: SignInThrottlePolicy = {
  maxPerAccount: 5,
  maxPerClient: 20,
  windowMs: 15 * 60 * 1000,
  lockoutMs: 15 * 60 * 1000,
};

export interface SignInAttempt {
  /** The e-mail address as typed (normalised here). */
  email: string;
  /** The client's address, or null when unknown (then only the account is counted). */
  clientAddress: string | null;
}

/** The caller must wait `retryAfterMs` before trying again. */
export interface SignInLock {
  retryAfterMs: number;
}

/** The control database's secret that keys the hashes of sign_in_failures. */
export const SIGN_IN_SECRET = "sign-in-failures";

function keysOf(
  secret: string,
  attempt: SignInAttempt,
): Array<{ key: string; kind: "account" | "client" }> {
  const hashed = (prefix: string, identifier: string) =>
    `${prefix}:${createHmac("sha256", secret).update(`${prefix}:${identifier}`).digest("hex")}`;
  const keys: Array<{ key: string; kind: "account" | "client" }> = [
    { key: hashed("account", attempt.email.trim().toLowerCase()), kind: "account" },
  ];
  if (attempt.clientAddress)
    keys.push({ key: hashed("ip", attempt.clientAddress), kind: "client" });
  return keys;
}

export interface SignInThrottle {
  /** The lock that applies to this attempt now, if any. */
  check(attempt: SignInAttempt, now?: number): SignInLock | null;
  /** Counts a failed attempt; returns the lock it caused or that already applied. */
  recordFailure(attempt: SignInAttempt, now?: number): SignInLock | null;
  /** A correct password: the account's failures are forgotten (the client's are not). */
  recordSuccess(attempt: SignInAttempt): void;
}

export function createSignInThrottle(
  control: ControlDb,
  policy: SignInThrottlePolicy = DEFAULT_SIGN_IN_POLICY,
): SignInThrottle {
  const maxOf = (kind: "account" | "client") =>
    kind === "account" ? policy.maxPerAccount : policy.maxPerClient;
  let lastPurge = 0;
  // Read on first use: under LiteFS the primary makes it (runtime.server.ts), replicas read it.
  let secret: string | undefined;
  const keysOfAttempt = (attempt: SignInAttempt) =>
    keysOf((secret ??= getOrCreateSecret(control, SIGN_IN_SECRET)), attempt);

  function check(attempt: SignInAttempt, now = Date.now()): SignInLock | null {
    let until = 0;
    for (const { key } of keysOfAttempt(attempt)) {
      const row = getSignInFailures(control, key);
      if (row && row.lockedUntil > now) until = Math.max(until, row.lockedUntil);
    }
    return until > now ? { retryAfterMs: until - now } : null;
  }

  const recordFailure = control.transaction(
    (attempt: SignInAttempt, now: number): SignInLock | null => {
      for (const { key, kind } of keysOfAttempt(attempt)) {
        const row = getSignInFailures(control, key);
        const fresh = !row || row.windowStartedAt + policy.windowMs <= now;
        const failures = (fresh ? 0 : row.failures) + 1;
        const windowStartedAt = fresh ? now : row.windowStartedAt;
        if (failures >= maxOf(kind)) {
          // Locked: the count starts again when the lock ends.
          putSignInFailures(control, key, {
            failures: 0,
            windowStartedAt: now,
            lockedUntil: now + policy.lockoutMs,
          });
        } else {
          putSignInFailures(control, key, {
            failures,
            windowStartedAt,
            lockedUntil: row?.lockedUntil ?? 0,
          });
        }
      }
      if (now - lastPurge > policy.windowMs) {
        lastPurge = now;
        purgeSignInFailures(control, now - Math.max(policy.windowMs, policy.lockoutMs));
      }
      return check(attempt, now);
    },
  );

  return {
    check,
    recordFailure: (attempt, now = Date.now()) => recordFailure(attempt, now),
    recordSuccess(attempt) {
      clearSignInFailures(control, keysOfAttempt(attempt)[0]?.key ?? "");
    },
  };
}

/** "Try again in 3 minutes." — for the sign-in form. */
export function retryMessage(lock: SignInLock): string {
  const minutes = Math.ceil(lock.retryAfterMs / 60_000);
  const wait =
    lock.retryAfterMs < 60_000
      ? `${Math.max(1, Math.ceil(lock.retryAfterMs / 1000))} seconds`
      : `${minutes} minute${minutes === 1 ? "" : "s"}`;
  return `Too many failed sign-ins. Sign-in is paused for this account or network; try again in ${wait}.`;
}
