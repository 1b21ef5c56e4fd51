// What a tenant database records for replica-safe writes (docs/decisions/023): its write
// position, and the outbox entries from replicas it has applied.
import type { TenantDb } from "./store.ts";

/** Bumps the tenant's write position (on the primary, after an admin or API write). */
export function bumpPosition(db: TenantDb): number {
  const row = db
    .prepare(
      "UPDATE replication_position SET position = position + 1 WHERE id = 1 RETURNING position",
    )
    .get() as { position: number };
  return row.position;
}

export function readPosition(db: TenantDb): number {
  const row = db.prepare("SELECT position FROM replication_position WHERE id = 1").get() as
    { position: number } | undefined;
  return row?.position ?? 0;
}

/** Whether an outbox entry was applied here, and the message id an exchange got. */
export function appliedEntry(db: TenantDb, key: string): { messageId: number | null } | undefined {
  const row = db.prepare("SELECT message_id FROM outbox_applied WHERE key = ?").get(key) as
    { message_id: number | null } | undefined;
  return row && { messageId: row.message_id };
}

export function markApplied(
  db: TenantDb,
  key: string,
  messageId: number | null,
  now = Date.now(),
): void {
  db.prepare("INSERT INTO outbox_applied (key, message_id, applied_at) VALUES (?, ?, ?)").run(
    key,
    messageId,
    now,
  );
}

/** Forgets applied keys older than `before` (replicas never resend entries that old). */
export function pruneApplied(db: TenantDb, before: number): number {
  return db.prepare("DELETE FROM outbox_applied WHERE applied_at < ?").run(before).changes;
}
