// Every Prometheus metric of the server, defined once, in one registry per process. Other
// modules import the typed metric objects and only ever call inc/observe/set on them.
// Labels follow the cardinality policy of docs/decisions/012-observability.md: route
// patterns (never raw URLs), providers, stages, reasons, states: small fixed sets. Tenant
// ids are NOT labels here (their number is unbounded); per-tenant figures are exact in the
// tenant's own database (usage_daily, messages).
import client from "prom-client";

/** Buckets for request and stage latencies, in seconds: 5 ms .. 60 s. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60];
/** Ingestion jobs run longer: 50 ms .. 10 min. */
const JOB_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/** Values read on each scrape from the running server's parts (set by the runtime). */
export interface ScrapeSources {
  openTenantHandles?: () => number;
  runningIngestJobs?: () => number;
  unavailableTenants?: () => number;
}

function createMetrics() {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  // Gauges named like counters, which promtool's lint rejects; the per-type gauges of the
  // same name without _total (nodejs_active_handles{type}, ...) carry the same numbers.
  for (const name of [
    "nodejs_active_handles_total",
    "nodejs_active_requests_total",
    "nodejs_active_resources_total",
  ]) {
    registry.removeSingleMetric(name);
  }
  const sources: ScrapeSources = {};
  const of = { registers: [registry] };

  return {
    registry,
    sources,
    httpRequests: new client.Counter({
      name: "bitb_http_requests_total",
      help: "HTTP requests by method, route pattern and status code.",
      labelNames: ["method", "route", "status"] as const,
      ...of,
    }),
    httpRequestDuration: new client.Histogram({
      name: "bitb_http_request_duration_seconds",
      help: "Time from request to the end of the response (whole stream for SSE), by route pattern.",
      labelNames: ["method", "route", "status"] as const,
      buckets: LATENCY_BUCKETS,
      ...of,
    }),
    ragStageDuration: new client.Histogram({
      name: "bitb_rag_stage_duration_seconds",
      help: "Ask pipeline latencies: embed (query embedding), retrieve (whole retrieval), first_token and answer (from the start of the ask).",
      labelNames: ["stage"] as const,
      buckets: LATENCY_BUCKETS,
      ...of,
    }),
    asks: new client.Counter({
      name: "bitb_asks_total",
      help: "Single asks by outcome (answered, abstained, error).",
      labelNames: ["outcome"] as const,
      ...of,
    }),
    degradedAnswers: new client.Counter({
      name: "bitb_degraded_answers_total",
      help: "Answers given by the fallback instead of the LLM, by reason.",
      labelNames: ["reason"] as const,
      ...of,
    }),
    llmTokens: new client.Counter({
      name: "bitb_llm_tokens_total",
      help: "Tokens spent by answer provider and kind (prompt, completion).",
      labelNames: ["provider", "kind"] as const,
      ...of,
    }),
    breakerState: new client.Gauge({
      name: "bitb_llm_breaker_state",
      help: "1 for the current state of each LLM provider's circuit breaker (closed, open, half_open), 0 for the others.",
      labelNames: ["provider", "state"] as const,
      ...of,
    }),
    breakerTransitions: new client.Counter({
      name: "bitb_llm_breaker_transitions_total",
      help: "Circuit breaker state changes by provider and the state entered.",
      labelNames: ["provider", "to"] as const,
      ...of,
    }),
    retrievalCache: new client.Counter({
      name: "bitb_retrieval_cache_total",
      help: "Retrieval cache lookups by result (hit, miss).",
      labelNames: ["result"] as const,
      ...of,
    }),
    answerCache: new client.Counter({
      name: "bitb_answer_cache_total",
      help: "Answer cache lookups by result (hit, miss).",
      labelNames: ["result"] as const,
      ...of,
    }),
    batchAsks: new client.Counter({
      name: "bitb_batch_asks_total",
      help: "Batch asks by answering mode (aggregated, parallel).",
      labelNames: ["mode"] as const,
      ...of,
    }),
    batchQuestions: new client.Counter({
      name: "bitb_batch_questions_total",
      help: "Questions asked in batches, by answering mode.",
      labelNames: ["mode"] as const,
      ...of,
    }),
    rateLimitRejections: new client.Counter({
      name: "bitb_rate_limit_rejections_total",
      help: "Requests refused by a rate limit or quota, by scope (tenant, session, ip, quota).",
      labelNames: ["scope"] as const,
      ...of,
    }),
    ingestJobs: new client.Counter({
      name: "bitb_ingest_jobs_total",
      help: "Ingestion job attempts by the state they ended in (done, unchanged, retry, failed).",
      labelNames: ["state"] as const,
      ...of,
    }),
    ingestChunks: new client.Counter({
      name: "bitb_ingest_chunks_total",
      help: "Chunks embedded and indexed; rate() of it is the ingestion throughput in chunks/s.",
      ...of,
    }),
    ingestJobDuration: new client.Histogram({
      name: "bitb_ingest_job_duration_seconds",
      help: "Duration of ingestion job attempts, by the state they ended in.",
      labelNames: ["state"] as const,
      buckets: JOB_BUCKETS,
      ...of,
    }),
    ingestJobsRunning: new client.Gauge({
      name: "bitb_ingest_jobs_running",
      help: "Ingestion jobs running in this process.",
      registers: [registry],
      collect() {
        this.set(sources.runningIngestJobs?.() ?? 0);
      },
    }),
    tenantsUnavailable: new client.Gauge({
      name: "bitb_tenants_unavailable",
      help: "Tenants whose database file failed to open or its checks (503 tenant_unavailable).",
      registers: [registry],
      collect() {
        this.set(sources.unavailableTenants?.() ?? 0);
      },
    }),
    tenantUnavailableEvents: new client.Counter({
      name: "bitb_tenant_unavailable_total",
      help: "Times a tenant was marked unavailable because its database file failed.",
      registers: [registry],
    }),
    tenantDbOpen: new client.Gauge({
      name: "bitb_tenant_db_open_handles",
      help: "Tenant databases held open by this process (bounded by TENANT_DB_CACHE_SIZE).",
      registers: [registry],
      collect() {
        this.set(sources.openTenantHandles?.() ?? 0);
      },
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

// One registry per process, even if this module is evaluated twice (the dev server's module
// graph, tests): prom-client refuses a second metric of the same name in one registry.
const globalKey = Symbol.for("bitb.metrics");
const holder = globalThis as { [globalKey]?: Metrics };
export const metrics: Metrics = (holder[globalKey] ??= createMetrics());

/** The exposition text and its content type, for GET /metrics. */
export async function renderMetrics(): Promise<{ body: string; contentType: string }> {
  return { body: await metrics.registry.metrics(), contentType: metrics.registry.contentType };
}

const BREAKER_STATES = ["closed", "open", "half_open"] as const;
export type BreakerStateName = (typeof BREAKER_STATES)[number];

/** Records a breaker entering `state` (and, unless `initial`, counts the transition). */
export function recordBreakerState(
  provider: string,
  state: BreakerStateName,
  initial = false,
): void {
  for (const s of BREAKER_STATES)
    metrics.breakerState.set({ provider, state: s }, s === state ? 1 : 0);
  if (!initial) metrics.breakerTransitions.inc({ provider, to: state });
}

const seconds = (ms: number) => ms / 1000;

/** The RAG stage latencies and outcome of one finished single ask. */
export function recordAsk(ask: {
  embedMs: number | null;
  retrievalMs: number;
  firstTokenMs: number | null;
  totalMs: number;
  abstained: boolean;
  degradedReason: string | null;
  provider: string;
  promptTokens: number;
  completionTokens: number;
}): void {
  const stage = metrics.ragStageDuration;
  if (ask.embedMs !== null) stage.observe({ stage: "embed" }, seconds(ask.embedMs));
  stage.observe({ stage: "retrieve" }, seconds(ask.retrievalMs));
  if (ask.firstTokenMs !== null) stage.observe({ stage: "first_token" }, seconds(ask.firstTokenMs));
  stage.observe({ stage: "answer" }, seconds(ask.totalMs));
  metrics.asks.inc({ outcome: ask.abstained ? "abstained" : "answered" });
  if (ask.degradedReason) metrics.degradedAnswers.inc({ reason: ask.degradedReason });
  recordTokens(ask.provider, ask.promptTokens, ask.completionTokens);
}

export function recordTokens(provider: string, prompt: number, completion: number): void {
  if (prompt > 0) metrics.llmTokens.inc({ provider, kind: "prompt" }, prompt);
  if (completion > 0) metrics.llmTokens.inc({ provider, kind: "completion" }, completion);
}
