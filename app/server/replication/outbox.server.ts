// The replica's outbox (docs/decisions/023): what an ask on a LiteFS replica would write to
// the tenant's database — the exchange, its audit entries, visitors' feedback — is appended
// to a small host-local SQLite file instead (a replica's tenant files are read-only), then
// forwarded to the primary in batches (forwarder.server.ts). Every entry has an idempotency
// key, so a batch sent twice is applied once. Forwarded entries are kept for a few minutes so
// a follow-up question still sees its conversation until the primary's copy replicates back.
// Like limits.db, the file must not live on the replicated mount.
import type Database from "better-sqlite3";
import { openLocalStateDb } from "../local-state.server.ts";
import type { TenantId } from "#tenants/id.ts";

export const OUTBOX_FILE = "outbox.db";
/** How long forwarded entries stay readable for conversation history. */
const KEEP_FORWARDED_MS = 5 * 60 * 1000;

export type OutboxKind = "exchange" | "audit" | "feedback";

export interface OutboxEntry {
  key: string;
  tenantId: TenantId;
  kind: OutboxKind;
  payload: unknown;
  createdAt: number;
}

interface Row {
  key: string;
  tenant_id: string;
  kind: OutboxKind;
  payload: string;
  created_at: number;
}

const toEntry = (row: Row): OutboxEntry => ({
  key: row.key,
  tenantId: row.tenant_id as TenantId,
  kind: row.kind,
  payload: JSON.parse(row.payload) as unknown,
  createdAt: row.created_at,
});

export class Outbox {
  private readonly db: Database.Database;

  constructor(dir: string) {
    // Unlike limiter state, an entry is a visitor's conversation: keep it across a power cut.
    this.db = openLocalStateDb(dir, OUTBOX_FILE, "FULL");
    this.db.exec(
      `CREATE TABLE IF NOT EXISTS entries (
         seq INTEGER PRIMARY KEY AUTOINCREMENT,
         key TEXT NOT NULL UNIQUE,
         tenant_id TEXT NOT NULL,
         kind TEXT NOT NULL CHECK (kind IN ('exchange', 'audit', 'feedback')),
         conversation_id TEXT,
         payload TEXT NOT NULL,
         created_at INTEGER NOT NULL,
         forwarded_at INTEGER
       ) STRICT;
       CREATE INDEX IF NOT EXISTS entries_pending ON entries (forwarded_at, seq);
       CREATE INDEX IF NOT EXISTS entries_by_conversation ON entries (tenant_id, conversation_id);`,
    );
  }

  get open(): boolean {
    return this.db.open;
  }

  append(entry: Omit<OutboxEntry, "createdAt"> & { conversationId?: string; now?: number }): void {
    this.db
      .prepare(
        `INSERT INTO entries (key, tenant_id, kind, conversation_id, payload, created_at)
         VALUES (?, ?, ?, ?, ?, ?)`,
      )
      .run(
        entry.key,
        entry.tenantId,
        entry.kind,
        entry.conversationId ?? null,
        JSON.stringify(entry.payload),
        entry.now ?? Date.now(),
      );
  }

  /** The oldest entries not yet forwarded, in the order they were written. */
  pending(limit: number): OutboxEntry[] {
    return (
      this.db
        .prepare(
          `SELECT key, tenant_id, kind, payload, created_at FROM entries
           WHERE forwarded_at IS NULL ORDER BY seq LIMIT ?`,
        )
        .all(limit) as Row[]
    ).map(toEntry);
  }

  pendingCount(): number {
    return (
      this.db.prepare("SELECT count(*) AS n FROM entries WHERE forwarded_at IS NULL").get() as {
        n: number;
      }
    ).n;
  }

  /** Marks entries the primary acknowledged, and forgets those forwarded long ago. */
  acknowledge(keys: readonly string[], now = Date.now()): void {
    const mark = this.db.prepare(
      "UPDATE entries SET forwarded_at = ? WHERE key = ? AND forwarded_at IS NULL",
    );
    this.db.transaction(() => {
      for (const key of keys) mark.run(now, key);
      this.db
        .prepare("DELETE FROM entries WHERE forwarded_at IS NOT NULL AND forwarded_at < ?")
        .run(now - KEEP_FORWARDED_MS);
    })();
  }

  /** A conversation's exchanges still held here (pending, or forwarded recently), oldest first. */
  exchanges(tenantId: TenantId, conversationId: string): OutboxEntry[] {
    return (
      this.db
        .prepare(
          `SELECT key, tenant_id, kind, payload, created_at FROM entries
           WHERE tenant_id = ? AND conversation_id = ? AND kind = 'exchange' ORDER BY seq`,
        )
        .all(tenantId, conversationId) as Row[]
    ).map(toEntry);
  }

  /** Tokens of a tenant's exchanges written here since `since` and not yet forwarded. */
  heldTokens(tenantId: TenantId, since: number): number {
    const row = this.db
      .prepare(
        `SELECT coalesce(sum(json_extract(payload, '$.promptTokens') +
                             json_extract(payload, '$.completionTokens')), 0) AS n
         FROM entries
         WHERE tenant_id = ? AND kind = 'exchange' AND forwarded_at IS NULL AND created_at >= ?`,
      )
      .get(tenantId, since) as { n: number };
    return row.n;
  }

  /** Drops every entry of a tenant (the tenant was erased). */
  forgetTenant(tenantId: TenantId): number {
    return this.db.prepare("DELETE FROM entries WHERE tenant_id = ?").run(tenantId).changes;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
