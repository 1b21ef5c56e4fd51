// The knowledge-base check (issue 6, docs/decisions/032): after ingestion settles, or when an
// admin asks, it measures the tenant's knowledge base (kb-check-inspect.server.ts), puts each
// starter question of the widget through the product's own retrieval and answerer to see
// which ones the knowledge base cannot answer, and proposes actions from the content
// (actions/suggest.server.ts). Each run is a row of `kb_checks` (tenant migration 11) whose
// progress is updated as it goes, so the admin page can show it. Touches the tenant database,
// the control database (the tenant and its widget settings), the embedder and the answerer.
import type {
  KbCheck,
  KbCheckReport,
  KbCheckState,
  KbCheckTrigger,
  KbFinding,
  StarterQuestionResult,
} from "#app/shared/kb-check.ts";
import {
  MAX_GARBLED_SHARE,
  MIN_ALPHANUMERIC_SHARE,
  NEAR_DUPLICATE_SHARE,
  SHINGLE_WORDS,
  TINY_DOCUMENT_WORDS,
} from "#app/shared/kb-check.ts";
import type { TenantId } from "#tenants/id.ts";
import {
  failKbCheck,
  finishKbCheck,
  insertKbCheck,
  kbCheckRow,
  latestDoneKbCheckRow,
  latestKbCheckRow,
  updateKbCheckProgress,
  type KbCheckRow,
} from "#tenants/kb-checks.ts";
import type { TenantDb } from "#tenants/store.ts";
import { toCitation } from "../ask/ask.server.ts";
import { suggestActions } from "../actions/suggest.server.ts";
import { getTenant, type TenantRecord } from "../control-db.server.ts";
import { ApiError } from "../errors.server.ts";
import { inspectKnowledgeBase } from "./inspect.server.ts";
import { isAbstention } from "../llm/extractive.server.ts";
import type { SourcePassage } from "../llm/provider.server.ts";
import type { Logger } from "../logger.server.ts";
import { retrieveWithStats } from "../retrieval/retrieve.server.ts";
import type { Runtime } from "../runtime/runtime.server.ts";
import { getWidgetSettings } from "../widget-config/settings.server.ts";

export type { KbCheck } from "#app/shared/kb-check.ts";

export type KbCheckRuntime = Pick<
  Runtime,
  "control" | "tenants" | "embedder" | "answerer" | "config" | "logger"
>;

/** A check still "running" after this long was cut short (the process stopped). */
const STALE_RUNNING_MS = 15 * 60 * 1000;

function toCheck(row: KbCheckRow): KbCheck {
  let report: KbCheckReport | null = null;
  if (row.report) {
    try {
      report = JSON.parse(row.report) as KbCheckReport;
    } catch {
      report = null;
    }
  }
  return {
    id: row.id,
    trigger: row.trigger as KbCheckTrigger,
    state: row.state as KbCheckState,
    step: row.step,
    progress: { done: row.progress_done, total: row.progress_total },
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    error: row.error,
    report,
  };
}

/** The newest check of the tenant (running or finished), or null when none ran yet. */
export function latestKbCheck(db: TenantDb): KbCheck | null {
  const row = latestKbCheckRow(db);
  return row ? toCheck(row) : null;
}

export function getKbCheck(db: TenantDb, id: number): KbCheck | null {
  const row = kbCheckRow(db, id);
  return row ? toCheck(row) : null;
}

/** The newest finished report, for pages that show results while a new check runs. */
export function latestKbReport(db: TenantDb): KbCheck | null {
  const row = latestDoneKbCheckRow(db);
  return row ? toCheck(row) : null;
}

function startRow(db: TenantDb, trigger: KbCheckTrigger, now: number): number {
  // A check left running by a process that stopped will never finish.
  return insertKbCheck(db, {
    trigger,
    step: "Measuring documents",
    now,
    staleBefore: now - STALE_RUNNING_MS,
  });
}

