// Data access for one tenant's website crawls (tenant migration 10): the crawl rows, the pages
// each crawl found and what became of them, and the progress figures derived from them and
// from the ingestion jobs the fetched pages became. Synchronous calls on a handle from store.ts.
import type { TenantDb } from "./store.ts";

export type CrawlState = "running" | "done" | "failed" | "cancelled";
export type CrawlMode = "sitemap" | "links";
export type Recrawl = "off" | "daily" | "weekly";
export type CrawlPageState = "found" | "fetched" | "skipped" | "failed";

export interface CrawlRow {
  id: number;
  url: string;
  state: CrawlState;
  mode: CrawlMode | null;
  maxPages: number;
  maxDepth: number;
  recrawl: Recrawl;
  nextRunAt: number | null;
  error: string | null;
  note: string | null;
  startedAt: number;
  finishedAt: number | null;
}

export interface CrawlPage {
  id: number;
  crawlId: number;
  url: string;
  depth: number;
  state: CrawlPageState;
  reason: string | null;
  contentHash: string | null;
  jobId: number | null;
}

/** What an admin sees of a crawl (the contract of issue 6, plus a few extra figures). */
export interface CrawlProgress {
  id: number;
  url: string;
  state: CrawlState;
  /** Distinct pages discovered (within the page limit). */
  pagesFound: number;
  /** Pages fetched and handed to ingestion. */
  pagesFetched: number;
  /** Of those, pages whose ingestion job has finished (indexed, or unchanged since last time). */
  pagesIndexed: number;
  /** Pages whose fetch is settled (fetched, skipped or failed): the fetching phase's progress. */
  pagesProcessed: number;
  failures: { url: string; reason: string }[];
  /** Pages left out on purpose (duplicates): not failures. */
  skipped: { url: string; reason: string }[];
  startedAt: number;
  finishedAt: number | null;
  recrawl: Recrawl;
  nextRunAt: number | null;
  maxPages: number;
  maxDepth: number;
  note: string | null;
  error: string | null;
}

interface CrawlRecord {
  id: number;
  url: string;
  state: CrawlState;
  mode: CrawlMode | null;
  max_pages: number;
  max_depth: number;
  recrawl: Recrawl;
  next_run_at: number | null;
  error: string | null;
  note: string | null;
  started_at: number;
  finished_at: number | null;
}

const CRAWL_COLUMNS = `id, url, state, mode, max_pages, max_depth, recrawl, next_run_at, error, note,
  started_at, finished_at`;

const toCrawl = (row: CrawlRecord): CrawlRow => ({
  id: row.id,
  url: row.url,
  state: row.state,
  mode: row.mode,
  maxPages: row.max_pages,
  maxDepth: row.max_depth,
  recrawl: row.recrawl,
  nextRunAt: row.next_run_at,
  error: row.error,
  note: row.note,
  startedAt: row.started_at,
  finishedAt: row.finished_at,
});

export function insertCrawl(
  db: TenantDb,
  input: { url: string; maxPages: number; maxDepth: number; recrawl: Recrawl; now: number },
): number {
  const result = db
    .prepare(
      `INSERT INTO crawls (url, state, max_pages, max_depth, recrawl, started_at, created_at, updated_at)
       VALUES (@url, 'running', @maxPages, @maxDepth, @recrawl, @now, @now, @now)`,
    )
    .run(input);
  return Number(result.lastInsertRowid);
}

export function getCrawlRow(db: TenantDb, id: number): CrawlRow | undefined {
  const row = db.prepare(`SELECT ${CRAWL_COLUMNS} FROM crawls WHERE id = ?`).get(id) as
    CrawlRecord | undefined;
  return row && toCrawl(row);
}

export function findCrawlByUrl(db: TenantDb, url: string): CrawlRow | undefined {
  const row = db
    .prepare(`SELECT ${CRAWL_COLUMNS} FROM crawls WHERE url = ? ORDER BY id DESC LIMIT 1`)
    .get(url) as CrawlRecord | undefined;
  return row && toCrawl(row);
}

export function listCrawlRows(db: TenantDb, limit = 50): CrawlRow[] {
  const rows = db
    .prepare(`SELECT ${CRAWL_COLUMNS} FROM crawls ORDER BY id DESC LIMIT ?`)
    .all(limit) as CrawlRecord[];
  return rows.map(toCrawl);
}

export function runningCrawlIds(db: TenantDb): number[] {
  return (
    db.prepare("SELECT id FROM crawls WHERE state = 'running' ORDER BY id").all() as {
      id: number;
    }[]
  ).map((row) => row.id);
}

