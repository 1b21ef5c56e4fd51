// Token buckets kept in a small SQLite file (`limits.db`) that every server process on the
// host opens: one row per bucket key, updated in an IMMEDIATE transaction, so concurrent
// processes take tokens one after another and the limit holds across all of them. The file
// is host-local state, not data: it must not live on a replicated (LiteFS) mount, and losing
// it only refills the buckets. See docs/decisions/017-rate-limits-across-instances.md.
import type Database from "better-sqlite3";
import { openLocalStateDb } from "../local-state.server.ts";

export const LIMITS_FILE = "limits.db";

export interface BucketSpec {
  /** Most tokens the bucket holds (the burst). */
  capacity: number;
  /** Tokens added per second. */
  refillPerSecond: number;
}

export type TakeResult =
  { allowed: true; remaining: number } | { allowed: false; retryAfterMs: number };

export class TokenBucketStore {
  private readonly db: Database.Database;
  private readonly take: (key: string, spec: BucketSpec, now: number, cost: number) => TakeResult;
  private sinceSweep = 0;

  constructor(dir: string) {
    // Limiter state may lose its last writes on a power cut; that only refills buckets.
    this.db = openLocalStateDb(dir, LIMITS_FILE, "OFF");
    this.db.exec(
      `CREATE TABLE IF NOT EXISTS buckets (
         key TEXT PRIMARY KEY,
         tokens REAL NOT NULL,
         updated_ms INTEGER NOT NULL
       ) STRICT`,
    );
    const read = this.db.prepare("SELECT tokens, updated_ms FROM buckets WHERE key = ?");
    const write = this.db.prepare(
      `INSERT INTO buckets (key, tokens, updated_ms) VALUES (?, ?, ?)
       ON CONFLICT(key) DO UPDATE SET tokens = excluded.tokens, updated_ms = excluded.updated_ms`,
    );
    const step = this.db.transaction(
      (key: string, spec: BucketSpec, now: number, cost: number): TakeResult => {
        const row = read.get(key) as { tokens: number; updated_ms: number } | undefined;
        const elapsed = row ? Math.max(0, now - row.updated_ms) / 1000 : 0;
        const tokens = row
          ? Math.min(spec.capacity, row.tokens + elapsed * spec.refillPerSecond)
          : spec.capacity;
        if (tokens >= cost) {
          write.run(key, tokens - cost, now);
          return { allowed: true, remaining: Math.floor(tokens - cost) };
        }
        write.run(key, tokens, now);
        const retryAfterMs =
          spec.refillPerSecond > 0
            ? Math.ceil(((cost - tokens) / spec.refillPerSecond) * 1000)
            : 60_000;
        return { allowed: false, retryAfterMs };
      },
    );
    // IMMEDIATE takes the write lock before reading, so two processes never read the same
    // count and both take the last token.
    this.take = (key, spec, now, cost) => step.immediate(key, spec, now, cost);
  }

  /**
   * Takes `cost` tokens (one per question of a batch) from the bucket `key`, all or none, or
   * says how long until they are there.
   */
  tryTake(key: string, spec: BucketSpec, now = Date.now(), cost = 1): TakeResult {
    if (++this.sinceSweep >= 10_000) {
      this.sinceSweep = 0;
      this.sweep(now);
    }
    return this.take(key, spec, now, cost);
  }

  /** Forgets buckets untouched for an hour (full again by then at any sensible rate). */
  sweep(now = Date.now()): number {
    return this.db.prepare("DELETE FROM buckets WHERE updated_ms < ?").run(now - 3_600_000).changes;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
