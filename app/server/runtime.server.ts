// The running server's parts, made once: configuration, logger, control database, tenant
// pool, embedder, answerer and the ingestion queue. Routes reach them through getRuntime().
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { DEMO_TENANT_ID, isTenantId, type TenantId } from "#tenants/id.ts";
import { hasPendingJobs } from "#tenants/knowledge-base.ts";
import { TenantPool } from "#tenants/store.ts";
import { createAnswerCache, type AnswerCache } from "./ask/answer-cache.server.ts";
import { scheduleBackups, type BackupSchedule } from "./backup.server.ts";
import { S3Backups } from "./backup-s3.server.ts";
import { createRetrievalCache, type RetrievalCache } from "./ask/retrieval-cache.server.ts";
import { parseConfig, type Config } from "./config.server.ts";
import {
  countAdmins,
  createSetupToken,
  getMeta,
  getOrCreateSecret,
  getTenant,
  openControlDb,
  setMeta,
  setTenantPendingJobs,
  tenantsWithPendingJobs,
  type ControlDb,
} from "./control-db.server.ts";
import { reportStorageFailuresTo } from "./errors.server.ts";
import { createEmbedder } from "./embeddings/index.server.ts";
import type { EmbeddingProvider } from "./embeddings/provider.server.ts";
import { createCrawler, type Crawler } from "./ingest/crawl.server.ts";
import { IngestQueue } from "./ingest/queue.server.ts";
import { createAnswerer } from "./llm/index.server.ts";
import type { AnswerProvider } from "./llm/provider.server.ts";
import { closeLimiters } from "./limits/limits.server.ts";
import { DEMO_PLAN } from "./limits/quota.server.ts";
import { createLogger, DELIVERS_SETUP_LINK, type Logger } from "./logger.server.ts";
import { metrics } from "./metrics.server.ts";
import { outboxSecret } from "./replication/apply.server.ts";
import { OutboxForwarder } from "./replication/forwarder.server.ts";
import { Outbox } from "./replication/outbox.server.ts";
import { ReplicationRole, type Role } from "./replication/role.server.ts";
import { currentRequestContext } from "./request-context.server.ts";
import type { Replication } from "./replication/writes.server.ts";
import { sessionSecret } from "./visitor-session.server.ts";
import { CalibrationScheduler } from "./retrieval/calibrate.server.ts";
import { createTenant, enqueueIngest } from "./tenants.server.ts";
import { isKbCheckRunning, KbCheckScheduler, runKbCheck } from "./kb-check.server.ts";
import { startTracing, stopTracing } from "./tracing.server.ts";

export interface Runtime {
  config: Config;
  logger: Logger;
  control: ControlDb;
  tenants: TenantPool;
  embedder: EmbeddingProvider;
  answerer: AnswerProvider;
  queue: IngestQueue;
  /** Website crawls (docs/decisions/029); started on the primary of the server only. */
  crawler: Crawler;
  /** Re-weights each tenant's retrieval fusion after its knowledge base changes. */
  calibration: CalibrationScheduler;
  /** Checks each tenant's knowledge base once its ingestion settles (decision 032). */
  kbChecks: KbCheckScheduler;
  retrievalCache: RetrievalCache;
  answerCache: AnswerCache;
  /** This machine's LiteFS role and, under LiteFS, its outbox (docs/decisions/023). */
  replication: Replication;
  /** Forwards the outbox to the primary (the server under LiteFS only). */
  forwarder?: OutboxForwarder;
  /** The bucket backup runs are uploaded to (BACKUP_S3_URL). */
  backupBucket?: S3Backups;
  /** Scheduled backups to BACKUP_DIR (the server only, when BACKUP_DIR is set). */
  backups?: BackupSchedule;
  /** True once the server can answer: started, and the demo tenant's documents indexed. */
  ready: boolean;
  startedAt: number;
}

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

const SETUP_TOKEN_TTL_MS = 24 * 60 * 60 * 1000;