/** Crawls whose scheduled re-crawl is due (not running, recrawl on, next_run_at passed). */
export function dueRecrawlIds(db: TenantDb, now: number): number[] {
  return (
    db
      .prepare(
        `SELECT id FROM crawls WHERE state <> 'running' AND recrawl <> 'off'
           AND next_run_at IS NOT NULL AND next_run_at <= ? ORDER BY id`,
      )
      .all(now) as { id: number }[]
  ).map((row) => row.id);
}

/** The earliest scheduled re-crawl of the tenant, if any. */
export function nextRecrawlAt(db: TenantDb): number | undefined {
  const row = db
    .prepare(
      `SELECT min(next_run_at) AS due FROM crawls
       WHERE state <> 'running' AND recrawl <> 'off' AND next_run_at IS NOT NULL`,
    )
    .get() as { due: number | null };
  return row.due ?? undefined;
}

/** Starts a crawl over: its pages are forgotten and it runs again with these settings. */
export function restartCrawl(
  db: TenantDb,
  id: number,
  input: { maxPages: number; maxDepth: number; recrawl: Recrawl; now: number },
): void {
  db.transaction(() => {
    db.prepare("DELETE FROM crawl_pages WHERE crawl_id = ?").run(id);
    db.prepare(
      `UPDATE crawls SET state = 'running', mode = NULL, max_pages = @maxPages,
         max_depth = @maxDepth, recrawl = @recrawl, next_run_at = NULL, error = NULL, note = NULL,
         started_at = @now, finished_at = NULL, updated_at = @now
       WHERE id = @id`,
    ).run({ id, ...input });
  })();
}

export function setCrawlMode(db: TenantDb, id: number, mode: CrawlMode, now: number): void {
  db.prepare("UPDATE crawls SET mode = ?, updated_at = ? WHERE id = ?").run(mode, now, id);
}

export function setCrawlNote(db: TenantDb, id: number, note: string, now: number): void {
  db.prepare("UPDATE crawls SET note = ?, updated_at = ? WHERE id = ?").run(note, now, id);
}

/**
 * Ends a running crawl. A finished crawl with a schedule gets its next run time. Returns false
 * when the crawl was not running any more (cancelled meanwhile).
 */
export function finishCrawl(
  db: TenantDb,
  id: number,
  outcome: { state: "done" | "failed" | "cancelled"; error?: string; nextRunAt?: number | null },
  now: number,
): boolean {
  return (
    db
      .prepare(
        `UPDATE crawls SET state = @state, error = @error, finished_at = @now, updated_at = @now,
           next_run_at = @nextRunAt
         WHERE id = @id AND state = 'running'`,
      )
      .run({
        id,
        state: outcome.state,
        error: outcome.error ?? null,
        nextRunAt: outcome.nextRunAt ?? null,
        now,
      }).changes === 1
  );
}

export function setRecrawl(
  db: TenantDb,
  id: number,
  recrawl: Recrawl,
  nextRunAt: number | null,
  now: number,
): boolean {
  return (
    db
      .prepare("UPDATE crawls SET recrawl = ?, next_run_at = ?, updated_at = ? WHERE id = ?")
      .run(recrawl, nextRunAt, now, id).changes === 1
  );
}

export function deleteCrawl(db: TenantDb, id: number): boolean {
  return db.prepare("DELETE FROM crawls WHERE id = ? AND state <> 'running'").run(id).changes === 1;
}

// --- pages --------------------------------------------------------------------------------

interface PageRecord {
  id: number;
  crawl_id: number;
  url: string;
  depth: number;
  state: CrawlPageState;
  reason: string | null;
  content_hash: string | null;
  job_id: number | null;
}

const toPage = (row: PageRecord): CrawlPage => ({
  id: row.id,
  crawlId: row.crawl_id,
  url: row.url,
  depth: row.depth,
  state: row.state,
  reason: row.reason,
  contentHash: row.content_hash,
  jobId: row.job_id,
});

export function countPages(db: TenantDb, crawlId: number): number {
  return (
    db.prepare("SELECT count(*) AS n FROM crawl_pages WHERE crawl_id = ?").get(crawlId) as {
      n: number;
    }
  ).n;
}

/** Records a page found; false when the crawl already knows it. */
export function addPage(
  db: TenantDb,
  crawlId: number,
  page: { url: string; depth: number; state?: CrawlPageState; reason?: string },
  now: number,
): boolean {
  return (
    db
      .prepare(
        `INSERT INTO crawl_pages (crawl_id, url, depth, state, reason, updated_at)
         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (crawl_id, url) DO NOTHING`,
      )
      .run(crawlId, page.url, page.depth, page.state ?? "found", page.reason ?? null, now)
      .changes === 1
  );
}

export function hasPage(db: TenantDb, crawlId: number, url: string): boolean {
  return (
    db.prepare("SELECT 1 FROM crawl_pages WHERE crawl_id = ? AND url = ?").get(crawlId, url) !==
    undefined
  );
}

