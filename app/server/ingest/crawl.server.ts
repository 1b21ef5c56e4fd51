// Website crawls (docs/decisions/029): given a site's URL, read its robots.txt, then its
// sitemaps or — without one — follow same-origin links breadth first, within page and depth
// limits, and hand each page fetched to the ingestion queue as a `url` job carrying the
// fetched bytes. Every step is persisted in the tenant's database (tenant migration 10), so a
// crawl resumes after a restart; crawls run on the primary only, like the queue (decision 004).
// The network is reached only through the ingestion's guarded fetchSource.
import { createHash } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { parseHTML } from "linkedom";
import { z } from "zod";
import {
  addPage,
  countPages,
  crawlProgress,
  dueRecrawlIds,
  finishCrawl,
  findCrawlByUrl,
  getCrawlRow,
  hasPage,
  insertCrawl,
  listCrawlRows,
  nextFoundPage,
  nextRecrawlAt,
  pageWithHash,
  restartCrawl,
  runningCrawlIds,
  setCrawlMode,
  setCrawlNote,
  setRecrawl,
  settlePage,
  type CrawlPage,
  type CrawlProgress,
  type CrawlRow,
  type Recrawl,
} from "#tenants/crawls.ts";
import { isTenantId, type TenantId } from "#tenants/id.ts";
import type { TenantDb } from "#tenants/store.ts";
import { deleteMeta, metaKeysDueBy, setMeta, type ControlDb } from "../control-db.server.ts";
import { ApiError } from "../errors.server.ts";
import type { Logger } from "../logger.server.ts";
import { assertStorageRoom, storageQuota } from "../limits/storage-quota.server.ts";
import { outsideRequest } from "../request-context.server.ts";
import type { CoreParts } from "../parts.server.ts";
import { enqueueIngest, onTenantErased } from "../tenancy/tenants.server.ts";
import { ALLOW_ALL, parseRobots, type RobotsRules } from "./crawl-robots.server.ts";
import {
  extractLinks,
  inSection,
  looksLikeNonPage,
  normaliseCrawlUrl,
  parseSitemap,
  sameOrigin,
} from "./crawl-urls.server.ts";
import {
  FetchError,
  fetchSource,
  type EnqueueInput,
  type FetchedSource,
  type IngestQueue,
} from "./queue.server.ts";

export type { CrawlProgress, Recrawl } from "#tenants/crawls.ts";

export const DEFAULT_MAX_PAGES = 50;
export const DEFAULT_MAX_DEPTH = 3;
const DAY_MS = 24 * 60 * 60 * 1000;
export const RECRAWL_INTERVAL_MS: Record<Exclude<Recrawl, "off">, number> = {
  daily: DAY_MS,
  weekly: 7 * DAY_MS,
};
/** robots.txt and sitemaps are small; a bigger one is cut off rather than read whole. */
const MAX_META_BYTES = 5 * 1024 * 1024;
/** Sitemap files read per crawl (an index and its children). */
const MAX_SITEMAPS = 20;
const MAX_REASON_CHARS = 300;

const recrawlSchema = z.enum(["off", "daily", "weekly"]);

/** POST /api/tenants/:id/crawls (the limits are checked against the server's caps later). */
export const crawlInputSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: "Give the website's http(s) address." }).max(2048),
  maxPages: z.number().int().min(1).max(100_000).optional(),
  maxDepth: z.number().int().min(0).max(50).optional(),
  recrawl: recrawlSchema.optional(),
});
export type CrawlInput = z.infer<typeof crawlInputSchema>;

/** PATCH /api/tenants/:id/crawls/:crawlId: the re-crawl schedule. */
export const crawlPatchSchema = z.strictObject({ recrawl: recrawlSchema });

type CrawlRuntime = Pick<CoreParts, "config" | "control" | "tenants"> & {
  queue: IngestQueue;
  crawler: Crawler;
};

// --- the tenants with crawl work, in the control database's meta table -------------------
// One key per tenant, `crawl:<tenantId>`, whose value is when something is next due there:
// 0 while a crawl runs (resume it after a restart), else the next scheduled re-crawl.

const KEY_PREFIX = "crawl:";

export function markCrawlTenant(control: ControlDb, tenantId: TenantId, dueAt: number): void {
  setMeta(control, `${KEY_PREFIX}${tenantId}`, String(dueAt));
}

