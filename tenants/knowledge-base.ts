// Data access for one tenant's knowledge base: documents, their chunks (kept in step across
// the `chunks` table, the contentless FTS5 index `chunks_fts` and the vec0 table
// `chunks_vec`) and the persisted ingestion jobs. Synchronous better-sqlite3 calls on a
// handle from store.ts; every multi-table write is one transaction, so a crash leaves either
// the old or the new version of a document, never a mix.
import { statement } from "./statements.ts";
import { hasVectorCopy, type TenantDb } from "./store.ts";

export type SourceType = "file" | "text" | "url";
export type DocumentOutcome = "created" | "replaced" | "unchanged";
export type JobState = "queued" | "running" | "done" | "failed";
export type JobStage = "fetch" | "parse" | "chunk" | "embed" | "index";

export interface DocumentRow {
  id: number;
  sourceKey: string;
  sourceType: SourceType;
  title: string;
  url: string | null;
  fileName: string | null;
  mimeType: string | null;
  contentHash: string;
  bytes: number;
  chunkCount: number;
  createdAt: number;
  updatedAt: number;
}

/** A chunk ready to index; structurally the chunker's `Chunk` plus its embedding. */
export interface IndexedChunk {
  ord: number;
  headingPath: string;
  text: string;
  tokenCount: number;
  embedding: Float32Array;
  /** The chunk's title and headings embedded on their own (see migration "chunk_context_vectors"). */
  contextEmbedding?: Float32Array;
}

export interface ReplaceDocumentInput {
  sourceKey: string;
  sourceType: SourceType;
  title: string;
  url?: string | null;
  fileName?: string | null;
  mimeType?: string | null;
  contentHash: string;
  bytes: number;
  chunks: readonly IndexedChunk[];
  now?: number;
}

export interface IngestJob {
  id: number;
  sourceType: SourceType;
  sourceKey: string;
  title: string;
  fileName: string | null;
  mimeType: string | null;
  url: string | null;
  state: JobState;
  stage: JobStage | null;
  progressDone: number;
  progressTotal: number;
  attempts: number;
  maxAttempts: number;
  nextRunAt: number;
  leaseOwner: string | null;
  leaseUntil: number | null;
  error: string | null;
  documentId: number | null;
  outcome: DocumentOutcome | null;
  createdAt: number;
  updatedAt: number;
}

/** A job as handed to a worker: with the uploaded bytes (null for URL jobs). */
export interface ClaimedJob extends IngestJob {
  payload: Uint8Array | null;
}

export interface EnqueueJobInput {
  sourceType: SourceType;
  sourceKey: string;
  title: string;
  fileName?: string | null;
  mimeType?: string | null;
  url?: string | null;
  payload?: Uint8Array | null;
  maxAttempts: number;
  now: number;
}

// --- row mapping --------------------------------------------------------------------------

interface DocumentRecord {
  id: number;
  source_key: string;
  source_type: SourceType;
  title: string;
  url: string | null;
  file_name: string | null;
  mime_type: string | null;
  content_hash: string;
  bytes: number;
  chunk_count: number;
  created_at: number;
  updated_at: number;
}

