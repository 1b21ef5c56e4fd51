// The ingestion worker: an in-process queue over the jobs persisted in each tenant's database.
// It claims jobs under a lease, runs fetch → parse → chunk → embed → index, and records the
// outcome. Indexing is one transaction at the very end, so a worker killed mid-job leaves no
// partial document; its lease runs out and the job is claimed again and redone. It touches
// tenant databases only through the handles `openTenant` gives it, and the network only to
// fetch URL sources (http/https, public addresses unless allowPrivateNetwork is set).
import { createHash, randomUUID } from "node:crypto";
import dns from "node:dns";
import http from "node:http";
import https from "node:https";
import type net from "node:net";
import os from "node:os";
import path from "node:path";
import type { Readable } from "node:stream";
import zlib from "node:zlib";
import type { TenantId } from "#tenants/id.ts";
import {
  claimNextJob,
  completeJob,
  enqueueJob,
  failJob,
  findDocumentBySourceKey,
  hasPendingJobs,
  hasRunnableJobs,
  nextJobDueAt,
  renewLease,
  replaceDocument,
  updateJobProgress,
  type ClaimedJob,
  type DocumentOutcome,
  type IndexedChunk,
  type JobStage,
  type JobState,
  type SourceType,
} from "#tenants/knowledge-base.ts";
import { type TenantDb, TenantUnavailableError } from "#tenants/store.ts";
import type { EmbeddingProvider } from "../embeddings/provider.server.ts";
import type { Logger } from "../logger.server.ts";
import { metrics } from "../metrics.server.ts";
import { outsideRequest } from "../request-context.server.ts";
import { traceStages } from "../observability/tracing.server.ts";
import { chunkDocument, type Chunk, type ChunkOptions } from "./chunk.server.ts";
import {
  EmptyDocumentError,
  parseDocument,
  UnsupportedDocumentError,
  type ParsedDocument,
} from "./parse.server.ts";
import { isPrivateAddress } from "./private-address.server.ts";

export interface IngestQueueDeps {
  openTenant: (id: TenantId) => TenantDb;
  /** Tenants whose databases may hold unfinished jobs (read at start and on every poll). */
  tenantsWithPendingJobs: () => TenantId[];
  /** Told when a tenant has no unfinished job left. */
  markTenantIdle?: (id: TenantId) => void;
  embedder: EmbeddingProvider;
  logger: Logger;
  /** Jobs processed at once, across all tenants. */
  concurrency: number;
  leaseMs: number;
  pollMs: number;
  retryBaseMs: number;
  chunking: ChunkOptions;
  fetchTimeoutMs: number;
  maxFetchBytes: number;
  /** Attempts per job unless enqueue says otherwise (default 3). */
  maxAttempts?: number;
  /** Texts per embed call; progress is recorded after each (default 32). */
  embedBatchSize?: number;
  /** How long stop() waits for running jobs (default: the lease, at most 10 s). */
  stopTimeoutMs?: number;
  /** Let URL jobs reach loopback and private networks (tests, single-user installs). */
  allowPrivateNetwork?: boolean;
  now?: () => number;
  owner?: string;
  /** Source of jitter for retry delays, in [0, 1). */
  random?: () => number;
}

export interface EnqueueInput {
  sourceType: SourceType;
  /** Identity of the document; defaults to sourceKeyFor(input). */
  sourceKey?: string;
  title?: string;
  fileName?: string;
  mimeType?: string;
  url?: string;
  payload?: Uint8Array;
  maxAttempts?: number;
}

export interface IngestProgressEvent {
  tenantId: TenantId;
  jobId: number;
  state: JobState;
  stage: JobStage | null;
  done: number;
  total: number;
  documentId?: number;
  outcome?: DocumentOutcome;
  error?: string;
}

/** The request to enqueue is malformed (e.g. a URL job without an http(s) URL). */
export class IngestInputError extends Error {
  override name = "IngestInputError";
}

