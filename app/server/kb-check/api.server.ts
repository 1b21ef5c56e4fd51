// What the Check tab and its JSON API show and do (docs/decisions/032): the latest check
// (with the last finished report while a new one runs), the suggested actions, starting a
// check, and deciding a suggestion — with the audit entry each write leaves.
import type { ActionSuggestion, KbCheck } from "#app/shared/kb-check.ts";
import {
  decideSuggestion,
  listSuggestions,
  type DecisionResult,
  type SuggestionDecision,
} from "../actions/suggest.server.ts";
import { auditAdminAction } from "../audit/audit.server.ts";
import type { TenantRecord } from "../control-db.server.ts";
import { isKbCheckRunning, latestKbCheck, latestKbReport, runKbCheck } from "./check.server.ts";
import { outsideRequest } from "../request-context.server.ts";
import type { Runtime } from "../runtime/runtime.server.ts";
import { tenantDb } from "../tenancy/tenants.server.ts";

export interface CheckOverview {
  /** The newest check, running or finished. */
  check: KbCheck | null;
  /** The newest finished check: shown while a newer one runs. */
  lastReport: KbCheck | null;
  suggestions: ActionSuggestion[];
}

export function checkOverview(
  runtime: Pick<Runtime, "tenants">,
  tenant: TenantRecord,
): CheckOverview {
  const db = tenantDb(runtime, tenant);
  const check = latestKbCheck(db);
  return {
    check,
    lastReport: check?.state === "done" ? check : latestKbReport(db),
    suggestions: listSuggestions(db),
  };
}

/**
 * Starts a check (or joins the one running). With `wait`, resolves with the finished check;
 * otherwise with the running one at once, the work going on outside the request.
 */
export async function startCheck(
  runtime: Runtime,
  tenant: TenantRecord,
  actor: { email: string },
  wait: boolean,
): Promise<KbCheck> {
  const already = isKbCheckRunning(tenant.id);
  const done = outsideRequest(() => runKbCheck(runtime, tenant.id, { trigger: "manual" }));
  if (!already) auditAdminAction(runtime, tenant, actor, "kb_check.run");
  if (wait) return done;
  done.catch((error: unknown) =>
    runtime.logger.warn({ err: error, tenantId: tenant.id }, "knowledge-base check failed"),
  );
  return latestKbCheck(tenantDb(runtime, tenant)) as KbCheck;
}

export function decide(
  runtime: Runtime,
  tenant: TenantRecord,
  actor: { email: string },
  id: number,
  decision: SuggestionDecision,
): DecisionResult {
  const result = decideSuggestion(tenantDb(runtime, tenant), id, decision, actor.email, {
    allowHttp: runtime.config.INGEST_ALLOW_PRIVATE_URLS,
  });
  auditAdminAction(runtime, tenant, actor, `suggestion.${decision}`, {
    action: result.suggestion.action,
    outcome: result.suggestion.outcome,
  });
  return result;
}
