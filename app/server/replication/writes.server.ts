// Where the writes of an ask go (docs/decisions/023). On the primary (and without LiteFS)
// straight into the tenant's database; on a LiteFS replica, whose tenant files are read-only,
// into the local outbox, which forwards them to the primary. Asks, batch asks, their audit
// entries and visitors' feedback all write through here.
import { randomBytes } from "node:crypto";
import { appendAudit, type AuditInput } from "#tenants/audit.ts";
import {
  loadHistory,
  rateAnswer,
  recordExchange,
  type ExchangeRecord,
  type StoredTurn,
} from "#tenants/conversations.ts";
import { appliedEntry } from "#tenants/replication.ts";
import { transactionOn } from "#tenants/statements.ts";
import type { TenantRecord } from "../control-db.server.ts";
import type { CoreParts } from "../parts.server.ts";
import { tenantDb } from "../tenancy/tenants.server.ts";
import type { Outbox } from "./outbox.server.ts";
import type { ReplicationRole } from "./role.server.ts";

export interface Replication {
  role: ReplicationRole;
  /** Under LiteFS only: the host-local outbox of this machine. */
  outbox: Outbox | undefined;
}

/** Without `replication` (unit tests of the ask path) this machine writes its files itself. */
type WritesRuntime = Pick<CoreParts, "tenants"> & { replication?: Replication };

/**
 * Message ids a replica hands out before the primary has stored the answer: 2^52 and above,
 * far beyond any id SQLite gives a tenant's messages. Feedback that names one is resolved to
 * the stored message through the exchange's outbox key.
 */
export const PROVISIONAL_ID_BASE = 2 ** 52;

export function isProvisionalId(id: number): boolean {
  return id >= PROVISIONAL_ID_BASE;
}

function provisionalId(): number {
  // 52 random bits below the base's own bit: unique enough across replicas, and a safe integer.
  const bytes = randomBytes(7);
  const high = (bytes.readUInt32BE(0) >>> 0) % 2 ** 20;
  const low = bytes.readUInt32BE(3) >>> 0;
  return PROVISIONAL_ID_BASE + high * 2 ** 32 + low;
}

export const exchangeKey = (messageId: number) => `x:${messageId}`;

/** The replica's outbox, or undefined when this machine writes its tenants' files itself. */
function replicaOutbox(runtime: WritesRuntime): Outbox | undefined {
  const { role, outbox } = runtime.replication ?? {};
  return outbox && role && !role.isPrimary() ? outbox : undefined;
}

/** Stores a question and its answer; returns the answer's message id (provisional on a replica). */
export function recordAskExchange(
  runtime: WritesRuntime,
  tenant: TenantRecord,
  exchange: ExchangeRecord,
): number {
  const outbox = replicaOutbox(runtime);
  if (!outbox) return recordExchange(tenantDb(runtime, tenant), exchange);
  const messageId = provisionalId();
  const now = exchange.now ?? Date.now();
  outbox.append({
    key: exchangeKey(messageId),
    tenantId: tenant.id,
    kind: "exchange",
    conversationId: exchange.conversationId,
    payload: { ...exchange, now },
    now,
  });
  return messageId;
}

/** Appends audit entries atomically (one outbox entry on a replica). */
export function appendAuditEntries(
  runtime: WritesRuntime,
  tenant: TenantRecord,
  entries: readonly AuditInput[],
): void {
  const now = Date.now();
  const stamped = entries.map((entry) => ({ ...entry, at: entry.at ?? now }));
  const outbox = replicaOutbox(runtime);
  if (outbox) {
    outbox.append({
      key: `a:${randomBytes(12).toString("hex")}`,
      tenantId: tenant.id,
      kind: "audit",
      payload: stamped,
      now,
    });
    return;
  }
  const db = tenantDb(runtime, tenant);
  // Made once per handle: every ask appends its entry through here.
  transactionOn(db, "appendAuditEntries", (batch: readonly AuditInput[]) => {
    for (const entry of batch) appendAudit(db, entry);
  })(stamped);
}

export interface FeedbackInput {
  conversationId: string;
  messageId: number;
  rating: 1 | -1;
  now?: number;
}

/**
 * Records a visitor's rating of an answer of their conversation. "rated" or "not_found" on
 * the primary; "queued" on a replica, where the primary checks it when the entry arrives.
 */
export function recordFeedback(
  runtime: WritesRuntime,
  tenant: TenantRecord,
  input: FeedbackInput,
): "rated" | "not_found" | "queued" {
  const outbox = replicaOutbox(runtime);
  if (outbox) {
    const now = input.now ?? Date.now();
    outbox.append({
      key: `f:${randomBytes(12).toString("hex")}`,
      tenantId: tenant.id,
      kind: "feedback",
      conversationId: input.conversationId,
      payload: { ...input, now },
      now,
    });
    return "queued";
  }
  return rateStoredAnswer(tenantDb(runtime, tenant), input) ? "rated" : "not_found";
}

/** Rates a stored answer, resolving a replica's provisional id first. */
export function rateStoredAnswer(
  db: Parameters<typeof rateAnswer>[0],
  input: FeedbackInput,
): boolean {
  let messageId: number | null = input.messageId;
  if (isProvisionalId(messageId)) {
    messageId = appliedEntry(db, exchangeKey(messageId))?.messageId ?? null;
    if (messageId === null) return false;
  }
  return rateAnswer(db, { ...input, messageId });
}

/**
 * A tenant's quota as this machine sees it: on a replica, the tokens of answers still in its
 * outbox count too, so a replica cannot overspend while the primary is away. (Answers on
 * other replicas count once the primary has them and LiteFS has shipped them: decision 023.)
 */
export function withHeldUsage<Q extends { usedTokens: number; periodStart: number }>(
  runtime: WritesRuntime,
  tenant: TenantRecord,
  quota: Q,
): Q {
  const outbox = replicaOutbox(runtime);
  if (!outbox) return quota;
  return {
    ...quota,
    usedTokens: quota.usedTokens + outbox.heldTokens(tenant.id, quota.periodStart),
  };
}

/**
 * A conversation's last `turns` exchanges: from the tenant's database, plus, on a replica,
 * those still in its outbox (a follow-up question comes before the primary's copy of the
 * previous answer has replicated back).
 */
export function conversationHistory(
  runtime: WritesRuntime,
  tenant: TenantRecord,
  conversationId: string,
  turns: number,
): StoredTurn[] {
  const db = tenantDb(runtime, tenant);
  const stored = loadHistory(db, conversationId, turns);
  const outbox = runtime.replication?.outbox;
  if (!outbox || turns <= 0) return stored;
  const held = outbox
    .exchanges(tenant.id, conversationId)
    // Entries the primary applied and LiteFS brought back are in `stored` already.
    .filter((entry) => appliedEntry(db, entry.key) === undefined)
    .flatMap((entry) => {
      const exchange = entry.payload as ExchangeRecord;
      return [
        { role: "user" as const, content: exchange.question },
        { role: "assistant" as const, content: exchange.answer },
      ];
    });
  if (held.length === 0) return stored;
  return [...stored, ...held].slice(-turns * 2);
}
