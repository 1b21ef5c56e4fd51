// The composition root: builds the running server's parts once (configuration, logger,
// control database, tenant pool, embedder, answerer, the ingestion queue and the schedulers)
// and closes them. Only entry points import this module: routes (through getRuntime()), the
// server entry, the CLI, the benchmarks and the eval; server modules receive the parts.
import { DEMO_TENANT_ID, isTenantId, type TenantId } from "#tenants/id.ts";
import { hasPendingJobs } from "#tenants/knowledge-base.ts";
import { TenantPool } from "#tenants/store.ts";
import { printSetupLinkIfNoAdmin } from "../access/setup-link.server.ts";
import { createAnswerCache } from "../ask/answer-cache.server.ts";
import { createRetrievalCache } from "../ask/retrieval-cache.server.ts";
import { S3Backups } from "../backup/s3.server.ts";
import { parseConfig, type Config } from "../config.server.ts";
import {
  openControlDb,
  setTenantPendingJobs,
  tenantsWithPendingJobs,
} from "../control-db.server.ts";
import { reportStorageFailuresTo } from "../errors.server.ts";
import { createEmbedder } from "../embeddings/index.server.ts";
import type { EmbeddingProvider } from "../embeddings/provider.server.ts";
import { createCrawler } from "../ingest/crawl.server.ts";
import { IngestQueue } from "../ingest/queue.server.ts";
import { isKbCheckRunning, runKbCheck } from "../kb-check/check.server.ts";
import { KbCheckScheduler } from "../kb-check/scheduler.server.ts";
import { closeLimiters } from "../limits/limits.server.ts";
import { createAnswerer } from "../llm/index.server.ts";
import { createLogger, type Logger } from "../logger.server.ts";
import { metrics } from "../metrics.server.ts";
import { startTracing, stopTracing } from "../observability/tracing.server.ts";
import { followRole, startPrimaryDuties } from "../replication/duties.server.ts";
import { Outbox } from "../replication/outbox.server.ts";
import { ReplicationRole } from "../replication/role.server.ts";
import { currentRequestContext } from "../request-context.server.ts";
import { CalibrationScheduler } from "../retrieval/calibrate.server.ts";
import { seedDemoTenant } from "../tenancy/demo.server.ts";
import type { Runtime } from "./runtime.server.ts";

export interface RuntimeOptions {
  config?: Config;
  logger?: Logger;
  /** Run the ingestion workers in this process (the server does; most CLI commands too). */
  runQueue?: boolean;
  /** Load the demo tenant and print the first-admin setup link (the server only). */
  bootstrap?: boolean;
  /** Where the demo tenant's README.md and docs/ are read from (default: the working folder). */
  demoRoot?: string;
  /** An embedder made by the caller (the eval's uses every core); default: the configured one. */
  embedder?: EmbeddingProvider;
}

