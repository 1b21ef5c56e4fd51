// The eval engine: loads a BEIR-layout set into a fresh tenant of a throw-away data folder
// through the product's own runtime (the ingestion queue parses, chunks, embeds and indexes
// every document exactly as for an upload), then asks every judged query through the
// product's own retrieval and, in answer mode, through the full ask pipeline. It touches only
// the temporary data folder it creates, and removes it at the end.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { newTenantId, type TenantId } from "#tenants/id.ts";
import type { TenantDb } from "#tenants/store.ts";
import { askStream } from "#app/server/ask/ask.server.ts";
import { parseConfig } from "#app/server/config.server.ts";
import { getTenant, type TenantRecord } from "#app/server/control-db.server.ts";
import { createLogger } from "#app/server/logger.server.ts";
import { createLocalEmbedder } from "#app/server/embeddings/local.server.ts";
import { fusionWeights, retrieveWithStats } from "#app/server/retrieval/retrieve.server.ts";
import { closeRuntime, createRuntime } from "#app/server/runtime/build.server.ts";
import type { Runtime } from "#app/server/runtime/runtime.server.ts";
import { createTenant, enqueueIngest } from "#app/server/tenancy/tenants.server.ts";
import { loadBeirSet, loadQa, loadQuestions, type BeirSet, type QaItem } from "./beir.ts";
import {
  containsGoldAnswer,
  documentRanking,
  mean,
  mrrAt,
  ndcgAt,
  percentile,
  recallAt,
} from "./metrics.ts";

export interface EvalOptions {
  dataset: string;
  split: string;
  /** Run the ask pipeline on the folder's qa.jsonl too. */
  answers?: boolean;
  /** Ask this other folder's questions and count abstentions. */
  outOfScope?: string;
  /** Use at most this many judged queries / questions (for quick runs). */
  limit?: number;
  /** Environment for the product configuration (default: process.env). */
  env?: Record<string, string | undefined>;
  /** Progress lines go here (default: stderr). */
  progress?: (line: string) => void;
  /**
   * Keep the loaded tenant in this folder and reuse it on the next run of the same set, so
   * retrieval changes can be measured again without re-encoding the corpus. Default: a
   * temporary folder, removed at the end.
   */
  indexDir?: string;
}

export interface LatencySummary {
  p50Ms: number;
  p95Ms: number;
}

export interface RetrievalReport {
  queries: number;
  ndcgAt10: number;
  recallAt10: number;
  recallAt100: number;
  mrrAt10: number;
  /** Queries in flight at once (one per core); each latency is measured under that load. */
  concurrency: number;
  latency: LatencySummary;
}

export interface IngestionReport {
  /** True when the tenant came from --index (ingested by an earlier run; timings are that run's). */
  reused?: boolean;
  /** Embedding workers that encoded the corpus. */
  workers?: number;
  documents: number;
  chunks: number;
  seconds: number;
  documentsPerSecond: number;
  chunksPerSecond: number;
  failedJobs: number;
}

export interface AnswerReport {
  questions: number;
  /** Share of answers that contain a gold answer (normalised text). */
  containsGold: number;
  /** Share of answers with a citation of a gold document. */
  citesGoldDocument: number;
  /** Share of in-scope questions answered (not abstained). */
  answered: number;
  latency: LatencySummary;
}

export interface OutOfScopeReport {
  folder: string;
  questions: number;
  /** Share of the other set's questions the answerer abstained on. */
  abstained: number;
}

export interface CalibrationReport {
  /** The vector weight the tenant's calibration chose (null: too few titles; defaults used). */
  vectorWeight: number | null;
  keywordWeight: number;
  pseudoQueries: number;
  seconds: number;
}

export interface EvalReport {
  dataset: string;
  split: string;
  embedder: string;
  answerer: string;
  ingestion: IngestionReport;
  calibration: CalibrationReport;
  retrieval: RetrievalReport;
  answers?: AnswerReport;
  outOfScope?: OutOfScopeReport;
}

/** Chunks retrieved per query: enough for Recall@100 after collapsing chunks to documents. */
const RETRIEVAL_DEPTH = 100;

function summarise(latencies: readonly number[]): LatencySummary {
  const round = (ms: number) => Math.round(ms * 10) / 10;
  return { p50Ms: round(percentile(latencies, 50)), p95Ms: round(percentile(latencies, 95)) };
}

