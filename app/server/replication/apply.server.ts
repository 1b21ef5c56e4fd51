// The primary's side of the outbox (docs/decisions/023): applies batches of entries that
// replicas forwarded, each exactly once (its idempotency key is recorded in the same
// transaction as its rows), and acknowledges every key it will never need again — applied now,
// applied before, or undeliverable (an erased tenant, a malformed entry).
import { createHmac, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import { appendAudit } from "#tenants/audit.ts";
import { recordExchange } from "#tenants/conversations.ts";
import { isTenantId } from "#tenants/id.ts";
import { appliedEntry, markApplied, pruneApplied } from "#tenants/replication.ts";
import { getOrCreateSecret, getTenant, type ControlDb } from "../control-db.server.ts";
import type { CoreParts } from "../parts.server.ts";
import { tenantDb } from "../tenancy/tenants.server.ts";
import { rateStoredAnswer } from "./writes.server.ts";

/** Applied keys are remembered this long; replicas give up resending well before. */
export const APPLIED_KEY_RETENTION_MS = 30 * 24 * 3_600_000;
export const SIGNATURE_HEADER = "x-bitb-outbox-signature";
const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;

const key = z.string().regex(/^[xaf]:[0-9a-z]{1,40}$/);
const exchangePayload = z.object({
  conversationId: z.string().min(1).max(100),
  question: z.string(),
  answer: z.string(),
  citations: z.unknown(),
  provider: z.string().max(200),
  promptTokens: z.number().int().nonnegative(),
  completionTokens: z.number().int().nonnegative(),
  latencyMs: z.number().int().nonnegative(),
  abstained: z.boolean(),
  cached: z.boolean().optional(),
  now: z.number().int().positive(),
});
const auditPayload = z
  .array(
    z.object({
      at: z.number().int().positive(),
      kind: z.enum(["ask", "admin"]),
      actor: z.string().max(200),
      action: z.string().max(100),
      outcome: z.string().max(100),
      questionSha256: z.string().nullable(),
      latencyMs: z.number().nullable(),
      promptTokens: z.number().nullable(),
      completionTokens: z.number().nullable(),
      cacheHit: z.boolean().nullable().optional(),
      detail: z.unknown().optional(),
    }),
  )
  .max(1000);
const feedbackPayload = z.object({
  conversationId: z.string().min(1).max(100),
  messageId: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  rating: z.union([z.literal(1), z.literal(-1)]),
  now: z.number().int().positive(),
});

export const outboxBatchSchema = z.strictObject({
  entries: z
    .array(
      z.object({
        key,
        tenantId: z.string().max(64),
        kind: z.enum(["exchange", "audit", "feedback"]),
        payload: z.unknown(),
        createdAt: z.number().int(),
      }),
    )
    .max(1000),
});
export type OutboxBatch = z.infer<typeof outboxBatchSchema>;

export interface ApplyResult {
  /** Every key the sender may forget: applied now, applied before, or undeliverable. */
  acknowledged: string[];
  applied: number;
  duplicates: number;
  dropped: number;
}

type ApplyRuntime = Pick<CoreParts, "tenants" | "control" | "logger">;

export function applyOutboxBatch(runtime: ApplyRuntime, batch: OutboxBatch): ApplyResult {
  const result: ApplyResult = { acknowledged: [], applied: 0, duplicates: 0, dropped: 0 };
  for (const entry of batch.entries) {
    const tenant = isTenantId(entry.tenantId)
      ? getTenant(runtime.control, entry.tenantId)
      : undefined;
    if (!tenant) {
      // The tenant was erased (or never existed): nothing to apply, ever.
      result.dropped++;
      result.acknowledged.push(entry.key);
      continue;
    }
    const db = tenantDb(runtime, tenant);
    try {
      const outcome = db.transaction(() => {
        if (appliedEntry(db, entry.key)) return "duplicate" as const;
        let messageId: number | null = null;
        if (entry.kind === "exchange") {
          messageId = recordExchange(db, exchangePayload.parse(entry.payload));
        } else if (entry.kind === "audit") {
          for (const audit of auditPayload.parse(entry.payload)) appendAudit(db, audit);
        } else {
          // Not this visitor's answer (or unknown): nothing to rate, but the entry is done.
          rateStoredAnswer(db, feedbackPayload.parse(entry.payload));
        }
        markApplied(db, entry.key, messageId);
        return "applied" as const;
      })();
      if (outcome === "applied") result.applied++;
      else result.duplicates++;
    } catch (error) {
      // A malformed entry would fail the same way forever: drop it, loudly.
      runtime.logger.error(
        { err: error, tenantId: tenant.id, key: entry.key, kind: entry.kind },
        "outbox entry dropped: it cannot be applied",
      );
      result.dropped++;
    }
    result.acknowledged.push(entry.key);
  }
  return result;
}

/** Forgets applied keys past their retention in the tenants a batch touched. */
export function pruneAppliedKeys(
  runtime: ApplyRuntime,
  tenantIds: Iterable<string>,
  now = Date.now(),
): void {
  for (const id of new Set(tenantIds)) {
    const tenant = isTenantId(id) ? getTenant(runtime.control, id) : undefined;
    if (tenant) pruneApplied(tenantDb(runtime, tenant), now - APPLIED_KEY_RETENTION_MS);
  }
}

// ---- signing: replicas and the primary share a secret through the replicated control db ----

export function outboxSecret(control: ControlDb): string {
  return getOrCreateSecret(control, "replication-outbox");
}

export function signBatch(secret: string, body: string, timestamp: number): string {
  const mac = createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex");
  return `t=${timestamp},v1=${mac}`;
}

/** Checks a batch's signature header; false when missing, stale or wrong. */
export function verifyBatch(
  secret: string,
  body: string,
  header: string | null,
  now = Date.now(),
): boolean {
  const match = header?.match(/^t=(\d{1,15}),v1=([0-9a-f]{64})$/);
  if (!match) return false;
  const timestamp = Number(match[1]);
  if (Math.abs(now - timestamp) > MAX_CLOCK_SKEW_MS) return false;
  const expected = Buffer.from(signBatch(secret, body, timestamp));
  const given = Buffer.from(header as string);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