/** Fetching a URL source failed; `permanent` when retrying cannot help. */
export class FetchError extends Error {
  override name = "FetchError";
  constructor(
    message: string,
    readonly permanent: boolean,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** This worker no longer holds the job's lease; another worker has it. */
class LeaseLostError extends Error {
  override name = "LeaseLostError";
}

/** stop() gave up waiting; the job is left for its lease to expire. */
class AbandonedError extends Error {
  override name = "AbandonedError";
}

// --- identity and hashing -----------------------------------------------------------------

function normaliseUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new IngestInputError(`Not a valid URL: ${url}`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new IngestInputError("Only http and https URLs can be added.");
  }
  parsed.hash = "";
  return parsed.href;
}

/**
 * The identity of a source: adding the same file name, URL or titled text again replaces the
 * earlier version instead of duplicating it.
 */
export function sourceKeyFor(input: {
  sourceType: SourceType;
  fileName?: string;
  url?: string;
  title?: string;
  payload?: Uint8Array;
}): string {
  switch (input.sourceType) {
    case "url":
      return `url:${normaliseUrl(input.url ?? "")}`;
    case "file":
      if (!input.fileName) throw new IngestInputError("A file needs a file name.");
      return `file:${input.fileName}`;
    case "text": {
      const title = input.title?.trim();
      if (title) return `text:${title}`;
      return `text:${createHash("sha256")
        .update(input.payload ?? new Uint8Array())
        .digest("hex")
        .slice(0, 16)}`;
    }
  }
}

/**
 * Identifies what would be indexed: the title, the parsed text with its structure, and the
 * chunking settings (so changing CHUNK_MAX_TOKENS re-chunks a document on its next ingest).
 */
export function contentHash(title: string, doc: ParsedDocument, chunking: ChunkOptions): string {
  const canonical = JSON.stringify({
    v: 1,
    title,
    chunking: [chunking.maxTokens, chunking.overlapTokens],
    blocks: doc.blocks.map((block) => [block.kind, block.headingPath, block.text]),
  });
  return createHash("sha256").update(canonical).digest("hex");
}

/** What the embedder sees: the chunk under its document title and headings. */
export function embeddingText(title: string, chunk: Pick<Chunk, "headingPath" | "text">): string {
  const context =
    chunk.headingPath === title || chunk.headingPath.startsWith(`${title} > `)
      ? chunk.headingPath
      : [title, chunk.headingPath].filter(Boolean).join(" > ");
  return context ? `${context}\n\n${chunk.text}` : chunk.text;
}

/** The chunk's place in its document, "Title > Heading", embedded as a vector of its own. */
export function contextText(title: string, chunk: Pick<Chunk, "headingPath">): string {
  const context = embeddingText(title, { headingPath: chunk.headingPath, text: "" }).trim();
  return context || title || chunk.headingPath;
}

// --- fetching URL sources -----------------------------------------------------------------

// Which literal addresses are private: private-address.server.ts (re-exported for callers).
export { isPrivateAddress };

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | dns.LookupAddress[],
  family?: number,
) => void;

/**
 * DNS lookup that refuses private addresses. Checking the address actually connected to (not
 * a separate resolution beforehand) is what defeats DNS rebinding.
 */
export function publicOnlyLookup(
  hostname: string,
  options: dns.LookupOptions,
  callback: LookupCallback,
): void {
  dns.lookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) return callback(error, []);
    const blocked = addresses.find((entry) => isPrivateAddress(entry.address));
    if (blocked) {
      return callback(
        new FetchError(
          `${hostname} resolves to a private network address (${blocked.address}).`,
          true,
        ),
        [],
      );
    }
    if (options.all) return callback(null, addresses);
    const first = addresses[0] as dns.LookupAddress;
    callback(null, first.address, first.family);
  });
}

export interface FetchedSource {
  bytes: Uint8Array;
  /** The Content-Type header, parameters included. */
  contentType?: string;
  finalUrl: string;
}

export interface FetchOptions {
  timeoutMs: number;
  maxBytes: number;
  allowPrivateNetwork?: boolean;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;

function decoded(response: http.IncomingMessage): Readable {
  switch ((response.headers["content-encoding"] ?? "").trim().toLowerCase()) {
    case "gzip":
    case "x-gzip":
      return response.pipe(zlib.createGunzip());
    case "deflate":
      return response.pipe(zlib.createInflate());
    case "br":
      return response.pipe(zlib.createBrotliDecompress());
    default:
      return response;
  }
}

function request(
  url: URL,
  signal: AbortSignal,
  allowPrivate: boolean,
): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const client = url.protocol === "https:" ? https : http;
    const req = client.request(url, {
      method: "GET",
      signal,
      lookup: allowPrivate ? undefined : (publicOnlyLookup as unknown as net.LookupFunction),
      headers: {
        "user-agent": "BiTB-Ingest/1.0",
        accept:
          "text/html,application/xhtml+xml,application/pdf,text/markdown,text/plain;q=0.9,*/*;q=0.5",
        "accept-encoding": "gzip, deflate, br",
      },
    });
    req.on("response", resolve);
    req.on("error", reject);
    req.end();
  });
}

