// Health of the answering pipeline for operators and orchestrators: each answer provider's
// circuit breaker and queue, the embedder (probed, at most every few seconds), the control
// database, open tenant handles and the ingestion workers.
import { DEMO_TENANT_ID, type TenantId } from "#tenants/id.ts";
import { countPendingJobs } from "#tenants/knowledge-base.ts";
import { controlDbResponds } from "../control-db.server.ts";
import type { Runtime, StartupState } from "../runtime/runtime.server.ts";

export interface ProviderHealthReport {
  provider: string;
  model: string;
  breaker: "closed" | "open" | "half-open" | "none";
  recentFailureRate: number;
  recentCalls: number;
  inFlight: number;
  queued: number;
}

export interface PipelineHealth {
  status: "ok" | "degraded" | "starting";
  ready: boolean;
  providers: ProviderHealthReport[];
  embedder: {
    model: string;
    dimension: number;
    ok: boolean;
    latencyMs: number | null;
    error?: string;
  };
  databases: { control: boolean; openTenantHandles: number };
  ingestion: { activeJobs: number };
}

type HealthRuntime = Pick<
  Runtime,
  "answerer" | "embedder" | "control" | "tenants" | "queue" | "ready"
>;

const PROBE_TTL_MS = 5000;
let lastProbe: { at: number; embedder: PipelineHealth["embedder"] } | undefined;

async function probeEmbedder(runtime: HealthRuntime, now: number) {
  if (
    lastProbe &&
    now - lastProbe.at < PROBE_TTL_MS &&
    lastProbe.embedder.model === runtime.embedder.model
  ) {
    return lastProbe.embedder;
  }
  const started = performance.now();
  let embedder: PipelineHealth["embedder"];
  try {
    const [vector] = await runtime.embedder.embed(["health check"], "query");
    embedder = {
      model: runtime.embedder.model,
      dimension: runtime.embedder.dimension,
      ok: vector?.length === runtime.embedder.dimension,
      latencyMs: Math.round(performance.now() - started),
    };
  } catch (error) {
    embedder = {
      model: runtime.embedder.model,
      dimension: runtime.embedder.dimension,
      ok: false,
      latencyMs: null,
      error: error instanceof Error ? error.message : String(error),
    };
  }
  lastProbe = { at: now, embedder };
  return embedder;
}

export function providerHealth(answerer: Runtime["answerer"]): ProviderHealthReport {
  const withHealth = answerer as Runtime["answerer"] & { health?: () => ProviderHealthReport };
  if (typeof withHealth.health === "function") return withHealth.health();
  return {
    provider: answerer.name,
    model: answerer.model,
    breaker: "none",
    recentFailureRate: 0,
    recentCalls: 0,
    inFlight: 0,
    queued: 0,
  };
}

export function controlDatabaseOk(runtime: Pick<Runtime, "control">): boolean {
  try {
    return controlDbResponds(runtime.control);
  } catch {
    return false;
  }
}

export async function pipelineHealth(
  runtime: HealthRuntime,
  now = Date.now(),
): Promise<PipelineHealth> {
  const providers = [providerHealth(runtime.answerer)];
  const embedder = await probeEmbedder(runtime, now);
  const control = controlDatabaseOk(runtime);
  const degraded =
    !embedder.ok ||
    !control ||
    providers.some((p) => p.breaker === "open" || p.breaker === "half-open");
  return {
    status: !runtime.ready ? "starting" : degraded ? "degraded" : "ok",
    ready: runtime.ready,
    providers,
    embedder,
    databases: { control, openTenantHandles: runtime.tenants.size },
    ingestion: { activeJobs: runtime.queue.activeJobs },
  };
}

export interface Readiness {
  ready: boolean;
  /** Why the server is not ready, in words an operator can act on (absent when ready). */
  reason?: string;
  uptimeSeconds: number;
  demo?: StartupState["demo"] & { pending?: number };
}

/**
 * Readiness for /readyz: ready once the start-up is over (the demo tenant loaded, or its load
 * failed — reported here and in the log, the server answers without it) and the control
 * database answers. Liveness (/healthz) asks none of this.
 */
export function readiness(
  runtime: Pick<Runtime, "ready" | "startup" | "startedAt" | "control" | "tenants">,
  now = Date.now(),
): Readiness {
  const uptimeSeconds = Math.round((now - runtime.startedAt) / 1000);
  let demo: Readiness["demo"] = runtime.startup.demo && { ...runtime.startup.demo };
  if (!runtime.ready) {
    let pending: number | undefined;
    try {
      if (demo) pending = countPendingJobs(runtime.tenants.get(DEMO_TENANT_ID as TenantId));
    } catch {
      pending = undefined;
    }
    if (demo) demo = { ...demo, ...(pending === undefined ? {} : { pending }) };
    const left =
      pending === undefined ? "" : `: ${pending} of ${demo?.queued ?? "?"} documents left`;
    return {
      ready: false,
      reason: demo
        ? `loading the demo tenant${left} (a first start takes a few minutes)`
        : "starting",
      uptimeSeconds,
      ...(demo ? { demo } : {}),
    };
  }
  if (!controlDatabaseOk(runtime)) {
    return {
      ready: false,
      reason: "the control database does not answer",
      uptimeSeconds,
      ...(demo ? { demo } : {}),
    };
  }
  return { ready: true, uptimeSeconds, ...(demo ? { demo } : {}) };
}
