// Writing the tenant audit log from the server: admin actions (who, what) and asks (hash of
// the PII-masked question, latency, tokens, cache hit, outcome). Failing to audit never fails a request;
// it is logged instead.
import { createHash } from "node:crypto";
import { appendAudit } from "#tenants/audit.ts";
import { appendAuditEntries } from "../replication/writes.server.ts";
import type { AdminRecord, TenantRecord } from "../control-db.server.ts";
import { maskPii } from "../pii/mask.server.ts";
import type { Runtime } from "../runtime/runtime.server.ts";
import { tenantDb } from "../tenancy/tenants.server.ts";

type AuditRuntime = Pick<Runtime, "tenants" | "logger">;
type AskAuditRuntime = AuditRuntime & Partial<Pick<Runtime, "replication">>;

export function questionSha256(question: string): string {
  return createHash("sha256").update(question).digest("hex");
}

export function auditAdminAction(
  runtime: AuditRuntime,
  tenant: TenantRecord,
  admin: Pick<AdminRecord, "email">,
  action: string,
  detail?: unknown,
): void {
  try {
    appendAudit(tenantDb(runtime, tenant), {
      kind: "admin",
      actor: admin.email,
      action,
      outcome: "ok",
      questionSha256: null,
      latencyMs: null,
      promptTokens: null,
      completionTokens: null,
      detail,
    });
  } catch (error) {
    runtime.logger.error({ err: error, tenantId: tenant.id, action }, "audit write failed");
  }
}

export interface AskAudit {
  actor: string;
  questions: string[];
  outcome: string;
  latencyMs: number;
  promptTokens: number;
  completionTokens: number;
  /** Answered from the answer cache. */
  cacheHit: boolean;
  batch?: boolean;
}

export function auditAsk(runtime: AskAuditRuntime, tenant: TenantRecord, ask: AskAudit): void {
  try {
    // One entry per question; a batch's tokens and latency are on its first entry. On a
    // LiteFS replica they go to the outbox (replication/writes.server.ts).
    appendAuditEntries(
      runtime,
      tenant,
      ask.questions.map((question, i) => ({
        kind: "ask" as const,
        actor: ask.actor,
        action: ask.batch ? "ask_batch" : "ask",
        outcome: ask.outcome,
        questionSha256: questionSha256(maskPii(question)),
        latencyMs: Math.round(ask.latencyMs),
        promptTokens: i === 0 ? ask.promptTokens : 0,
        completionTokens: i === 0 ? ask.completionTokens : 0,
        cacheHit: ask.cacheHit,
      })),
    );
  } catch (error) {
    runtime.logger.error({ err: error, tenantId: tenant.id }, "audit write failed");
  }
}