function setProgress(db: TenantDb, id: number, step: string, done: number, total: number): void {
  updateKbCheckProgress(db, id, step, done, total);
}

/**
 * Puts one question through retrieval and the answerer, as a visitor's ask would be (the
 * same top K, the tenant's model, the same abstention rule), without recording anything.
 */
export async function tryQuestion(
  runtime: Pick<KbCheckRuntime, "tenants" | "embedder" | "answerer" | "config">,
  tenant: TenantRecord,
  question: string,
  signal?: AbortSignal,
): Promise<StarterQuestionResult> {
  const answeredBy = `${runtime.answerer.name}:${tenant.llmModel ?? runtime.answerer.model}`;
  try {
    const { chunks } = await retrieveWithStats(
      () => runtime.tenants.get(tenant.id),
      runtime.embedder,
      question,
      { topK: runtime.config.RETRIEVAL_TOP_K },
    );
    const top = chunks[0];
    const topSource = top
      ? { documentId: top.documentId, title: top.title, snippet: toCitation(top, 1).snippet }
      : null;
    if (chunks.length === 0) return { question, outcome: "no_passages", topSource, answeredBy };
    const sources: SourcePassage[] = chunks.map((chunk, i) => ({
      n: i + 1,
      title: chunk.title,
      headingPath: chunk.headingPath,
      text: chunk.text,
      score: chunk.score,
      similarity: chunk.similarity,
    }));
    let answer = "";
    let decidedBy = answeredBy;
    for await (const piece of runtime.answerer.stream({
      question,
      history: [],
      sources,
      model: tenant.llmModel ?? undefined,
      signal,
    })) {
      if (piece.type === "token") answer += piece.text;
      else if (piece.type === "degraded") decidedBy = `${piece.provider}:${piece.model}`;
    }
    return {
      question,
      outcome: isAbstention(answer) ? "abstained" : "answered",
      topSource,
      answeredBy: decidedBy,
    };
  } catch (error) {
    return {
      question,
      outcome: "error",
      topSource: null,
      answeredBy,
      error: error instanceof Error ? error.message : String(error),
    };
  }
}

export function starterQuestionFindings(results: readonly StarterQuestionResult[]): KbFinding[] {
  const findings: KbFinding[] = [];
  for (const result of results) {
    if (result.outcome === "answered") continue;
    if (result.outcome === "error") {
      findings.push({
        kind: "unchecked_question",
        severity: "info",
        summary: `“${result.question}” could not be checked`,
        detail: `The answerer failed: ${result.error ?? "unknown error"}.`,
        fix: "Run the check again; if it keeps failing, check the LLM settings.",
        documents: [],
        question: result.question,
      });
      continue;
    }
    const detail =
      result.outcome === "no_passages"
        ? "Retrieval found no passage at all for it."
        : `The answerer (${result.answeredBy}) said it does not know` +
          (result.topSource ? `; the closest passage was in “${result.topSource.title}”.` : ".");
    findings.push({
      kind: "unanswerable_question",
      severity: "problem",
      summary: `The starter question “${result.question}” cannot be answered`,
      detail,
      fix: "Add a page or paste a text that answers it, or change the starter question on the Widget tab.",
      documents: result.topSource
        ? [{ id: result.topSource.documentId, title: result.topSource.title }]
        : [],
      question: result.question,
    });
  }
  return findings;
}

const running = new Map<TenantId, Promise<KbCheck>>();

export interface RunKbCheckOptions {
  trigger?: KbCheckTrigger;
  signal?: AbortSignal;
  now?: () => number;
}

/**
 * Runs the check for the tenant and resolves with the finished check (state "done", or
 * "failed" with the error). The row exists, "running", before this returns its promise, so
 * a caller that does not wait can show it at once. One check per tenant at a time in this
 * process: a second call while one runs gets the running one.
 */