/** Maps the tenant's document ids back to the set's corpus ids (the source keys we chose). */
const SOURCE_PREFIX = "eval:";

function corpusIdsByDocument(db: TenantDb): Map<number, string> {
  const rows = db.prepare("SELECT id, source_key FROM documents").all() as {
    id: number;
    source_key: string;
  }[];
  return new Map(rows.map((row) => [row.id, row.source_key.slice(SOURCE_PREFIX.length)]));
}

async function ingest(
  runtime: Runtime,
  tenantId: TenantId,
  set: BeirSet,
  progress: (line: string) => void,
): Promise<IngestionReport> {
  const started = performance.now();
  let done = 0;
  let failed = 0;
  const unsubscribe = runtime.queue.onProgress((event) => {
    if (event.state === "done") done++;
    if (event.state === "failed") failed++;
    if ((event.state === "done" || event.state === "failed") && (done + failed) % 250 === 0) {
      const seconds = (performance.now() - started) / 1000;
      progress(
        `  ingested ${done + failed}/${set.corpus.length} documents in ${seconds.toFixed(0)} s`,
      );
    }
  });
  for (const document of set.corpus) {
    const text = document.text.trim() === "" ? document.title : document.text;
    enqueueIngest(runtime, tenantId, {
      sourceType: "text",
      sourceKey: `${SOURCE_PREFIX}${document.id}`,
      title: document.title.trim() || document.id,
      mimeType: "text/plain",
      payload: new TextEncoder().encode(text),
      // A lease lost on a loaded machine (the enqueue loop blocks the event loop) retries.
      maxAttempts: 3,
    });
  }
  await runtime.queue.drain(tenantId);
  unsubscribe();
  const seconds = (performance.now() - started) / 1000;
  const db = runtime.tenants.get(tenantId);
  const chunks = db.prepare("SELECT count(*) FROM chunks").pluck().get() as number;
  const documents = db.prepare("SELECT count(*) FROM documents").pluck().get() as number;
  return {
    documents,
    chunks,
    seconds: Math.round(seconds * 10) / 10,
    documentsPerSecond: Math.round((documents / seconds) * 10) / 10,
    chunksPerSecond: Math.round((chunks / seconds) * 10) / 10,
    failedJobs: failed,
  };
}

