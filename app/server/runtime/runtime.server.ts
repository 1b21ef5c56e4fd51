// The running server's parts, as one type: what the composition root
// (./build.server.ts) makes once per process and the entry points (routes, the server entry,
// the CLI, benchmarks, the eval) hand to the server modules. This module imports types only,
// and none of the parts it names imports it back: a part declares what it needs itself.
import type { AnswerCache } from "../ask/answer-cache.server.ts";
import type { RetrievalCache } from "../ask/retrieval-cache.server.ts";
import type { BackupSchedule } from "../backup/backup.server.ts";
import type { S3Backups } from "../backup/s3.server.ts";
import type { EmbeddingProvider } from "../embeddings/provider.server.ts";
import type { Crawler } from "../ingest/crawl.server.ts";
import type { IngestQueue } from "../ingest/queue.server.ts";
import type { KbCheckScheduler } from "../kb-check/scheduler.server.ts";
import type { AnswerProvider } from "../llm/provider.server.ts";
import type { OutboxForwarder } from "../replication/forwarder.server.ts";
import type { Replication } from "../replication/writes.server.ts";
import type { CoreParts } from "../parts.server.ts";
import type { CalibrationScheduler } from "../retrieval/calibrate.server.ts";

export interface Runtime extends CoreParts {
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
  /**
   * True once the server can answer: started, and the demo tenant's load over (loaded, or
   * failed — the failure is in `startup.demo` and the log, and /readyz reports it).
   */
  ready: boolean;
  /** Where the start-up stands, for /readyz. */
  startup: StartupState;
  startedAt: number;
}

export interface StartupState {
  /** The demo tenant's first load (absent when DEMO_TENANT is off or on a LiteFS replica). */
  demo?: {
    state: "loading" | "loaded" | "failed";
    /** Documents queued by this start (0 when none changed since the last one). */
    queued: number;
    /** Documents whose ingestion failed, and the first failure's message. */
    failed: number;
    error?: string;
  };
}