const toDocument = (row: DocumentRecord): DocumentRow => ({
  id: row.id,
  sourceKey: row.source_key,
  sourceType: row.source_type,
  title: row.title,
  url: row.url,
  fileName: row.file_name,
  mimeType: row.mime_type,
  contentHash: row.content_hash,
  bytes: row.bytes,
  chunkCount: row.chunk_count,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

interface JobRecord {
  id: number;
  source_type: SourceType;
  source_key: string;
  title: string;
  file_name: string | null;
  mime_type: string | null;
  url: string | null;
  payload?: Buffer | null;
  state: JobState;
  stage: JobStage | null;
  progress_done: number;
  progress_total: number;
  attempts: number;
  max_attempts: number;
  next_run_at: number;
  lease_owner: string | null;
  lease_until: number | null;
  error: string | null;
  document_id: number | null;
  outcome: DocumentOutcome | null;
  created_at: number;
  updated_at: number;
}

const toJob = (row: JobRecord): IngestJob => ({
  id: row.id,
  sourceType: row.source_type,
  sourceKey: row.source_key,
  title: row.title,
  fileName: row.file_name,
  mimeType: row.mime_type,
  url: row.url,
  state: row.state,
  stage: row.stage,
  progressDone: row.progress_done,
  progressTotal: row.progress_total,
  attempts: row.attempts,
  maxAttempts: row.max_attempts,
  nextRunAt: row.next_run_at,
  leaseOwner: row.lease_owner,
  leaseUntil: row.lease_until,
  error: row.error,
  documentId: row.document_id,
  outcome: row.outcome,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

// The payload can be megabytes; listings never read it.
const JOB_COLUMNS = `id, source_type, source_key, title, file_name, mime_type, url, state, stage,
  progress_done, progress_total, attempts, max_attempts, next_run_at, lease_owner, lease_until,
  error, document_id, outcome, created_at, updated_at`;

// vec0 and FTS5 rowids must be bound as SQLite integers; better-sqlite3 binds numbers as REAL.
const rowid = (id: number | bigint) => BigInt(id);

function vectorBlob(embedding: Float32Array): Buffer {
  return Buffer.from(embedding.buffer, embedding.byteOffset, embedding.byteLength);
}

// --- documents ----------------------------------------------------------------------------

export function findDocumentBySourceKey(db: TenantDb, sourceKey: string): DocumentRow | undefined {
  const row = db.prepare("SELECT * FROM documents WHERE source_key = ?").get(sourceKey) as
    DocumentRecord | undefined;
  return row && toDocument(row);
}

export function getDocument(db: TenantDb, id: number): DocumentRow | undefined {
  const row = db.prepare("SELECT * FROM documents WHERE id = ?").get(id) as
    DocumentRecord | undefined;
  return row && toDocument(row);
}

/** Newest first. */
export function listDocuments(db: TenantDb): DocumentRow[] {
  const rows = db
    .prepare("SELECT * FROM documents ORDER BY updated_at DESC, id DESC")
    .all() as DocumentRecord[];
  return rows.map(toDocument);
}

export function countChunks(db: TenantDb): number {
  return (db.prepare("SELECT count(*) AS n FROM chunks").get() as { n: number }).n;
}

/** The tokens of every chunk, summed. */
export function totalChunkTokens(db: TenantDb): number {
  return (
    db.prepare("SELECT coalesce(sum(token_count), 0) AS n FROM chunks").get() as { n: number }
  ).n;
}

/** Every chunk's text, a document's chunks together and in order; read lazily. */
export function chunkTextsByDocument(
  db: TenantDb,
): IterableIterator<{ document_id: number; text: string }> {
  return db
    .prepare("SELECT document_id, text FROM chunks ORDER BY document_id, ord")
    .iterate() as IterableIterator<{ document_id: number; text: string }>;
}

export interface KnowledgeSummary {
  documents: number;
  chunks: number;
  /** Words in the indexed text (chunks overlap a little, so slightly more than the sources). */
  words: number;
}

/** What the knowledge base holds, in numbers a person can check against what they added. */
export function knowledgeSummary(db: TenantDb): KnowledgeSummary {
  return db
    .prepare(
      `SELECT (SELECT count(*) FROM documents) AS documents, count(*) AS chunks,
         coalesce(sum(length(trim(text)) - length(replace(trim(text), ' ', '')) + 1), 0) AS words
       FROM chunks WHERE trim(text) <> ''`,
    )
    .get() as KnowledgeSummary;
}

export function countDocuments(db: TenantDb): number {
  return (db.prepare("SELECT count(*) AS n FROM documents").get() as { n: number }).n;
}

/** What a tenant stores, against its plan's storage quotas (limits/storage-quota.server.ts). */
export interface StorageUsage {
  documents: number;
  chunks: number;
  /** UTF-8 bytes of the chunks' text. */
  textBytes: number;
  /** Jobs queued or running: documents that may be added. */
  pendingJobs: number;
}

export function storageUsage(db: TenantDb): StorageUsage {
  const documents = (db.prepare("SELECT count(*) AS n FROM documents").get() as { n: number }).n;
  const chunks = db
    .prepare(
      "SELECT count(*) AS n, coalesce(sum(length(CAST(text AS BLOB))), 0) AS bytes FROM chunks",
    )
    .get() as { n: number; bytes: number };
  const pending = db
    .prepare("SELECT count(*) AS n FROM ingest_jobs WHERE state IN ('queued', 'running')")
    .get() as { n: number };
  return { documents, chunks: chunks.n, textBytes: chunks.bytes, pendingJobs: pending.n };
}

/** Removes a document's chunks from the table, the FTS index and the vector index. */
function deleteChunksOf(db: TenantDb, documentId: number): void {
  const ids = db
    .prepare("SELECT id FROM chunks WHERE document_id = ?")
    .pluck()
    .all(documentId) as number[];
  const deleteFts = db.prepare("DELETE FROM chunks_fts WHERE rowid = ?");
  const deleteVec = db.prepare("DELETE FROM chunks_vec WHERE chunk_id = ?");
  for (const id of ids) {
    deleteFts.run(rowid(id));
    deleteVec.run(rowid(id));
  }
  // chunk_vectors and chunk_context_vectors rows go with their chunks (ON DELETE CASCADE).
  db.prepare("DELETE FROM chunks WHERE document_id = ?").run(documentId);
  db.prepare("DELETE FROM documents_fts WHERE rowid = ?").run(rowid(documentId));
}

/**
 * Stores a document and its chunks in one transaction. The same source with the same content
 * hash is left untouched ('unchanged'); otherwise the old chunks go from all three places
 * before the new ones are written, and the document keeps its id and creation time.
 */
export function replaceDocument(
  db: TenantDb,
  input: ReplaceDocumentInput,
): { documentId: number; outcome: DocumentOutcome } {
  const now = input.now ?? Date.now();
  return db.transaction(() => {
    const existing = findDocumentBySourceKey(db, input.sourceKey);
    if (existing && existing.contentHash === input.contentHash) {
      return { documentId: existing.id, outcome: "unchanged" as const };
    }
    const fields = {
      sourceKey: input.sourceKey,
      sourceType: input.sourceType,
      title: input.title,
      url: input.url ?? null,
      fileName: input.fileName ?? null,
      mimeType: input.mimeType ?? null,
      contentHash: input.contentHash,
      bytes: input.bytes,
      chunkCount: input.chunks.length,
      now,
    };
    let documentId: number;
    if (existing) {
      deleteChunksOf(db, existing.id);
      db.prepare(
        `UPDATE documents SET source_type = @sourceType, title = @title, url = @url,
           file_name = @fileName, mime_type = @mimeType, content_hash = @contentHash,
           bytes = @bytes, chunk_count = @chunkCount, updated_at = @now
         WHERE id = @id`,
      ).run({ ...fields, id: existing.id });
      documentId = existing.id;
    } else {
      const result = db
        .prepare(
          `INSERT INTO documents (source_key, source_type, title, url, file_name, mime_type,
             content_hash, bytes, chunk_count, created_at, updated_at)
           VALUES (@sourceKey, @sourceType, @title, @url, @fileName, @mimeType,
             @contentHash, @bytes, @chunkCount, @now, @now)`,
        )
        .run(fields);
      documentId = Number(result.lastInsertRowid);
    }
    const insertChunk = db.prepare(
      `INSERT INTO chunks (document_id, ord, heading_path, text, token_count)
       VALUES (?, ?, ?, ?, ?)`,
    );
    const insertFts = db.prepare(
      "INSERT INTO chunks_fts (rowid, title, heading, body) VALUES (?, ?, ?, ?)",
    );
    const insertVec = db.prepare("INSERT INTO chunks_vec (chunk_id, embedding) VALUES (?, ?)");
    const insertCopy = hasVectorCopy(db)
      ? db.prepare("INSERT INTO chunk_vectors (chunk_id, embedding) VALUES (?, ?)")
      : undefined;
    const insertContext = db.prepare(
      "INSERT INTO chunk_context_vectors (chunk_id, embedding) VALUES (?, ?)",
    );
    for (const chunk of input.chunks) {
      const chunkId = insertChunk.run(
        documentId,
        chunk.ord,
        chunk.headingPath,
        chunk.text,
        chunk.tokenCount,
      ).lastInsertRowid;
      insertFts.run(rowid(chunkId), input.title, chunk.headingPath, chunk.text);
      const blob = vectorBlob(chunk.embedding);
      insertVec.run(rowid(chunkId), blob);
      insertCopy?.run(chunkId, blob);
      if (chunk.contextEmbedding) insertContext.run(chunkId, vectorBlob(chunk.contextEmbedding));
    }
    // The document as one keyword row (tenant migration 12, decision 035).
    db.prepare("INSERT INTO documents_fts (rowid, title, heading, body) VALUES (?, ?, ?, ?)").run(
      rowid(documentId),
      input.title,
      [...new Set(input.chunks.map((chunk) => chunk.headingPath).filter((h) => h !== ""))]
        .sort()
        .join(" "),
      input.chunks.map((chunk) => chunk.text).join(" "),
    );
    return { documentId, outcome: existing ? ("replaced" as const) : ("created" as const) };
  })();
}

/** Deletes a document and its chunks everywhere; false when there was no such document. */
export function deleteDocument(db: TenantDb, id: number): boolean {
  return db.transaction(() => {
    if (!getDocument(db, id)) return false;
    deleteChunksOf(db, id);
    db.prepare("DELETE FROM documents WHERE id = ?").run(id);
    return true;
  })();
}

// --- ingestion jobs -----------------------------------------------------------------------

export function enqueueJob(db: TenantDb, input: EnqueueJobInput): number {
  if (!Number.isInteger(input.maxAttempts) || input.maxAttempts < 1) {
    throw new RangeError("maxAttempts must be a positive integer");
  }
  const result = db
    .prepare(
      `INSERT INTO ingest_jobs (source_type, source_key, title, file_name, mime_type, url, payload,
         state, max_attempts, next_run_at, created_at, updated_at)
       VALUES (@sourceType, @sourceKey, @title, @fileName, @mimeType, @url, @payload,
         'queued', @maxAttempts, @now, @now, @now)`,
    )
    .run({
      sourceType: input.sourceType,
      sourceKey: input.sourceKey,
      title: input.title,
      fileName: input.fileName ?? null,
      mimeType: input.mimeType ?? null,
      url: input.url ?? null,
      payload: input.payload
        ? Buffer.from(input.payload.buffer, input.payload.byteOffset, input.payload.byteLength)
        : null,
      maxAttempts: input.maxAttempts,
      now: input.now,
    });
  return Number(result.lastInsertRowid);
}

// A job waits while an older job for the same source is unfinished, so versions of one
// document are indexed in the order they were submitted and never by two workers at once.
// Each kind of runnable job is looked up on its own so SQLite walks `ingest_jobs_runnable` in
// order and stops at the first job that may run; one query with an OR sorted every pending
// job on each claim, and checking the older versions of each scanned the whole table, which
// made a 5,000-document upload quadratic (tenant migration 8 indexes `source_key`).
const NO_OLDER_VERSION = `NOT EXISTS (
    SELECT 1 FROM ingest_jobs o
    WHERE o.source_key = j.source_key AND o.id < j.id AND o.state IN ('queued', 'running')
  )`;
const DUE_QUEUED = `j.state = 'queued' AND j.next_run_at <= @now AND ${NO_OLDER_VERSION}`;
const LAPSED_RUNNING = `j.state = 'running' AND j.lease_until < @now AND ${NO_OLDER_VERSION}`;
const RUNNABLE_COLUMNS = "j.id, j.state, j.attempts, j.max_attempts, j.next_run_at";

interface RunnableCandidate {
  id: number;
  state: JobState;
  attempts: number;
  max_attempts: number;
  next_run_at: number;
}

/** The runnable job first in line (earliest due, then oldest), or undefined. */
function nextRunnable(db: TenantDb, now: number): RunnableCandidate | undefined {
  const queued = db
    .prepare(
      `SELECT ${RUNNABLE_COLUMNS} FROM ingest_jobs j WHERE ${DUE_QUEUED}
       ORDER BY j.next_run_at, j.id LIMIT 1`,
    )
    .get({ now }) as RunnableCandidate | undefined;
  const lapsed = db
    .prepare(
      `SELECT ${RUNNABLE_COLUMNS} FROM ingest_jobs j WHERE ${LAPSED_RUNNING}
       ORDER BY j.next_run_at, j.id LIMIT 1`,
    )
    .get({ now }) as RunnableCandidate | undefined;
  if (!queued || !lapsed) return queued ?? lapsed;
  const queuedFirst =
    queued.next_run_at < lapsed.next_run_at ||
    (queued.next_run_at === lapsed.next_run_at && queued.id < lapsed.id);
  return queuedFirst ? queued : lapsed;
}

/**
 * Claims the next runnable job for `owner`: a queued job that is due, or a running job whose
 * lease has run out (its worker died). Each claim is an attempt; a job whose workers keep
 * dying is failed once it has used all its attempts rather than crash-looping forever.
 */
export function claimNextJob(
  db: TenantDb,
  owner: string,
  leaseMs: number,
  now: number,
): ClaimedJob | undefined {
  const giveUp = db.prepare(
    `UPDATE ingest_jobs SET state = 'failed', payload = NULL, lease_owner = NULL, lease_until = NULL,
       error = @error, updated_at = @now WHERE id = @id`,
  );
  const claim = db.prepare(
    `UPDATE ingest_jobs SET state = 'running', lease_owner = @owner, lease_until = @leaseUntil,
       attempts = attempts + 1, stage = NULL, progress_done = 0, progress_total = 0, updated_at = @now
     WHERE id = @id RETURNING *`,
  );
  return db
    .transaction(() => {
      for (;;) {
        const candidate = nextRunnable(db, now);
        if (!candidate) return undefined;
        if (candidate.state === "running" && candidate.attempts >= candidate.max_attempts) {
          giveUp.run({
            id: candidate.id,
            now,
            error: `The worker stopped while processing this document ${candidate.attempts} time(s); giving up.`,
          });
          continue;
        }
        const row = claim.get({
          id: candidate.id,
          owner,
          leaseUntil: now + leaseMs,
          now,
        }) as JobRecord;
        return { ...toJob(row), payload: row.payload ? new Uint8Array(row.payload) : null };
      }
    })
    .immediate();
}

/** Extends the lease of a job this owner still holds; false when the lease was lost. */
export function renewLease(
  db: TenantDb,
  id: number,
  owner: string,
  leaseMs: number,
  now: number,
): boolean {
  return (
    db
      .prepare(
        `UPDATE ingest_jobs SET lease_until = @leaseUntil, updated_at = @now
         WHERE id = @id AND lease_owner = @owner AND state = 'running'`,
      )
      .run({ id, owner, leaseUntil: now + leaseMs, now }).changes === 1
  );
}

/** Records the stage and progress of an owned job and renews its lease; false when not owned. */
export function updateJobProgress(
  db: TenantDb,
  id: number,
  owner: string,
  progress: { stage: JobStage; done: number; total: number },
  leaseMs: number,
  now: number,
): boolean {
  return (
    db
      .prepare(
        `UPDATE ingest_jobs SET stage = @stage, progress_done = @done, progress_total = @total,
           lease_until = @leaseUntil, updated_at = @now
         WHERE id = @id AND lease_owner = @owner AND state = 'running'`,
      )
      .run({ id, owner, ...progress, leaseUntil: now + leaseMs, now }).changes === 1
  );
}

/** Marks an owned job done and drops its payload; false when the job is no longer owned. */
export function completeJob(
  db: TenantDb,
  id: number,
  owner: string,
  result: { documentId: number; outcome: DocumentOutcome },
  now: number = Date.now(),
): boolean {
  return (
    db
      .prepare(
        `UPDATE ingest_jobs SET state = 'done', payload = NULL, lease_owner = NULL, lease_until = NULL,
           progress_done = progress_total,
           error = NULL, document_id = @documentId, outcome = @outcome, updated_at = @now
         WHERE id = @id AND lease_owner = @owner AND state = 'running'`,
      )
      .run({ id, owner, ...result, now }).changes === 1
  );
}

/**
 * Records a failed attempt of an owned job. With `retryAt` and attempts left the job is queued
 * again for that time; otherwise (a permanent error, or no attempts left) it is failed for
 * good and its payload dropped. Returns the job's new state, or undefined when not owned.
 */
export function failJob(
  db: TenantDb,
  id: number,
  owner: string,
  error: string,
  options: { retryAt?: number } = {},
  now: number = Date.now(),
): "queued" | "failed" | undefined {
  const row = db
    .prepare(
      `UPDATE ingest_jobs SET
         state = CASE WHEN @retryAt IS NOT NULL AND attempts < max_attempts THEN 'queued' ELSE 'failed' END,
         next_run_at = CASE WHEN @retryAt IS NOT NULL AND attempts < max_attempts THEN @retryAt ELSE next_run_at END,
         payload = CASE WHEN @retryAt IS NOT NULL AND attempts < max_attempts THEN payload ELSE NULL END,
         lease_owner = NULL, lease_until = NULL, error = @error, updated_at = @now
       WHERE id = @id AND lease_owner = @owner AND state = 'running'
       RETURNING state`,
    )
    .get({ id, owner, error, retryAt: options.retryAt ?? null, now }) as
    { state: "queued" | "failed" } | undefined;
  return row?.state;
}

/** Newest first, without payloads. */
export function listJobs(db: TenantDb, options: { limit: number }): IngestJob[] {
  const rows = db
    .prepare(`SELECT ${JOB_COLUMNS} FROM ingest_jobs ORDER BY id DESC LIMIT ?`)
    .all(Math.max(0, Math.floor(options.limit))) as JobRecord[];
  return rows.map(toJob);
}

export function getJob(db: TenantDb, id: number): IngestJob | undefined {
  const row = db.prepare(`SELECT ${JOB_COLUMNS} FROM ingest_jobs WHERE id = ?`).get(id) as
    JobRecord | undefined;
  return row && toJob(row);
}

/** Whether claimNextJob would find a job right now. */
export function hasRunnableJobs(db: TenantDb, now: number): boolean {
  return nextRunnable(db, now) !== undefined;
}

/** Whether any job is unfinished (queued, possibly for later, or running). */
export function hasPendingJobs(db: TenantDb): boolean {
  return (
    db.prepare("SELECT 1 FROM ingest_jobs WHERE state IN ('queued', 'running') LIMIT 1").get() !==
    undefined
  );
}

export function countPendingJobs(db: TenantDb): number {
  return (
    db
      .prepare("SELECT count(*) AS n FROM ingest_jobs WHERE state IN ('queued', 'running')")
      .get() as { n: number }
  ).n;
}

/** A source whose latest ingestion job failed. */
export interface FailedSourceJob {
  id: number;
  title: string;
  source_key: string;
  error: string | null;
  /** The source's document still indexed from an earlier version, if any. */
  document_id: number | null;
}

/** The sources whose latest job failed, oldest job first. */
export function latestFailedJobs(db: TenantDb): FailedSourceJob[] {
  return db
    .prepare(
      `SELECT j.id, j.title, j.source_key, j.error,
         (SELECT d.id FROM documents d WHERE d.source_key = j.source_key) AS document_id
       FROM ingest_jobs j
       WHERE j.state = 'failed'
         AND j.id = (SELECT max(o.id) FROM ingest_jobs o WHERE o.source_key = j.source_key)
       ORDER BY j.id`,
    )
    .all() as FailedSourceJob[];
}

/**
 * The earliest time a job could become runnable (a retry coming due or a lease running out),
 * or undefined when nothing is pending. Lets a worker sleep until then instead of polling.
 */
export function nextJobDueAt(db: TenantDb): number | undefined {
  const row = db
    .prepare(
      `SELECT min(CASE state WHEN 'queued' THEN next_run_at ELSE lease_until END) AS due
       FROM ingest_jobs WHERE state IN ('queued', 'running')`,
    )
    .get() as { due: number | null };
  return row.due ?? undefined;
}

const VERSION_SQL = "SELECT value FROM meta WHERE key = 'kb_version'";

/**
 * The tenant's knowledge-base version: SQL triggers (tenants/migrations.ts, migration 3) bump
 * it on every change to the documents or to a setting kept in `meta`, in whichever process
 * or replica the change is made.
 */
export function knowledgeBaseVersion(db: TenantDb): string {
  const row = statement(db, VERSION_SQL).get() as { value: string } | undefined;
  return row?.value ?? "0";
}