/**
 * GETs a document with a deadline for the whole exchange, a size limit on the decoded body
 * and at most five redirects. Non-2xx answers are FetchErrors (4xx other than 408 and 429
 * are permanent); so are URLs that are not http(s) or that point into a private network.
 */
export async function fetchSource(url: string, options: FetchOptions): Promise<FetchedSource> {
  const signal = AbortSignal.timeout(options.timeoutMs);
  const allowPrivate = options.allowPrivateNetwork ?? false;
  let current = new URL(normaliseUrl(url));
  try {
    for (let redirects = 0; ; redirects++) {
      if (current.protocol !== "http:" && current.protocol !== "https:") {
        throw new FetchError(`${url} redirected to a non-http URL.`, true);
      }
      // Literal addresses never reach the DNS lookup, so they are checked here.
      const host = current.hostname.replace(/^\[|\]$/g, "");
      if (!allowPrivate && isPrivateAddress(host)) {
        throw new FetchError(`${current.host} is a private network address.`, true);
      }
      const response = await request(current, signal, allowPrivate);
      const status = response.statusCode ?? 0;
      const location = response.headers.location;
      if (REDIRECTS.has(status) && location) {
        response.resume();
        if (redirects >= MAX_REDIRECTS)
          throw new FetchError(`${url} redirected too many times.`, true);
        current = new URL(location, current);
        continue;
      }
      if (status < 200 || status > 299) {
        response.resume();
        const permanent = status >= 400 && status < 500 && status !== 408 && status !== 429;
        const reason = response.statusMessage ? ` ${response.statusMessage}` : "";
        throw new FetchError(
          `${current.href} answered HTTP ${status}${reason}.`,
          permanent,
          status,
        );
      }
      const declared = Number(response.headers["content-length"]);
      if (Number.isFinite(declared) && declared > options.maxBytes) {
        response.destroy();
        throw new FetchError(
          `${current.href} is larger than the ${options.maxBytes}-byte limit.`,
          true,
        );
      }
      const parts: Buffer[] = [];
      let size = 0;
      for await (const part of decoded(response)) {
        size += (part as Buffer).length;
        // Counted after decompression, so a small compressed bomb cannot fill memory.
        if (size > options.maxBytes) {
          response.destroy();
          throw new FetchError(
            `${current.href} is larger than the ${options.maxBytes}-byte limit.`,
            true,
          );
        }
        parts.push(part as Buffer);
      }
      return {
        bytes: new Uint8Array(Buffer.concat(parts)),
        contentType: response.headers["content-type"],
        finalUrl: current.href,
      };
    }
  } catch (error) {
    if (error instanceof FetchError) throw error;
    if (signal.aborted)
      throw new FetchError(`${url} did not answer within ${options.timeoutMs} ms.`, false);
    const cause = (error as { cause?: unknown }).cause;
    if (cause instanceof FetchError) throw cause;
    throw new FetchError(
      `Could not fetch ${url}: ${error instanceof Error ? error.message : String(error)}`,
      false,
    );
  }
}

// --- the queue ----------------------------------------------------------------------------

interface RunningJob {
  tenantId: TenantId;
  jobId: number;
  promise: Promise<void>;
  abandoned: boolean;
  leaseLost: boolean;
}

const MAX_ERROR_CHARS = 500;

function isPermanent(error: unknown): boolean {
  return (
    error instanceof UnsupportedDocumentError ||
    error instanceof EmptyDocumentError ||
    error instanceof IngestInputError ||
    (error instanceof FetchError && error.permanent)
  );
}

function describe(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.length > MAX_ERROR_CHARS ? `${message.slice(0, MAX_ERROR_CHARS - 1)}…` : message;
}