function unmarkCrawlTenant(control: ControlDb, tenantId: TenantId): void {
  deleteMeta(control, `${KEY_PREFIX}${tenantId}`);
}

function dueCrawlTenants(control: ControlDb, now: number): TenantId[] {
  return metaKeysDueBy(control, KEY_PREFIX, now)
    .map((key) => key.slice(KEY_PREFIX.length))
    .filter(isTenantId) as TenantId[];
}

// --- the contract: start, list, get, cancel -----------------------------------------------

/**
 * Starts a crawl of a website (or runs again the tenant's earlier crawl of the same address,
 * with the new settings). A crawl already running for that address is a conflict.
 */
export async function startCrawl(
  runtime: CrawlRuntime,
  tenantId: TenantId,
  input: { url: string; maxPages?: number; maxDepth?: number; recrawl?: Recrawl },
): Promise<{ crawlId: number }> {
  const url = normaliseCrawlUrl(input.url);
  if (!url) throw new ApiError("validation_failed", "Give the website's http(s) address.");
  const cap = runtime.config.CRAWL_MAX_PAGES;
  const maxPages = input.maxPages ?? Math.min(DEFAULT_MAX_PAGES, cap);
  if (!Number.isInteger(maxPages) || maxPages < 1 || maxPages > cap) {
    throw new ApiError("validation_failed", `maxPages: choose between 1 and ${cap} pages.`);
  }
  const depthCap = runtime.config.CRAWL_MAX_DEPTH;
  const maxDepth = input.maxDepth ?? Math.min(DEFAULT_MAX_DEPTH, depthCap);
  if (!Number.isInteger(maxDepth) || maxDepth < 0 || maxDepth > depthCap) {
    throw new ApiError("validation_failed", `maxDepth: choose between 0 and ${depthCap}.`);
  }
  const recrawl = input.recrawl ?? "off";
  const db = runtime.tenants.get(tenantId);
  // A crawl adds pages as documents: refused at the plan's storage quota (decision 043).
  assertStorageRoom(storageQuota(runtime.control, db, tenantId), { documents: 1 });
  const now = Date.now();
  const settings = { maxPages, maxDepth, recrawl, now };
  const existing = findCrawlByUrl(db, url);
  let crawlId: number;
  if (existing?.state === "running") {
    throw new ApiError(
      "conflict",
      `${url} is being crawled already; wait for it to finish or cancel it first.`,
    );
  } else if (existing) {
    restartCrawl(db, existing.id, settings);
    crawlId = existing.id;
  } else {
    crawlId = insertCrawl(db, { url, ...settings });
  }
  markCrawlTenant(runtime.control, tenantId, 0);
  runtime.crawler.wake(tenantId, crawlId);
  return { crawlId };
}

export function listCrawls(db: TenantDb): CrawlProgress[] {
  return listCrawlRows(db).map((row) => crawlProgress(db, row));
}

export function getCrawl(db: TenantDb, id: number): CrawlProgress | undefined {
  const row = getCrawlRow(db, id);
  return row && crawlProgress(db, row);
}

/** Stops a running crawl (pages already fetched still get indexed); false when not running. */
export function cancelCrawl(db: TenantDb, id: number, now = Date.now()): boolean {
  return finishCrawl(db, id, { state: "cancelled", error: "Cancelled." }, now);
}

/** Turns a crawl's scheduled re-crawl on or off; false for an unknown crawl. */
export function scheduleRecrawl(
  runtime: Pick<CoreParts, "control" | "tenants">,
  tenantId: TenantId,
  id: number,
  recrawl: Recrawl,
  now = Date.now(),
): boolean {
  const db = runtime.tenants.get(tenantId);
  const crawl = getCrawlRow(db, id);
  if (!crawl) return false;
  const nextRunAt =
    recrawl === "off"
      ? null
      : crawl.state === "running"
        ? null
        : (crawl.finishedAt ?? now) + RECRAWL_INTERVAL_MS[recrawl];
  setRecrawl(db, id, recrawl, nextRunAt, now);
  if (nextRunAt !== null) markCrawlTenant(runtime.control, tenantId, Math.min(nextRunAt, now));
  return true;
}

// --- fetching -----------------------------------------------------------------------------