async function evaluateRetrieval(
  runtime: Runtime,
  tenantId: TenantId,
  set: BeirSet,
  limit: number | undefined,
  concurrency: number,
): Promise<RetrievalReport> {
  const db = runtime.tenants.get(tenantId);
  const corpusIds = corpusIdsByDocument(db);
  const ndcg: number[] = [];
  const recall10: number[] = [];
  const recall100: number[] = [];
  const mrr: number[] = [];
  const latencies: number[] = [];
  const judged = [...set.qrels].slice(0, limit);
  let next = 0;
  // A query's time is mostly its embedding, in a worker: one query per core keeps every core
  // busy, as a server's concurrent visitors do.
  const lane = async () => {
    while (next < judged.length) {
      const [queryId, judgements] = judged[next++] as (typeof judged)[number];
      const query = set.queries.get(queryId);
      if (!query) continue;
      const started = performance.now();
      const { chunks } = await retrieveWithStats(
        runtime.tenants.get(tenantId),
        runtime.embedder,
        query.text,
        { topK: RETRIEVAL_DEPTH },
      );
      latencies.push(performance.now() - started);
      const ranking = documentRanking(
        chunks.map((chunk) => corpusIds.get(chunk.documentId) ?? `#${chunk.documentId}`),
      );
      ndcg.push(ndcgAt(ranking, judgements, 10));
      recall10.push(recallAt(ranking, judgements, 10));
      recall100.push(recallAt(ranking, judgements, 100));
      mrr.push(mrrAt(ranking, judgements, 10));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  const round = (value: number) => Math.round(value * 10_000) / 10_000;
  return {
    queries: ndcg.length,
    ndcgAt10: round(mean(ndcg)),
    recallAt10: round(mean(recall10)),
    recallAt100: round(mean(recall100)),
    mrrAt10: round(mean(mrr)),
    concurrency,
    latency: summarise(latencies),
  };
}

interface AskOutcome {
  answer: string;
  abstained: boolean;
  citedDocuments: number[];
  ms: number;
}

async function ask(runtime: Runtime, tenant: TenantRecord, question: string): Promise<AskOutcome> {
  const started = performance.now();
  for await (const event of askStream(runtime, { tenant, query: question })) {
    if (event.event === "error") throw new Error(`ask failed: ${event.data.message}`);
    if (event.event === "done") {
      return {
        answer: event.data.answer,
        abstained: event.data.abstained,
        citedDocuments: event.data.citations.map((citation) => citation.documentId),
        ms: performance.now() - started,
      };
    }
  }
  throw new Error("the ask pipeline ended without a done event");
}

async function evaluateAnswers(
  runtime: Runtime,
  tenant: TenantRecord,
  items: readonly QaItem[],
): Promise<AnswerReport> {
  const documentIds = new Map(
    [...corpusIdsByDocument(runtime.tenants.get(tenant.id))].map(([id, corpusId]) => [
      corpusId,
      id,
    ]),
  );
  let containsGold = 0;
  let citesGold = 0;
  let answered = 0;
  const latencies: number[] = [];
  for (const item of items) {
    const outcome = await ask(runtime, tenant, item.question);
    latencies.push(outcome.ms);
    if (!outcome.abstained) answered++;
    if (!outcome.abstained && containsGoldAnswer(outcome.answer, item.answers)) containsGold++;
    const gold = new Set(item.goldDocumentIds.map((id) => documentIds.get(id)));
    if (outcome.citedDocuments.some((id) => gold.has(id))) citesGold++;
  }
  const share = (count: number) =>
    Math.round((count / Math.max(1, items.length)) * 10_000) / 10_000;
  return {
    questions: items.length,
    containsGold: share(containsGold),
    citesGoldDocument: share(citesGold),
    answered: share(answered),
    latency: summarise(latencies),
  };
}

async function evaluateOutOfScope(
  runtime: Runtime,
  tenant: TenantRecord,
  folder: string,
  limit: number | undefined,
): Promise<OutOfScopeReport> {
  const questions = loadQuestions(folder).slice(0, limit);
  let abstained = 0;
  for (const question of questions) {
    if ((await ask(runtime, tenant, question)).abstained) abstained++;
  }
  return {
    folder: path.basename(path.resolve(folder)),
    questions: questions.length,
    abstained: Math.round((abstained / Math.max(1, questions.length)) * 10_000) / 10_000,
  };
}

/** What --index remembers about the tenant it loaded. */
const indexRecord = z.object({
  dataset: z.string(),
  documents: z.number().int(),
  tenantId: z.string(),
  ingestion: z.record(z.string(), z.unknown()),
});
const INDEX_RECORD = "eval-index.json";

/** Runs one evaluation end to end in a data folder (temporary unless --index). */
export async function runEval(options: EvalOptions): Promise<EvalReport> {
  const progress = options.progress ?? ((line: string) => process.stderr.write(`${line}\n`));
  const set = loadBeirSet(options.dataset, options.split);
  const qa = options.answers ? loadQa(options.dataset).slice(0, options.limit) : undefined;
  const dataDir = options.indexDir
    ? path.resolve(options.indexDir)
    : fs.mkdtempSync(path.join(os.tmpdir(), "bitb-eval-"));
  fs.mkdirSync(dataDir, { recursive: true });
  const env = options.env ?? process.env;
  const config = parseConfig({
    ...env,
    DATA_DIR: dataDir,
    DEMO_TENANT: "false",
    LOG_LEVEL: env.LOG_LEVEL ?? "warn",
    // Several small documents in flight keep every embedding worker busy.
    INGEST_CONCURRENCY: env.INGEST_CONCURRENCY ?? "4",
  });
  const logger = createLogger({ level: config.LOG_LEVEL, pretty: false });
  // The server keeps a core for the event loop; the eval ingests first and asks after, so
  // its workers use every core (the encoder is single-threaded WebAssembly), for documents
  // and then for queries (none are reserved for them).
  const workers = os.availableParallelism();
  let runtime: Runtime | undefined;
  try {
    const embedder =
      config.embeddings.kind === "local"
        ? await createLocalEmbedder({ documentWorkers: workers, queryWorkers: 0 })
        : undefined;
    runtime = await createRuntime({ config, logger, runQueue: true, embedder });
    const recordFile = path.join(dataDir, INDEX_RECORD);
    const previous =
      options.indexDir && fs.existsSync(recordFile)
        ? indexRecord.safeParse(JSON.parse(fs.readFileSync(recordFile, "utf8")))
        : undefined;
    const datasetPath = path.resolve(options.dataset);
    let tenantId: TenantId;
    let ingestion: IngestionReport;
    if (
      previous?.success &&
      previous.data.dataset === datasetPath &&
      previous.data.documents === set.corpus.length &&
      getTenant(runtime.control, previous.data.tenantId)
    ) {
      tenantId = previous.data.tenantId as TenantId;
      ingestion = { ...(previous.data.ingestion as unknown as IngestionReport), reused: true };
      progress(`${set.name}: reusing the tenant loaded in ${dataDir}`);
    } else {
      tenantId = newTenantId();
      createTenant(runtime, { id: tenantId, name: `eval ${set.name}` });
      progress(
        `${set.name}: ingesting ${set.corpus.length} documents with ${runtime.embedder.model}`,
      );
      ingestion = { ...(await ingest(runtime, tenantId, set, progress)), workers };
      if (options.indexDir) {
        fs.writeFileSync(
          recordFile,
          JSON.stringify({
            dataset: datasetPath,
            documents: set.corpus.length,
            tenantId,
            ingestion,
          }),
        );
      }
    }
    const tenant = getTenant(runtime.control, tenantId) as TenantRecord;
    const calibration = await calibrate(runtime, tenantId);
    progress(
      `${set.name}: ${ingestion.chunks} chunks in ${ingestion.seconds} s; vector weight ` +
        `${calibration.vectorWeight ?? "default"}; querying`,
    );
    const retrieval = await evaluateRetrieval(runtime, tenantId, set, options.limit, workers);
    const report: EvalReport = {
      dataset: set.name,
      split: options.split,
      embedder: runtime.embedder.model,
      answerer: `${runtime.answerer.name}:${runtime.answerer.model}`,
      ingestion,
      calibration,
      retrieval,
    };
    if (qa) {
      progress(`${set.name}: asking ${qa.length} questions`);
      report.answers = await evaluateAnswers(runtime, tenant, qa);
    }
    if (options.outOfScope) {
      progress(`${set.name}: asking the questions of ${options.outOfScope}`);
      report.outOfScope = await evaluateOutOfScope(
        runtime,
        tenant,
        options.outOfScope,
        options.limit,
      );
      if (!report.answers) {
        // The abstention rate means little without the in-scope answer rate beside it.
        const inScope = inScopeQuestions(options.dataset, set, options.limit);
        report.answers = await evaluateAnswers(runtime, tenant, inScope);
      }
    }
    return report;
  } finally {
    if (runtime) await closeRuntime(runtime);
    if (!options.indexDir) fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The product calibrates a tenant after ingestion; the eval waits for it, and times it. */
async function calibrate(runtime: Runtime, tenantId: TenantId): Promise<CalibrationReport> {
  const started = performance.now();
  const calibration = await runtime.calibration.run(tenantId);
  const weights = fusionWeights(runtime.tenants.get(tenantId));
  return {
    vectorWeight: calibration?.vectorWeight ?? null,
    keywordWeight: Math.round(weights.keywordWeight * 1000) / 1000,
    pseudoQueries: calibration?.pseudoQueries ?? 0,
    seconds: Math.round((performance.now() - started) / 100) / 10,
  };
}

/** In-scope questions for the answer rate: qa.jsonl when present, else the judged queries. */
function inScopeQuestions(folder: string, set: BeirSet, limit: number | undefined): QaItem[] {
  if (fs.existsSync(path.join(folder, "qa.jsonl"))) return loadQa(folder).slice(0, limit);
  return [...set.qrels]
    .slice(0, limit)
    .map(([queryId, judgements]) => ({
      id: queryId,
      question: set.queries.get(queryId)?.text ?? "",
      answers: [],
      goldDocumentIds: [...judgements].filter(([, grade]) => grade > 0).map(([id]) => id),
    }))
    .filter((item) => item.question !== "");
}