function delay(ms: number): { promise: Promise<void>; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
    timer.unref();
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

export class IngestQueue {
  readonly owner: string;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly known = new Set<TenantId>();
  private readonly running = new Map<string, RunningJob>();
  private readonly listeners = new Set<(event: IngestProgressEvent) => void>();
  private started = false;
  private timer: NodeJS.Timeout | undefined;
  private cursor = 0;
  private lastRefresh = -Infinity;

  constructor(private readonly deps: IngestQueueDeps) {
    if (!Number.isInteger(deps.concurrency) || deps.concurrency < 1) {
      throw new RangeError("concurrency must be a positive integer");
    }
    this.owner = deps.owner ?? `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.now = deps.now ?? Date.now;
    this.random = deps.random ?? Math.random;
  }

  /** Jobs this worker is processing right now. */
  get activeJobs(): number {
    return this.running.size;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.lastRefresh = -Infinity;
    this.wake();
  }

  /**
   * Stops claiming jobs and waits (a bounded time) for running ones. Jobs still running then
   * are abandoned at their next step without recording anything: their leases run out and a
   * restarted worker claims and redoes them.
   */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    const jobs = [...this.running.values()];
    if (jobs.length === 0) return;
    const bound = this.deps.stopTimeoutMs ?? Math.min(this.deps.leaseMs, 10_000);
    const timeout = delay(bound);
    const settled = Promise.allSettled(jobs.map((job) => job.promise)).then(() => true);
    const finished = await Promise.race([settled, timeout.promise.then(() => false)]);
    timeout.cancel();
    if (!finished) {
      for (const job of jobs) job.abandoned = true;
      this.deps.logger.warn(
        { jobs: jobs.length },
        "ingest stop timed out; running jobs left for reclaim",
      );
    }
  }

  /**
   * Stops working for a tenant whose database is going away (erasure): it is no longer
   * polled, and its running jobs are abandoned at their next step without recording anything.
   */
  forgetTenant(tenantId: TenantId): void {
    this.known.delete(tenantId);
    for (const job of this.running.values()) {
      if (job.tenantId === tenantId) job.abandoned = true;
    }
  }

  /** Persists a job in the tenant's database and wakes the worker; returns the job id. */
  enqueue(tenantId: TenantId, input: EnqueueInput): number {
    if (input.sourceType === "url") {
      if (!input.url) throw new IngestInputError("A URL job needs a url.");
      normaliseUrl(input.url);
    } else if (!input.payload) {
      throw new IngestInputError(`A ${input.sourceType} job needs its content.`);
    }
    const sourceKey = input.sourceKey ?? sourceKeyFor(input);
    const title = input.title?.trim() || input.fileName || input.url || "Untitled document";
    const jobId = enqueueJob(this.deps.openTenant(tenantId), {
      sourceType: input.sourceType,
      sourceKey,
      title,
      fileName: input.fileName,
      mimeType: input.mimeType,
      url: input.url,
      payload: input.payload,
      maxAttempts: input.maxAttempts ?? this.deps.maxAttempts ?? 3,
      now: this.now(),
    });
    this.known.add(tenantId);
    this.emit({ tenantId, jobId, state: "queued", stage: null, done: 0, total: 0 });
    this.wake();
    return jobId;
  }

  /** Subscribes to job progress; returns the unsubscribe function. */
  onProgress(listener: (event: IngestProgressEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Resolves once no job of the tenant (or of any known tenant) is runnable or running here.
   * Jobs waiting for a retry later do not count. For tests and command-line tools.
   */
  async drain(tenantId?: TenantId): Promise<void> {
    if (!this.started) throw new Error("start() the ingest queue before draining it");
    for (;;) {
      this.wake();
      // A ref'd timer: whoever awaits the drain (the CLI) must not exit half way through it,
      // while the queue's own timers stay unref'd.
      await new Promise((resolve) => setTimeout(resolve, 10));
      if (!this.started) throw new Error("the ingest queue was stopped while draining");
      const busy = [...this.running.values()].some((job) => !tenantId || job.tenantId === tenantId);
      if (busy) continue;
      const tenants = tenantId ? [tenantId] : [...this.known];
      if (tenants.every((id) => !hasRunnableJobs(this.deps.openTenant(id), this.now()))) return;
    }
  }

  private emit(event: IngestProgressEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.deps.logger.error({ err: error }, "ingest progress listener failed");
      }
    }
  }

  private wake(): void {
    if (!this.started) return;
    clearTimeout(this.timer);
    // The pump (and every job it starts) must not inherit the request that woke it.
    this.timer = outsideRequest(() => setTimeout(() => this.pump(), 0));
  }

  private refreshTenants(now: number): void {
    if (now - this.lastRefresh < this.deps.pollMs) return;
    this.lastRefresh = now;
    try {
      for (const id of this.deps.tenantsWithPendingJobs()) this.known.add(id);
    } catch (error) {
      this.deps.logger.error({ err: error }, "listing tenants with pending ingest jobs failed");
    }
  }

  /** Claims jobs up to the concurrency limit, then sleeps until the next poll or due time. */
  private pump(): void {
    this.timer = undefined;
    if (!this.started) return;
    this.refreshTenants(this.now());
    while (this.running.size < this.deps.concurrency) {
      const claimed = this.claimAny();
      if (!claimed) break;
      this.launch(claimed.tenantId, claimed.job);
    }
    let sleep = this.deps.pollMs;
    if (this.running.size < this.deps.concurrency) {
      for (const id of this.known) {
        const due = this.dueAt(id);
        if (due !== undefined) sleep = Math.min(sleep, Math.max(1, due - this.now() + 1));
      }
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.pump(), sleep);
    this.timer.unref();
  }

  private dueAt(id: TenantId): number | undefined {
    try {
      return nextJobDueAt(this.deps.openTenant(id));
    } catch {
      return undefined;
    }
  }

  /** Round-robin over tenants, so one tenant's backlog does not starve the others. */
  private claimAny(): { tenantId: TenantId; job: ClaimedJob } | undefined {
    const tenants = [...this.known];
    for (let step = 0; step < tenants.length; step++) {
      const index = (this.cursor + step) % tenants.length;
      const tenantId = tenants[index] as TenantId;
      let db: TenantDb;
      try {
        db = this.deps.openTenant(tenantId);
      } catch (error) {
        if (error instanceof TenantUnavailableError) {
          // Logged once by the pool; its jobs stay pending for when its file is restored.
          this.known.delete(tenantId);
          continue;
        }
        this.deps.logger.error({ err: error, tenantId }, "cannot open tenant for ingestion");
        this.forget(tenantId);
        continue;
      }
      const job = claimNextJob(db, this.owner, this.deps.leaseMs, this.now());
      if (job) {
        this.cursor = index + 1;
        return { tenantId, job };
      }
      if (!hasPendingJobs(db)) this.forget(tenantId);
    }
    return undefined;
  }

  private forget(tenantId: TenantId): void {
    this.known.delete(tenantId);
    try {
      this.deps.markTenantIdle?.(tenantId);
    } catch (error) {
      this.deps.logger.error({ err: error, tenantId }, "marking tenant idle failed");
    }
  }

  private launch(tenantId: TenantId, job: ClaimedJob): void {
    const key = `${tenantId}:${job.id}`;
    const entry: RunningJob = {
      tenantId,
      jobId: job.id,
      abandoned: false,
      leaseLost: false,
      promise: Promise.resolve(),
    };
    entry.promise = this.process(entry, job)
      .catch((error) =>
        this.deps.logger.error({ err: error, tenantId, jobId: job.id }, "ingest job crashed"),
      )
      .finally(() => {
        this.running.delete(key);
        this.wake();
      });
    this.running.set(key, entry);
  }

  private retryDelay(attempt: number): number {
    const base = this.deps.retryBaseMs * 2 ** Math.max(0, attempt - 1);
    // ±25% jitter keeps many jobs that failed together from retrying in lockstep.
    return Math.round(base * (0.75 + this.random() * 0.5));
  }

  private async process(entry: RunningJob, job: ClaimedJob): Promise<void> {
    const { tenantId } = entry;
    const { deps, owner } = this;
    const db = () => deps.openTenant(tenantId);
    const started = this.now();
    const log = deps.logger.child({ tenantId, jobId: job.id, attempt: job.attempts });
    // Spans: ingest.job with one child per stage (fetch, parse, chunk, embed, index).
    const jobTrace = traceStages("ingest.job", {
      "bitb.tenant_id": tenantId,
      "bitb.job_id": job.id,
      "bitb.source_type": job.sourceType,
      "bitb.attempt": job.attempts,
    });
    let failure: unknown = null;
    const checkpoint = () => {
      if (entry.leaseLost) throw new LeaseLostError("lease lost");
      if (entry.abandoned) throw new AbandonedError("abandoned at stop");
    };
    const progress = (stage: JobStage, done: number, total: number) => {
      checkpoint();
      jobTrace.stage(stage);
      if (
        !updateJobProgress(db(), job.id, owner, { stage, done, total }, deps.leaseMs, this.now())
      ) {
        entry.leaseLost = true;
        checkpoint();
      }
      this.emit({ tenantId, jobId: job.id, state: "running", stage, done, total });
    };
    // Long single steps (a slow fetch, a big PDF) must not let the lease lapse.
    const heartbeat = setInterval(
      () => {
        try {
          if (!renewLease(db(), job.id, owner, deps.leaseMs, this.now())) entry.leaseLost = true;
        } catch (error) {
          log.warn({ err: error }, "renewing ingest lease failed");
        }
      },
      Math.max(10, Math.floor(deps.leaseMs / 3)),
    );
    heartbeat.unref();

    try {
      progress("fetch", 0, 0);
      let bytes: Uint8Array;
      let mimeType = job.mimeType ?? undefined;
      let fileName = job.fileName ?? undefined;
      if (job.sourceType === "url") {
        // A crawled page arrives with the bytes the crawler fetched (decision 029).
        const fetched = job.payload
          ? { bytes: job.payload, contentType: job.mimeType ?? undefined, finalUrl: job.url ?? "" }
          : await fetchSource(job.url ?? "", {
              timeoutMs: deps.fetchTimeoutMs,
              maxBytes: deps.maxFetchBytes,
              allowPrivateNetwork: deps.allowPrivateNetwork,
            });
        bytes = fetched.bytes;
        mimeType = fetched.contentType;
        // The Content-Type decides the parser; the URL's file name only helps when it says nothing.
        const essence = mimeType?.split(";")[0]?.trim().toLowerCase();
        const pathName = decodeURIComponent(
          path.posix.basename(new URL(fetched.finalUrl).pathname),
        );
        fileName =
          !essence || essence === "application/octet-stream" ? pathName || undefined : undefined;
      } else {
        if (!job.payload) throw new IngestInputError("The job has no content to ingest.");
        bytes = job.payload;
      }

      progress("parse", 0, 0);
      const parsed = await parseDocument({ bytes, fileName, mimeType, kind: job.sourceType });
      // Pasted text is titled by the person who pasted it; files and pages by their content.
      const title = job.sourceType === "text" && job.title.trim() ? job.title.trim() : parsed.title;

      progress("chunk", 0, 0);
      const chunks = chunkDocument(parsed, deps.chunking);
      if (chunks.length === 0) throw new EmptyDocumentError("The document contains no text.");
      const hash = contentHash(title, parsed, deps.chunking);
      const existing = findDocumentBySourceKey(db(), job.sourceKey);
      if (existing && existing.contentHash === hash) {
        this.finish(
          entry,
          job,
          { documentId: existing.id, outcome: "unchanged" },
          chunks.length,
          log,
          started,
        );
        return;
      }

      const batchSize = Math.max(1, deps.embedBatchSize ?? 32);
      const indexed: IndexedChunk[] = [];
      // Titles and headings are embedded on their own too (a few short texts per document);
      // they go with the first batch, since the encoder runs short texts together cheaply and
      // one call costs less than two (decision 033).
      const contexts = [...new Set(chunks.map((chunk) => contextText(title, chunk)))].filter(
        Boolean,
      );
      const byContext = new Map<string, Float32Array>();
      progress("embed", 0, chunks.length);
      for (let offset = 0; offset < chunks.length; offset += batchSize) {
        const batch = chunks.slice(offset, offset + batchSize);
        const extra = offset === 0 ? contexts : [];
        const vectors = await deps.embedder.embed(
          [...batch.map((chunk) => embeddingText(title, chunk)), ...extra],
          "document",
        );
        if (
          vectors.length !== batch.length + extra.length ||
          vectors.some((v) => v.length !== deps.embedder.dimension)
        ) {
          throw new Error(
            `The embedding provider returned ${vectors.length} vector(s) for ${batch.length + extra.length} text(s) ` +
              `or vectors of the wrong dimension (expected ${deps.embedder.dimension}).`,
          );
        }
        batch.forEach((chunk, index) =>
          indexed.push({ ...chunk, embedding: vectors[index] as Float32Array }),
        );
        extra.forEach((text, index) =>
          byContext.set(text, vectors[batch.length + index] as Float32Array),
        );
        progress("embed", indexed.length, chunks.length);
      }
      for (const chunk of indexed)
        chunk.contextEmbedding = byContext.get(contextText(title, chunk));

      progress("index", chunks.length, chunks.length);
      const handle = db();
      // The document and the job's completion commit together: a crash leaves neither.
      const result = handle.transaction(() => {
        if (!renewLease(handle, job.id, owner, deps.leaseMs, this.now()))
          throw new LeaseLostError("lease lost");
        const stored = replaceDocument(handle, {
          sourceKey: job.sourceKey,
          sourceType: job.sourceType,
          title,
          url: job.url,
          fileName: job.fileName,
          mimeType: mimeType?.split(";")[0]?.trim() || null,
          contentHash: hash,
          bytes: bytes.byteLength,
          chunks: indexed,
          now: this.now(),
        });
        completeJob(handle, job.id, owner, stored, this.now());
        return stored;
      })();
      this.announceDone(entry, job, result, chunks.length, log, started);
    } catch (error) {
      failure = error;
      this.handleFailure(entry, job, error, log);
    } finally {
      clearInterval(heartbeat);
      jobTrace.end(failure);
    }
  }

  private finish(
    entry: RunningJob,
    job: ClaimedJob,
    result: { documentId: number; outcome: DocumentOutcome },
    chunkCount: number,
    log: Logger,
    started: number,
  ): void {
    if (
      !completeJob(this.deps.openTenant(entry.tenantId), job.id, this.owner, result, this.now())
    ) {
      throw new LeaseLostError("lease lost");
    }
    this.announceDone(entry, job, result, chunkCount, log, started);
  }

  private announceDone(
    entry: RunningJob,
    job: ClaimedJob,
    result: { documentId: number; outcome: DocumentOutcome },
    chunkCount: number,
    log: Logger,
    started: number,
  ): void {
    const ms = this.now() - started;
    log.info({ ...result, chunks: chunkCount, ms }, "ingest job done");
    const state = result.outcome === "unchanged" ? "unchanged" : "done";
    metrics.ingestJobs.inc({ state });
    metrics.ingestJobDuration.observe({ state }, ms / 1000);
    if (state === "done") metrics.ingestChunks.inc(chunkCount);
    this.emit({
      tenantId: entry.tenantId,
      jobId: job.id,
      state: "done",
      stage: null,
      done: chunkCount,
      total: chunkCount,
      ...result,
    });
  }

  private handleFailure(entry: RunningJob, job: ClaimedJob, error: unknown, log: Logger): void {
    if (error instanceof LeaseLostError) {
      log.warn("ingest job lease lost to another worker; dropping this attempt");
      return;
    }
    if (error instanceof AbandonedError) {
      log.info("ingest job abandoned at shutdown; it will be reclaimed");
      return;
    }
    const permanent = isPermanent(error);
    const message = describe(error);
    const retryAt = permanent ? undefined : this.now() + this.retryDelay(job.attempts);
    let state: "queued" | "failed" | undefined;
    try {
      state = failJob(
        this.deps.openTenant(entry.tenantId),
        job.id,
        this.owner,
        message,
        { retryAt },
        this.now(),
      );
    } catch (recordError) {
      log.error({ err: recordError }, "recording an ingest failure failed");
      return;
    }
    if (!state) {
      log.warn("ingest job failed after its lease was lost; another worker owns it");
      return;
    }
    metrics.ingestJobs.inc({ state: state === "failed" ? "failed" : "retry" });
    const level = state === "failed" ? "warn" : "info";
    log[level](
      { err: error, permanent, state, retryAt: state === "queued" ? retryAt : undefined },
      "ingest job failed",
    );
    this.emit({
      tenantId: entry.tenantId,
      jobId: job.id,
      state,
      stage: null,
      done: 0,
      total: 0,
      error: message,
    });
  }
}