export interface CrawlerDeps {
  openTenant: (id: TenantId) => TenantDb;
  control: ControlDb;
  /** Queues an ingestion job (enqueueIngest). */
  enqueue: (tenantId: TenantId, input: EnqueueInput) => number;
  logger: Logger;
  fetchTimeoutMs: number;
  maxFetchBytes: number;
  allowPrivateNetwork: boolean;
  /** The cap on a site's Crawl-delay. */
  delayCapMs: number;
  /** How often due re-crawls are looked for. */
  scheduleCheckMs: number;
  now?: () => number;
  /** For tests: the fetcher (default fetchSource). */
  fetch?: typeof fetchSource;
}

type PageKind = "html" | "pdf";

function pageKind(contentType: string | undefined, url: string): PageKind | undefined {
  const essence = contentType?.split(";")[0]?.trim().toLowerCase() ?? "";
  if (essence === "text/html" || essence === "application/xhtml+xml") return "html";
  if (essence === "application/pdf") return "pdf";
  if ((essence === "" || essence === "application/octet-stream") && /\.pdf$/i.test(url))
    return "pdf";
  return undefined;
}

function clip(text: string): string {
  return text.length > MAX_REASON_CHARS ? `${text.slice(0, MAX_REASON_CHARS - 1)}…` : text;
}

/**
 * What an intranet crawl fails with: the setting that allows it, for the admin to pass on to
 * the server's operator (README, "Website crawls"; off by default, or tenants could probe the
 * server's own network).
 */
export const PRIVATE_NETWORK_REFUSED =
  "Refused: the address is on a private network. The server's operator can allow crawling " +
  "private addresses with INGEST_ALLOW_PRIVATE_URLS=true.";

/** A failure said the way an admin can act on it. */
export function failureReason(error: unknown, maxBytes: number): string {
  if (error instanceof FetchError) {
    if (error.status === 404 || error.status === 410)
      return `HTTP ${error.status}: the page does not exist (fix or remove the link).`;
    if (error.status === 401 || error.status === 403)
      return `HTTP ${error.status}: the site refused access (pages behind a login cannot be crawled).`;
    if (error.status !== undefined)
      return `HTTP ${error.status}: the site answered with an error; try again later.`;
    if (/larger than/.test(error.message))
      return `Too large: more than ${maxBytes} bytes (upload a smaller file instead).`;
    if (/did not answer within/.test(error.message))
      return "Timeout: the page did not answer in time; try again later.";
    if (/private network/.test(error.message)) return PRIVATE_NETWORK_REFUSED;
    return clip(error.message);
  }
  return clip(error instanceof Error ? error.message : String(error));
}