/** The next page to fetch: breadth first (shallowest, then oldest). */
export function nextFoundPage(db: TenantDb, crawlId: number): CrawlPage | undefined {
  const row = db
    .prepare(
      `SELECT * FROM crawl_pages WHERE crawl_id = ? AND state = 'found'
       ORDER BY depth, id LIMIT 1`,
    )
    .get(crawlId) as PageRecord | undefined;
  return row && toPage(row);
}

/** A page of this crawl already fetched with this content, if any. */
export function pageWithHash(db: TenantDb, crawlId: number, hash: string): CrawlPage | undefined {
  const row = db
    .prepare(
      `SELECT * FROM crawl_pages WHERE crawl_id = ? AND content_hash = ? AND state = 'fetched'
       LIMIT 1`,
    )
    .get(crawlId, hash) as PageRecord | undefined;
  return row && toPage(row);
}

export function settlePage(
  db: TenantDb,
  pageId: number,
  result: {
    state: Exclude<CrawlPageState, "found">;
    reason?: string;
    contentHash?: string;
    jobId?: number;
  },
  now: number,
): void {
  db.prepare(
    `UPDATE crawl_pages SET state = @state, reason = @reason, content_hash = @contentHash,
       job_id = @jobId, updated_at = @now WHERE id = @id`,
  ).run({
    id: pageId,
    state: result.state,
    reason: result.reason ?? null,
    contentHash: result.contentHash ?? null,
    jobId: result.jobId ?? null,
    now,
  });
}

export function listPages(db: TenantDb, crawlId: number): CrawlPage[] {
  return (
    db
      .prepare("SELECT * FROM crawl_pages WHERE crawl_id = ? ORDER BY id")
      .all(crawlId) as PageRecord[]
  ).map(toPage);
}

// --- progress -----------------------------------------------------------------------------

const MAX_LISTED = 100;

/**
 * A crawl's figures. A crawl whose fetching has ended is still reported running while the
 * ingestion jobs of its pages are unfinished, and finishes when the last of them does.
 */
export function crawlProgress(db: TenantDb, crawl: CrawlRow): CrawlProgress {
  const counts = db
    .prepare(
      `SELECT count(*) AS found,
         count(*) FILTER (WHERE p.state = 'fetched') AS fetched,
         count(*) FILTER (WHERE p.state <> 'found') AS processed,
         count(*) FILTER (WHERE p.state = 'fetched' AND (j.state = 'done' OR
           (p.job_id IS NOT NULL AND j.id IS NULL))) AS indexed,
         count(*) FILTER (WHERE p.state = 'fetched' AND j.state IN ('queued', 'running')) AS pending,
         max(j.updated_at) AS lastJobAt
       FROM crawl_pages p LEFT JOIN ingest_jobs j ON j.id = p.job_id
       WHERE p.crawl_id = ?`,
    )
    .get(crawl.id) as {
    found: number;
    fetched: number;
    processed: number;
    indexed: number;
    pending: number;
    lastJobAt: number | null;
  };
  const failures = db
    .prepare(
      `SELECT p.url, CASE WHEN p.state = 'failed' THEN p.reason
         ELSE 'Indexing failed: ' || coalesce(j.error, 'unknown error') END AS reason
       FROM crawl_pages p LEFT JOIN ingest_jobs j ON j.id = p.job_id
       WHERE p.crawl_id = ? AND (p.state = 'failed' OR (p.state = 'fetched' AND j.state = 'failed'))
       ORDER BY p.id LIMIT ?`,
    )
    .all(crawl.id, MAX_LISTED) as { url: string; reason: string }[];
  const skipped = db
    .prepare(
      `SELECT url, coalesce(reason, '') AS reason FROM crawl_pages
       WHERE crawl_id = ? AND state = 'skipped' ORDER BY id LIMIT ?`,
    )
    .all(crawl.id, MAX_LISTED) as { url: string; reason: string }[];
  const indexing = crawl.state === "done" && counts.pending > 0;
  return {
    id: crawl.id,
    url: crawl.url,
    state: indexing ? "running" : crawl.state,
    pagesFound: counts.found,
    pagesFetched: counts.fetched,
    pagesIndexed: counts.indexed,
    pagesProcessed: counts.processed,
    failures,
    skipped,
    startedAt: crawl.startedAt,
    finishedAt: indexing
      ? null
      : crawl.finishedAt === null
        ? null
        : Math.max(crawl.finishedAt, counts.lastJobAt ?? 0),
    recrawl: crawl.recrawl,
    nextRunAt: crawl.nextRunAt,
    maxPages: crawl.maxPages,
    maxDepth: crawl.maxDepth,
    note: crawl.note,
    error: crawl.error,
  };
}