export function runKbCheck(
  runtime: KbCheckRuntime,
  tenantId: TenantId,
  options: RunKbCheckOptions = {},
): Promise<KbCheck> {
  const inFlight = running.get(tenantId);
  if (inFlight) return inFlight;
  const tenant = getTenant(runtime.control, tenantId);
  if (!tenant) return Promise.reject(new ApiError("not_found", "No such tenant."));
  const now = options.now ?? Date.now;
  const id = startRow(runtime.tenants.get(tenantId), options.trigger ?? "manual", now());
  const promise = performCheck(runtime, tenant, id, options.signal, now).finally(() =>
    running.delete(tenantId),
  );
  running.set(tenantId, promise);
  return promise;
}

/** Whether a check of this tenant is running in this process. */
export function isKbCheckRunning(tenantId: TenantId): boolean {
  return running.has(tenantId);
}

async function performCheck(
  runtime: KbCheckRuntime,
  tenant: TenantRecord,
  id: number,
  signal: AbortSignal | undefined,
  now: () => number,
): Promise<KbCheck> {
  // The handle is taken again after every await: the pool may have closed it meanwhile.
  const db = () => runtime.tenants.get(tenant.id);
  const started = performance.now();
  try {
    const questions = getWidgetSettings(runtime, tenant).starterQuestions;
    const { counts, findings } = inspectKnowledgeBase(db());
    const total = 1 + questions.length + 1;
    let done = 1;
    const results: StarterQuestionResult[] = [];
    for (const question of questions) {
      setProgress(db(), id, `Asking “${question}”`, done, total);
      if (signal?.aborted) throw new Error("The check was stopped.");
      results.push(await tryQuestion(runtime, tenant, question, signal));
      done++;
    }
    if (questions.length === 0 && counts.documents > 0) {
      findings.push({
        kind: "no_starter_questions",
        severity: "info",
        summary: "No starter questions to test",
        detail:
          "The widget has no starter questions, so none could be tried against the knowledge base.",
        fix: "Add two or three questions visitors often ask on the Widget tab; the next check tries each one.",
        documents: [],
      });
    }
    findings.push(...starterQuestionFindings(results));
    setProgress(db(), id, "Looking for actions to suggest", done, total);
    if (signal?.aborted) throw new Error("The check was stopped.");
    await suggestActions(runtime, tenant, id, { now });
    const report: KbCheckReport = {
      counts,
      findings: sortFindings(findings),
      starterQuestions: results,
      answerer: `${runtime.answerer.name}:${tenant.llmModel ?? runtime.answerer.model}`,
      thresholds: {
        tinyWords: TINY_DOCUMENT_WORDS,
        shingleWords: SHINGLE_WORDS,
        nearDuplicateShare: NEAR_DUPLICATE_SHARE,
        minAlphanumericShare: MIN_ALPHANUMERIC_SHARE,
        maxGarbledShare: MAX_GARBLED_SHARE,
      },
    };
    finishKbCheck(db(), id, JSON.stringify(report), now());
    log(runtime.logger).info(
      {
        tenantId: tenant.id,
        checkId: id,
        findings: report.findings.length,
        ms: Math.round(performance.now() - started),
      },
      "knowledge-base check done",
    );
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    log(runtime.logger).warn(
      { err: error, tenantId: tenant.id, checkId: id },
      "knowledge-base check failed",
    );
    try {
      failKbCheck(db(), id, message, now());
    } catch (recordError) {
      log(runtime.logger).error(
        { err: recordError, tenantId: tenant.id },
        "recording a failed check failed",
      );
    }
  }
  return getKbCheck(db(), id) as KbCheck;
}

const SEVERITY_ORDER = { problem: 0, warning: 1, info: 2 } as const;

function sortFindings(findings: KbFinding[]): KbFinding[] {
  return findings
    .map((finding, index) => ({ finding, index }))
    .sort(
      (a, b) =>
        SEVERITY_ORDER[a.finding.severity] - SEVERITY_ORDER[b.finding.severity] ||
        a.index - b.index,
    )
    .map(({ finding }) => finding);
}

function log(logger: Logger): Logger {
  return logger.child({ module: "kb-check" });
}