/** Reads an HTML page's robots meta tag: noindex keeps it out of the knowledge base. */
export function pageAsksNotToIndex(html: string): boolean {
  const { document } = parseHTML(html);
  const robots = document.querySelector('meta[name="robots" i]')?.getAttribute("content") ?? "";
  return /\bnoindex\b|\bnone\b/i.test(robots);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

/** The in-process crawler: runs each tenant's running crawls, and starts due re-crawls. */
export class Crawler {
  private readonly running = new Map<string, Promise<void>>();
  private controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private started = false;
  private unregisterErasure: (() => void) | undefined;
  private readonly now: () => number;
  private readonly fetcher: typeof fetchSource;

  constructor(private readonly deps: CrawlerDeps) {
    this.now = deps.now ?? Date.now;
    this.fetcher = deps.fetch ?? fetchSource;
  }

  get isStarted(): boolean {
    return this.started;
  }

  /** Crawls being run by this process now. */
  get activeCrawls(): number {
    return this.running.size;
  }

  /** Resumes the crawls a restart interrupted and starts the re-crawl schedule. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.controller = new AbortController();
    // An erased tenant leaves nothing behind in the registry, this key included.
    this.unregisterErasure = onTenantErased((id) => unmarkCrawlTenant(this.deps.control, id));
    this.tick();
  }

  /** Stops fetching; running crawls stay 'running' in their databases and resume on start. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    clearTimeout(this.timer);
    this.unregisterErasure?.();
    this.controller.abort();
    await Promise.allSettled([...this.running.values()]);
  }

  /** Runs a crawl now (after startCrawl); a no-op where the crawler is not started. */
  wake(tenantId: TenantId, crawlId: number): void {
    if (!this.started) return;
    const key = `${tenantId}:${crawlId}`;
    if (this.running.has(key)) return;
    const run = outsideRequest(() =>
      this.run(tenantId, crawlId)
        .catch((error: unknown) =>
          this.deps.logger.error({ err: error, tenantId, crawlId }, "crawl crashed"),
        )
        .finally(() => {
          this.running.delete(key);
          this.refreshMark(tenantId);
        }),
    );
    this.running.set(key, run);
  }

  /** Waits for the crawls running now (tests). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running.values()]);
  }

  /** Looks at every tenant with crawl work due: resumes running crawls, starts re-crawls. */
  tick(): void {
    if (!this.started) return;
    clearTimeout(this.timer);
    const now = this.now();
    try {
      for (const tenantId of dueCrawlTenants(this.deps.control, now)) {
        this.resumeTenant(tenantId, now);
      }
    } catch (error) {
      this.deps.logger.error({ err: error }, "looking for due crawls failed");
    }
    this.timer = setTimeout(() => this.tick(), this.deps.scheduleCheckMs);
    this.timer.unref();
  }

  private resumeTenant(tenantId: TenantId, now: number): void {
    let db: TenantDb;
    try {
      db = this.deps.openTenant(tenantId);
    } catch (error) {
      // A deleted tenant: forget it.
      this.deps.logger.warn({ err: error, tenantId }, "crawl tenant cannot be opened");
      unmarkCrawlTenant(this.deps.control, tenantId);
      return;
    }
    for (const id of dueRecrawlIds(db, now)) {
      const crawl = getCrawlRow(db, id);
      if (!crawl) continue;
      this.deps.logger.info({ tenantId, crawlId: id, url: crawl.url }, "scheduled re-crawl");
      restartCrawl(db, id, {
        maxPages: crawl.maxPages,
        maxDepth: crawl.maxDepth,
        recrawl: crawl.recrawl,
        now,
      });
    }
    for (const id of runningCrawlIds(db)) this.wake(tenantId, id);
    this.refreshMark(tenantId);
  }

  /** Records when the tenant next needs the crawler (or that it does not). */
  private refreshMark(tenantId: TenantId): void {
    try {
      const db = this.deps.openTenant(tenantId);
      if (runningCrawlIds(db).length > 0) return markCrawlTenant(this.deps.control, tenantId, 0);
      const next = nextRecrawlAt(db);
      if (next === undefined) unmarkCrawlTenant(this.deps.control, tenantId);
      else markCrawlTenant(this.deps.control, tenantId, next);
    } catch (error) {
      this.deps.logger.warn({ err: error, tenantId }, "recording crawl schedule failed");
    }
  }

  private async fetchText(url: string): Promise<FetchedSource> {
    return this.fetcher(url, {
      timeoutMs: this.deps.fetchTimeoutMs,
      maxBytes: Math.min(MAX_META_BYTES, this.deps.maxFetchBytes),
      allowPrivateNetwork: this.deps.allowPrivateNetwork,
    });
  }

  /** robots.txt: missing (4xx) allows everything; unreadable (5xx, network) stops the crawl. */
  private async loadRobots(siteUrl: string): Promise<RobotsRules> {
    const robotsUrl = new URL("/robots.txt", siteUrl).href;
    try {
      const fetched = await this.fetchText(robotsUrl);
      const text = new TextDecoder().decode(fetched.bytes);
      return parseRobots(robotsUrl, text, this.deps.delayCapMs);
    } catch (error) {
      if (error instanceof FetchError && error.status !== undefined && error.status < 500) {
        return ALLOW_ALL;
      }
      // Not a site that is down: a refusal that waiting will not change.
      if (error instanceof FetchError && /private network/.test(error.message)) {
        throw new Error(PRIVATE_NETWORK_REFUSED, { cause: error });
      }
      throw new Error(
        `robots.txt could not be read (${failureReason(error, this.deps.maxFetchBytes)}); ` +
          "the site may be down — try again later.",
        { cause: error },
      );
    }
  }

  /**
   * Pages listed by the site's sitemaps (robots.txt's, else /sitemap.xml) that lie in the
   * section the crawl was given (the whole site for a start page at the root).
   */
  private async readSitemaps(siteUrl: string, robots: RobotsRules, limit: number) {
    const pending = [...robots.sitemaps, new URL("/sitemap.xml", siteUrl).href]
      .map((url) => normaliseCrawlUrl(url))
      .filter((url): url is string => url !== undefined);
    const seen = new Set<string>();
    const pages: string[] = [];
    while (pending.length > 0 && seen.size < MAX_SITEMAPS && pages.length < limit) {
      const sitemapUrl = pending.shift() as string;
      if (seen.has(sitemapUrl)) continue;
      seen.add(sitemapUrl);
      let text: string;
      try {
        const fetched = await this.fetchText(sitemapUrl);
        let bytes = fetched.bytes;
        // A .xml.gz sitemap is served gzipped as a file, not as a Content-Encoding.
        if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
        text = new TextDecoder().decode(bytes);
      } catch (error) {
        this.deps.logger.info({ err: error, sitemapUrl }, "sitemap not read");
        continue;
      }
      const sitemap = parseSitemap(text, sitemapUrl);
      pending.push(...sitemap.sitemaps);
      for (const page of sitemap.pages) {
        if (inSection(page, siteUrl) && !pages.includes(page)) pages.push(page);
      }
    }
    return pages.slice(0, limit);
  }

  /** Finds the pages to fetch: the start page plus the sitemap's, or links from the start page. */
  private async discover(tenantId: TenantId, crawl: CrawlRow, robots: RobotsRules) {
    const db = this.deps.openTenant(tenantId);
    const now = this.now();
    addPage(db, crawl.id, { url: crawl.url, depth: 0 }, now);
    const listed = await this.readSitemaps(crawl.url, robots, crawl.maxPages * 2);
    const handle = this.deps.openTenant(tenantId);
    let added = countPages(handle, crawl.id);
    for (const url of listed) {
      if (added >= crawl.maxPages) {
        setCrawlNote(handle, crawl.id, pageLimitNote(crawl.maxPages), this.now());
        break;
      }
      // Listed, so the admin sees why it is not in the knowledge base; never fetched.
      const page = looksLikeNonPage(url)
        ? { url, depth: 1, state: "failed" as const, reason: NOT_A_PAGE_BY_NAME }
        : { url, depth: 1 };
      if (addPage(handle, crawl.id, page, this.now())) added++;
    }
    setCrawlMode(handle, crawl.id, listed.length > 0 ? "sitemap" : "links", this.now());
  }

  private async run(tenantId: TenantId, crawlId: number): Promise<void> {
    const signal = this.controller.signal;
    const db = () => this.deps.openTenant(tenantId);
    const log = this.deps.logger.child({ tenantId, crawlId });
    let crawl = getCrawlRow(db(), crawlId);
    if (!crawl || crawl.state !== "running") return;
    log.info({ url: crawl.url }, "crawl running");
    let robots: RobotsRules;
    try {
      robots = await this.loadRobots(crawl.url);
      if (signal.aborted) return;
      if (crawl.mode === null) {
        await this.discover(tenantId, crawl, robots);
        crawl = getCrawlRow(db(), crawlId);
        if (!crawl) return;
      }
    } catch (error) {
      if (signal.aborted) return;
      const message = clip(error instanceof Error ? error.message : String(error));
      log.warn({ err: error }, "crawl failed");
      this.finish(tenantId, crawlId, { state: "failed", error: message });
      return;
    }
    for (;;) {
      if (signal.aborted) return;
      const current = getCrawlRow(db(), crawlId);
      if (!current || current.state !== "running") return;
      const page = nextFoundPage(db(), crawlId);
      if (!page) break;
      const fetched = await this.crawlPage(tenantId, current, page, robots);
      if (fetched) await sleep(robots.crawlDelayMs, signal);
    }
    if (signal.aborted) return;
    this.finish(tenantId, crawlId, { state: "done" });
    log.info(getCrawl(db(), crawlId), "crawl fetched every page");
  }

  private finish(
    tenantId: TenantId,
    crawlId: number,
    outcome: { state: "done" | "failed"; error?: string },
  ): void {
    const db = this.deps.openTenant(tenantId);
    const crawl = getCrawlRow(db, crawlId);
    const now = this.now();
    const nextRunAt =
      crawl && crawl.recrawl !== "off" ? now + RECRAWL_INTERVAL_MS[crawl.recrawl] : null;
    finishCrawl(db, crawlId, { ...outcome, nextRunAt }, now);
  }

  /** Fetches one page and settles it; true when the site was asked for it. */
  private async crawlPage(
    tenantId: TenantId,
    crawl: CrawlRow,
    page: CrawlPage,
    robots: RobotsRules,
  ): Promise<boolean> {
    const db = () => this.deps.openTenant(tenantId);
    const settle = (result: Parameters<typeof settlePage>[2]) =>
      settlePage(db(), page.id, result, this.now());
    if (!robots.isAllowed(page.url)) {
      settle({
        state: "failed",
        reason: "Disallowed by the site's robots.txt (allow the BiTB user agent to include it).",
      });
      return false;
    }
    let fetched: FetchedSource;
    try {
      fetched = await this.fetcher(page.url, {
        timeoutMs: this.deps.fetchTimeoutMs,
        maxBytes: this.deps.maxFetchBytes,
        allowPrivateNetwork: this.deps.allowPrivateNetwork,
      });
    } catch (error) {
      if (this.controller.signal.aborted) return true; // stopping: the page stays 'found'
      settle({ state: "failed", reason: failureReason(error, this.deps.maxFetchBytes) });
      return true;
    }
    const finalUrl = normaliseCrawlUrl(fetched.finalUrl) ?? page.url;
    if (!sameOrigin(finalUrl, crawl.url)) {
      settle({ state: "failed", reason: `Redirected to another site (${finalUrl}).` });
      return true;
    }
    if (finalUrl !== page.url && hasPage(db(), crawl.id, finalUrl)) {
      settle({ state: "skipped", reason: `Redirects to ${finalUrl}, crawled already.` });
      return true;
    }
    const kind = pageKind(fetched.contentType, finalUrl);
    if (!kind) {
      const type = fetched.contentType?.split(";")[0]?.trim() || "unknown";
      settle({
        state: "failed",
        reason: `Not an HTML page or PDF (${type}); upload such files on their own.`,
      });
      return true;
    }
    const hash = createHash("sha256").update(fetched.bytes).digest("hex");
    const twin = pageWithHash(db(), crawl.id, hash);
    if (twin) {
      settle({ state: "skipped", reason: `Same content as ${twin.url}.`, contentHash: hash });
      return true;
    }
    let noindex = false;
    if (kind === "html") {
      const html = new TextDecoder().decode(fetched.bytes);
      noindex = pageAsksNotToIndex(html);
      if (crawl.mode === "links" && page.depth < crawl.maxDepth) {
        this.addLinks(tenantId, crawl, page, extractLinks(html, finalUrl));
      }
    }
    if (noindex) {
      settle({ state: "skipped", reason: "The page asks not to be indexed (robots noindex)." });
      return true;
    }
    const jobId = this.deps.enqueue(tenantId, {
      sourceType: "url",
      sourceKey: `url:${page.url}`,
      url: page.url,
      title: page.url,
      mimeType: fetched.contentType,
      payload: fetched.bytes,
    });
    settle({ state: "fetched", contentHash: hash, jobId });
    return true;
  }

  private addLinks(tenantId: TenantId, crawl: CrawlRow, page: CrawlPage, links: string[]): void {
    const db = this.deps.openTenant(tenantId);
    let count = countPages(db, crawl.id);
    for (const link of links) {
      if (count >= crawl.maxPages) {
        if (!hasPage(db, crawl.id, link)) {
          setCrawlNote(db, crawl.id, pageLimitNote(crawl.maxPages), this.now());
          return;
        }
        continue;
      }
      if (addPage(db, crawl.id, { url: link, depth: page.depth + 1 }, this.now())) count++;
    }
  }
}

const NOT_A_PAGE_BY_NAME =
  "Not an HTML page or PDF (by its file name); upload such files on their own.";

function pageLimitNote(maxPages: number): string {
  return `Stopped at the ${maxPages}-page limit; raise it to crawl more of the site.`;
}

/** The crawler of a runtime: its tenants' databases, control database and ingestion queue. */
export function createCrawler(
  runtime: Pick<CoreParts, "config" | "control" | "tenants" | "logger"> & { queue: IngestQueue },
): Crawler {
  const { config } = runtime;
  return new Crawler({
    openTenant: (id) => runtime.tenants.get(id),
    control: runtime.control,
    enqueue: (tenantId, input) => enqueueIngest(runtime, tenantId, input),
    logger: runtime.logger.child({ module: "crawl" }),
    fetchTimeoutMs: config.FETCH_TIMEOUT_MS,
    maxFetchBytes: config.MAX_UPLOAD_BYTES,
    allowPrivateNetwork: config.INGEST_ALLOW_PRIVATE_URLS,
    delayCapMs: config.CRAWL_DELAY_MAX_MS,
    scheduleCheckMs: config.CRAWL_SCHEDULE_CHECK_MS,
  });
}