export async function createRuntime(options: RuntimeOptions = {}): Promise<Runtime> {
  const config = options.config ?? parseConfig();
  const logger =
    options.logger ??
    createLogger({ level: config.LOG_LEVEL, pretty: config.NODE_ENV === "development" });
  const control = openControlDb(config.dataDir);
  const embedder =
    options.embedder ??
    (await createEmbedder(config.embeddings, {
      timeoutMs: config.FETCH_TIMEOUT_MS,
      // The server says which runtime serves the embedded encoder (decision 041).
      ...(options.bootstrap ? { log: (line: string) => logger.info(line) } : {}),
    }));
  const tenants = new TenantPool(
    config.dataDir,
    { model: embedder.model, dimension: embedder.dimension },
    config.TENANT_DB_CACHE_SIZE,
    {
      // One line and one count per failure; every other tenant goes on answering.
      unavailable(tenantId, reason) {
        metrics.tenantUnavailableEvents.inc();
        logger.error(
          { tenantId, reason },
          "tenant database unavailable: its visitors get 503 until its file is restored",
        );
      },
      available(tenantId) {
        logger.info({ tenantId }, "tenant database available again");
      },
    },
  );
  const answerer = createAnswerer(config.llm, {
    maxTokens: config.LLM_MAX_TOKENS,
    timeoutMs: config.LLM_TIMEOUT_MS,
    // The LLM_* resilience settings: timeouts, retries, circuit breaker and bulkhead.
    policy: config,
    logger: logger.child({ module: "llm" }),
  });
  const queue = new IngestQueue({
    openTenant: (id) => tenants.get(id),
    tenantsWithPendingJobs: () => tenantsWithPendingJobs(control),
    markTenantIdle: (id) => setTenantPendingJobs(control, id, false),
    embedder,
    logger: logger.child({ module: "ingest" }),
    concurrency: config.INGEST_CONCURRENCY,
    leaseMs: config.INGEST_LEASE_MS,
    pollMs: config.INGEST_POLL_MS,
    retryBaseMs: config.INGEST_RETRY_BASE_MS,
    chunking: { maxTokens: config.CHUNK_MAX_TOKENS, overlapTokens: config.CHUNK_OVERLAP_TOKENS },
    fetchTimeoutMs: config.FETCH_TIMEOUT_MS,
    maxFetchBytes: config.MAX_UPLOAD_BYTES,
    maxAttempts: config.INGEST_MAX_ATTEMPTS,
    embedBatchSize: config.EMBEDDINGS_BATCH_SIZE,
    allowPrivateNetwork: config.INGEST_ALLOW_PRIVATE_URLS,
    stopTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
  });
  const calibration = new CalibrationScheduler({
    openTenant: (id) => tenants.get(id),
    embedder,
    logger: logger.child({ module: "calibration" }),
    busy: (id) => hasPendingJobs(tenants.get(id)),
  });
  // A document added or replaced changes what the tenant's own titles find (decision 024).
  queue.onProgress((event) => {
    if (event.state === "done" && event.outcome !== "unchanged") {
      calibration.schedule(event.tenantId);
    }
  });
  // The knowledge-base check runs when a tenant's queue goes quiet after changes or failures.
  const kbChecks = new KbCheckScheduler({
    run: (id, signal) => runKbCheck(runtime, id, { trigger: "auto", signal }),
    // A check already running counts what it found when it started: wait and check again.
    busy: (id) => isKbCheckRunning(id) || hasPendingJobs(tenants.get(id)),
    logger: logger.child({ module: "kb-check" }),
  });
  queue.onProgress((event) => {
    if ((event.state === "done" && event.outcome !== "unchanged") || event.state === "failed") {
      kbChecks.schedule(event.tenantId);
    }
  });
  const runtime: Runtime = {
    config,
    logger,
    control,
    tenants,
    embedder,
    answerer,
    queue,
    crawler: createCrawler({ config, control, tenants, queue, logger }),
    calibration,
    kbChecks,
    retrievalCache: createRetrievalCache(config, (hit) =>
      metrics.retrievalCache.inc({ result: hit ? "hit" : "miss" }),
    ),
    answerCache: createAnswerCache(config, (hit) =>
      metrics.answerCache.inc({ result: hit ? "hit" : "miss" }),
    ),
    ...(config.backupS3 ? { backupBucket: new S3Backups(config.backupS3) } : {}),
    replication: {
      role: new ReplicationRole(config.litefs?.dir),
      outbox: config.litefs ? new Outbox(config.limitsDir) : undefined,
    },
    ready: false,
    startedAt: Date.now(),
  };
  logger.info(
    {
      dataDir: config.dataDir,
      embeddings: embedder.model,
      dimension: embedder.dimension,
      answerer: `${answerer.name}:${answerer.model}`,
    },
    "runtime created",
  );
  // A LiteFS replica's databases are read-only: no start-up writes, ingestion or backups.
  const { role } = runtime.replication;
  const primary = role.current().primary;
  if (!primary) {
    logger.info(
      { primary: role.current().primaryHost },
      "LiteFS replica: serving reads and asks; writes go to the primary",
    );
  }
  if (options.runQueue && primary) queue.start();
  if (options.bootstrap) {
    // The serving process: its gauges read these parts on each scrape; traces go out over
    // OTLP when configured.
    metrics.sources.openTenantHandles = () => tenants.size;
    metrics.sources.runningIngestJobs = () => queue.activeJobs;
    metrics.sources.unavailableTenants = () => tenants.unavailableCount;
    reportStorageFailuresTo((error) => {
      const tenantId = currentRequestContext()?.tenantId;
      return isTenantId(tenantId) && tenants.reportFailure(tenantId, error);
    });
    await startTracing(config, logger);
    if (config.litefs) followRole(runtime, Boolean(options.runQueue));
  }
  if (options.bootstrap && primary) {
    printSetupLinkIfNoAdmin(runtime);
    startPrimaryDuties(runtime);
    if (config.DEMO_TENANT) {
      const demoJobs = seedDemoTenant(runtime, options.demoRoot);
      void queue
        .drain(DEMO_TENANT_ID as TenantId)
        .then(() => {
          runtime.ready = true;
          logger.info({ jobs: demoJobs }, "demo tenant ready");
        })
        .catch((error: unknown) => logger.error({ err: error }, "demo tenant failed to load"));
    } else {
      runtime.ready = true;
    }
  } else {
    runtime.ready = true;
  }
  return runtime;
}

export async function closeRuntime(runtime: Runtime): Promise<void> {
  runtime.replication.role.stop();
  await runtime.forwarder?.stop();
  runtime.backups?.stop();
  await runtime.crawler.stop();
  await runtime.queue.stop();
  await runtime.calibration.close();
  await runtime.kbChecks.close();
  runtime.tenants.close();
  await runtime.embedder.close?.();
  if (runtime.control.open) runtime.control.close();
  runtime.replication.outbox?.close();
  closeLimiters();
  await stopTracing();
}

// ---- the process-wide runtime ------------------------------------------------------------

const globalKey = Symbol.for("bitb.runtime");
type Holder = { [globalKey]?: Promise<Runtime> };

/** Starts the server's runtime once (idempotent): queue workers, demo tenant, setup link. */
export function startRuntime(options: Omit<RuntimeOptions, "runQueue" | "bootstrap"> = {}) {
  const holder = globalThis as Holder;
  holder[globalKey] ??= createRuntime({ ...options, runQueue: true, bootstrap: true });
  return holder[globalKey];
}

/** The runtime of this process; starts it on first use (e.g. under `react-router dev`). */
export function getRuntime(): Promise<Runtime> {
  return startRuntime();
}

export async function stopRuntime(): Promise<void> {
  const holder = globalThis as Holder;
  const pending = holder[globalKey];
  if (!pending) return;
  delete holder[globalKey];
  await closeRuntime(await pending);
}