export async function createRuntime(options: RuntimeOptions = {}): Promise<Runtime> {
  const config = options.config ?? parseConfig();
  const logger =
    options.logger ??
    createLogger({ level: config.LOG_LEVEL, pretty: config.NODE_ENV === "development" });
  const control = openControlDb(config.dataDir);
  const embedder =
    options.embedder ??
    (await createEmbedder(config.embeddings, { timeoutMs: config.FETCH_TIMEOUT_MS }));
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

/**
 * Under LiteFS: forwards the outbox, and follows changes of role (the Consul lease moves). A
 * machine that becomes the primary starts ingestion (jobs persisted by the old primary resume
 * here once their leases run out) and backups; one that stops being it stops both.
 */
function followRole(runtime: Runtime, runQueue: boolean): void {
  const { config, logger, replication } = runtime;
  const { outbox, role } = replication;
  if (!config.litefs || !outbox) return;
  const template = config.litefs.primaryUrl;
  runtime.forwarder = new OutboxForwarder({
    outbox,
    role,
    primaryUrl: (host) => template.replaceAll("{primary}", host),
    runtime,
    logger: logger.child({ module: "outbox" }),
    intervalMs: config.OUTBOX_FLUSH_MS,
    batchSize: config.OUTBOX_BATCH_SIZE,
    timeoutMs: config.FETCH_TIMEOUT_MS,
  });
  runtime.forwarder.start();
  role.watch((next: Role) => {
    if (next.primary) {
      logger.info("LiteFS: this machine is now the primary");
      if (runQueue) runtime.queue.start();
      startPrimaryDuties(runtime);
    } else {
      logger.info({ primary: next.primaryHost }, "LiteFS: this machine is now a replica");
      runtime.backups?.stop();
      runtime.backups = undefined;
      void runtime.crawler.stop();
      void runtime.queue.stop();
    }
  });
}

/**
 * What only the primary does: scheduled backups, website crawls and their scheduled
 * re-crawls, and the secrets replicas read.
 */
function startPrimaryDuties(runtime: Runtime): void {
  const { config } = runtime;
  if (config.litefs) {
    // Made here so replicas never need to write them.
    outboxSecret(runtime.control);
    sessionSecret(runtime.control);
    getOrCreateSecret(runtime.control, "session");
    getOrCreateSecret(runtime.control, "sign-in-failures"); // sign-in-throttle.server.ts
  }
  if (config.backupDir && !runtime.backups) {
    runtime.backups = scheduleBackups(runtime, {
      dir: config.backupDir,
      keep: config.BACKUP_KEEP,
      intervalMs: config.BACKUP_INTERVAL_MS,
      s3: runtime.backupBucket,
    });
  }
  runtime.crawler.start();
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

function printSetupLinkIfNoAdmin(runtime: Runtime): void {
  if (countAdmins(runtime.control) > 0) return;
  const token = createSetupToken(runtime.control, SETUP_TOKEN_TTL_MS);
  const base = runtime.config.PUBLIC_URL ?? `http://localhost:${runtime.config.PORT}`;
  // The one line that carries a secret on purpose: the operator reads the link from the log.
  runtime.logger.warn(
    { [DELIVERS_SETUP_LINK]: true },
    `No admin yet. Create the first one at ${base}/setup?token=${token} ` +
      "(valid for 24 hours, once) or with `npm run admin:create -- --email you@example.com`.",
  );
}

/** The documents of the demo tenant: this project's README and docs. */
export function demoDocumentFiles(root = process.cwd()): string[] {
  const files = ["README.md"];
  const docs = path.join(root, "docs");
  if (fs.existsSync(docs)) {
    for (const entry of fs.readdirSync(docs, { recursive: true, withFileTypes: true })) {
      if (entry.isFile() && entry.name.endsWith(".md")) {
        files.push(path.relative(root, path.join(entry.parentPath, entry.name)));
      }
    }
  }
  return files.filter((f) => fs.existsSync(path.join(root, f))).sort();
}

/** Creates the demo tenant on first start and queues any of its files that changed. */
function seedDemoTenant(runtime: Runtime, root = process.cwd()): number {
  const id = DEMO_TENANT_ID as TenantId;
  if (!getTenant(runtime.control, id)) {
    createTenant(runtime, { id, name: "BiTB demo", plan: DEMO_PLAN });
  }
  let queued = 0;
  for (const file of demoDocumentFiles(root)) {
    const bytes = fs.readFileSync(path.join(root, file));
    const hash = createHash("sha256").update(bytes).digest("hex");
    const key = `demo-file:${file}`;
    if (getMeta(runtime.control, key) === hash) continue;
    enqueueIngest(runtime, id, {
      sourceType: "file",
      title: file,
      fileName: file,
      payload: new Uint8Array(bytes),
    });
    setMeta(runtime.control, key, hash);
    queued++;
  }
  return queued;
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
