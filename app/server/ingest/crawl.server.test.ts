import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { FakeEmbedder } from "../../../tests/support/fake-embedder.ts";
import { getCrawlRow, listPages } from "#tenants/crawls.ts";
import { newTenantId, type TenantId } from "#tenants/id.ts";
import { listDocuments } from "#tenants/knowledge-base.ts";
import { openTenantDb, type TenantDb } from "#tenants/store.ts";
import type { Config } from "../config.server.ts";
import { getMeta, openControlDb, type ControlDb } from "../control-db.server.ts";
import { ApiError } from "../errors.server.ts";
import { silentLogger } from "../logger.server.ts";
import type { Runtime } from "../runtime/runtime.server.ts";
import { eraseTenant } from "../tenancy/data.server.ts";
import {
  cancelCrawl,
  Crawler,
  failureReason,
  getCrawl,
  listCrawls,
  RECRAWL_INTERVAL_MS,
  scheduleRecrawl,
  startCrawl,
  type CrawlerDeps,
} from "./crawl.server.ts";
import { FetchError, IngestQueue } from "./queue.server.ts";

// --- two small local sites: one with links only, one with a sitemap index -----------------

const page = (title: string, body: string, links: string[] = []) =>
  `<html><head><title>${title}</title></head><body><h1>${title}</h1><p>${body}</p>${links
    .map((href) => `<a href="${href}">${href}</a>`)
    .join(" ")}</body></html>`;

let requests: string[] = [];
let robotsText = "User-agent: *\nDisallow: /private\n";
let aboutBody = "The harbour shop opens at nine and closes at six.";

const linksSite: Record<string, () => [number, string, string | Buffer]> = {
  "/": () => [
    200,
    "text/html",
    page("Home", "Welcome to the harbour shop, where ropes are sold.", [
      "/about",
      "/about/",
      "/about#team",
      "/about?utm_source=home",
      "/private/staff",
      "/missing",
      "/notes.txt",
      "/copy",
      "/deep/1",
      "https://elsewhere.example/page",
    ]),
  ],
  "/about": () => [200, "text/html", page("About", aboutBody)],
  "/copy": () => [200, "text/html", page("About", aboutBody)],
  "/notes.txt": () => [200, "text/plain", "plain notes"],
  "/deep/1": () => [200, "text/html", page("Deep one", "First level down.", ["/deep/2"])],
  "/deep/2": () => [200, "text/html", page("Deep two", "Second level down.", ["/deep/3"])],
  "/deep/3": () => [200, "text/html", page("Deep three", "Third level down.", ["/deep/4"])],
  "/deep/4": () => [200, "text/html", page("Deep four", "Too deep to be crawled.")],
  "/private/staff": () => [200, "text/html", page("Staff", "Secret rota.")],
  "/edge": () => [
    200,
    "text/html",
    page("Edge cases", "Pages that redirect, hide or are PDFs.", [
      "/about",
      "/old-about",
      "/away",
      "/hidden",
      "/guide.pdf",
    ]),
  ],
  "/hidden": () => [
    200,
    "text/html",
    `<html><head><meta name="robots" content="noindex"></head><body>Hidden page.</body></html>`,
  ],
  "/guide.pdf": () => [200, "application/pdf", fs.readFileSync(samplePdf)],
};

const samplePdf = path.resolve(import.meta.dirname, "../../../tests/fixtures/sample.pdf");

const mapSite: Record<string, () => [number, string, string | Buffer]> = {
  "/": () => [200, "text/html", page("Map home", "The map shop sells charts.", ["/not-listed"])],
  "/sitemap-index.xml": () => [
    200,
    "application/xml",
    `<sitemapindex><sitemap><loc>${mapBase}/sitemap-pages.xml.gz</loc></sitemap></sitemapindex>`,
  ],
  "/sitemap-pages.xml.gz": () => [
    200,
    "application/octet-stream",
    zlib.gzipSync(
      `<urlset><url><loc>${mapBase}/charts</loc></url><url><loc>${mapBase}/tides</loc></url>` +
        `<url><loc>https://elsewhere.example/x</loc></url><url><loc>${mapBase}/logo.png</loc></url></urlset>`,
    ),
  ],
  "/charts": () => [200, "text/html", page("Charts", "Nautical charts of the bay.")],
  "/tides": () => [200, "text/html", page("Tides", "Tide tables for the harbour.")],
  "/not-listed": () => [200, "text/html", page("Hidden", "Only linked, not in the sitemap.")],
};

function serve(
  routes: Record<string, () => [number, string, string | Buffer]>,
  robots: () => string,
) {
  return http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    requests.push(url.pathname);
    if (url.pathname === "/robots.txt") {
      const text = robots();
      if (text === "") return void res.writeHead(404).end();
      if (text === "500") return void res.writeHead(500).end();
      return void res.writeHead(200, { "content-type": "text/plain" }).end(text);
    }
    if (url.pathname === "/old-about") return void res.writeHead(301, { location: "/about" }).end();
    if (url.pathname === "/away")
      return void res.writeHead(302, { location: `${mapBase}/charts` }).end();
    const route = routes[url.pathname];
    if (!route) return void res.writeHead(404, { "content-type": "text/html" }).end("Not found");
    const [status, type, body] = route();
    res.writeHead(status, { "content-type": type }).end(body);
  });
}

let linksServer: http.Server;
let mapServer: http.Server;
let linksBase: string;
let mapBase: string;

beforeAll(async () => {
  linksServer = serve(linksSite, () => robotsText);
  mapServer = serve(
    mapSite,
    () => `User-agent: *\nAllow: /\nSitemap: ${mapBase}/sitemap-index.xml\n`,
  );
  for (const server of [linksServer, mapServer]) {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  }
  linksBase = `http://127.0.0.1:${(linksServer.address() as AddressInfo).port}`;
  mapBase = `http://127.0.0.1:${(mapServer.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const server of [linksServer, mapServer]) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

// --- a crawler and a queue over real tenant databases -------------------------------------

let dir: string;
let handles: Map<TenantId, TenantDb>;
let control: ControlDb;
let queue: IngestQueue;
let crawler: Crawler;
let runtime: Pick<Runtime, "config" | "control" | "tenants" | "queue" | "crawler">;
const embedder = new FakeEmbedder({ dimension: 8 });

function openTenant(id: TenantId): TenantDb {
  let db = handles.get(id);
  if (!db) {
    db = openTenantDb(dir, id, { model: embedder.model, dimension: 8 }, { create: true });
    handles.set(id, db);
  }
  return db;
}

function makeCrawler(overrides: Partial<CrawlerDeps> = {}): Crawler {
  return new Crawler({
    openTenant,
    control,
    enqueue: (tenantId, input) => queue.enqueue(tenantId, input),
    logger: silentLogger,
    fetchTimeoutMs: 2000,
    maxFetchBytes: 1_000_000,
    allowPrivateNetwork: true,
    delayCapMs: 50,
    scheduleCheckMs: 60_000,
    ...overrides,
  });
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-crawl-"));
  handles = new Map();
  control = openControlDb(dir);
  requests = [];
  robotsText = "User-agent: *\nDisallow: /private\n";
  aboutBody = "The harbour shop opens at nine and closes at six.";
  queue = new IngestQueue({
    openTenant,
    tenantsWithPendingJobs: () => [],
    embedder,
    logger: silentLogger,
    concurrency: 1,
    leaseMs: 5000,
    pollMs: 50,
    retryBaseMs: 20,
    chunking: { maxTokens: 80, overlapTokens: 10 },
    fetchTimeoutMs: 1000,
    maxFetchBytes: 1_000_000,
    allowPrivateNetwork: true,
  });
  queue.start();
  crawler = makeCrawler();
  crawler.start();
  runtime = {
    config: { CRAWL_MAX_PAGES: 100, CRAWL_MAX_DEPTH: 5 } as Config,
    control,
    tenants: { get: openTenant } as unknown as Runtime["tenants"],
    queue,
    crawler,
  };
});

afterEach(async () => {
  await crawler.stop();
  await queue.stop();
  for (const db of handles.values()) db.close();
  control.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function crawlToEnd(tenant: TenantId, crawlId: number) {
  await crawler.idle();
  await queue.drain(tenant);
  return getCrawl(openTenant(tenant), crawlId);
}

describe("crawling a site by its links", () => {
  it("follows same-origin links breadth first within the depth limit, skipping duplicates", async () => {
    const tenant = newTenantId();
    const { crawlId } = await startCrawl(runtime, tenant, { url: `${linksBase}/`, maxDepth: 2 });
    const crawl = await crawlToEnd(tenant, crawlId);
    expect(crawl).toMatchObject({ state: "done", url: `${linksBase}/` });
    const pages = listPages(openTenant(tenant), crawlId);
    const byPath = Object.fromEntries(pages.map((p) => [new URL(p.url).pathname, p]));
    // Four spellings of /about are one page; /deep/3 is at depth 3, beyond the limit.
    expect(Object.keys(byPath).sort()).toEqual(
      [
        "/",
        "/about",
        "/copy",
        "/deep/1",
        "/deep/2",
        "/missing",
        "/notes.txt",
        "/private/staff",
      ].sort(),
    );
    expect(byPath["/about"]?.state).toBe("fetched");
    expect(byPath["/copy"]).toMatchObject({
      state: "skipped",
      reason: `Same content as ${linksBase}/about.`,
    });
    expect(byPath["/private/staff"]?.reason).toMatch(/robots\.txt/);
    expect(byPath["/missing"]?.reason).toMatch(/^HTTP 404/);
    expect(byPath["/notes.txt"]?.reason).toMatch(/Not an HTML page or PDF \(text\/plain\)/);
    // robots.txt is obeyed before asking: the disallowed page was never requested.
    expect(requests).not.toContain("/private/staff");
    expect(requests).not.toContain("/deep/3");

    expect(crawl?.pagesFound).toBe(8);
    expect(crawl?.pagesFetched).toBe(4); // /, /about, /deep/1, /deep/2
    expect(crawl?.pagesIndexed).toBe(4);
    expect(crawl?.pagesProcessed).toBe(8);
    expect(crawl?.failures.map((f) => new URL(f.url).pathname).sort()).toEqual(
      ["/missing", "/notes.txt", "/private/staff"].sort(),
    );
    expect(crawl?.skipped).toHaveLength(1);
    expect(crawl?.finishedAt).not.toBeNull();

    // Each fetched page is a url document keyed by its normalised address.
    const documents = listDocuments(openTenant(tenant));
    expect(documents.map((d) => d.sourceKey).sort()).toEqual(
      [
        `url:${linksBase}/`,
        `url:${linksBase}/about`,
        `url:${linksBase}/deep/1`,
        `url:${linksBase}/deep/2`,
      ].sort(),
    );
    expect(documents.find((d) => d.url === `${linksBase}/about`)?.title).toBe("About");
    // The page was fetched once, by the crawler; the ingestion job used those bytes.
    expect(requests.filter((r) => r === "/about")).toHaveLength(1);
    expect(listCrawls(openTenant(tenant)).map((c) => c.id)).toEqual([crawlId]);
  });

  it("stops at the page limit and says so", async () => {
    const tenant = newTenantId();
    const { crawlId } = await startCrawl(runtime, tenant, { url: linksBase, maxPages: 3 });
    const crawl = await crawlToEnd(tenant, crawlId);
    expect(crawl?.pagesFound).toBe(3);
    expect(crawl?.note).toMatch(/3-page limit/);
  });

  it("re-crawls: unchanged pages stay, changed ones are replaced", async () => {
    const tenant = newTenantId();
    const { crawlId } = await startCrawl(runtime, tenant, { url: linksBase, maxDepth: 1 });
    await crawlToEnd(tenant, crawlId);
    const before = listDocuments(openTenant(tenant));
    aboutBody = "The harbour shop now opens at eight.";
    const again = await startCrawl(runtime, tenant, { url: `${linksBase}/`, maxDepth: 1 });
    expect(again.crawlId).toBe(crawlId);
    const crawl = await crawlToEnd(tenant, crawlId);
    expect(crawl?.state).toBe("done");
    const after = listDocuments(openTenant(tenant));
    const about = (docs: typeof before) => docs.find((d) => d.url === `${linksBase}/about`);
    const home = (docs: typeof before) => docs.find((d) => d.url === `${linksBase}/`);
    expect(about(after)?.contentHash).not.toBe(about(before)?.contentHash);
    expect(home(after)?.updatedAt).toBe(home(before)?.updatedAt);
    expect(after).toHaveLength(before.length);
  });

  it("fails the crawl when robots.txt cannot be read, and allows all when there is none", async () => {
    const tenant = newTenantId();
    robotsText = "500";
    const failed = await startCrawl(runtime, tenant, { url: linksBase });
    expect((await crawlToEnd(tenant, failed.crawlId))?.state).toBe("failed");
    expect(getCrawl(openTenant(tenant), failed.crawlId)?.error).toMatch(
      /robots\.txt could not be read/,
    );

    // An intranet site with private addresses refused: the error names the setting, and does
    // not blame the site.
    await crawler.stop();
    crawler = makeCrawler({ allowPrivateNetwork: false });
    crawler.start();
    runtime.crawler = crawler;
    robotsText = "";
    const intranet = await startCrawl(runtime, tenant, { url: linksBase });
    const refused = (await crawlToEnd(tenant, intranet.crawlId))?.error ?? "";
    expect(refused).toMatch(/private network.*INGEST_ALLOW_PRIVATE_URLS=true/);
    expect(refused).not.toMatch(/may be down/);
    await crawler.stop();
    crawler = makeCrawler();
    crawler.start();
    runtime.crawler = crawler;

    const open = await startCrawl(runtime, tenant, { url: linksBase, maxDepth: 1 });
    const crawl = await crawlToEnd(tenant, open.crawlId);
    expect(crawl?.failures.some((f) => f.url.endsWith("/private/staff"))).toBe(false);
  });

  it("refuses a second crawl of a running site and bad limits", async () => {
    const tenant = newTenantId();
    const slow = makeCrawler({ delayCapMs: 1000 });
    robotsText = "User-agent: *\nCrawl-delay: 1\n";
    runtime.crawler = slow;
    slow.start();
    try {
      await startCrawl(runtime, tenant, { url: linksBase });
      await expect(startCrawl(runtime, tenant, { url: `${linksBase}/#x` })).rejects.toMatchObject({
        code: "conflict",
      });
    } finally {
      await slow.stop();
    }
    await expect(
      startCrawl(runtime, tenant, { url: linksBase, maxPages: 101 }),
    ).rejects.toBeInstanceOf(ApiError);
    await expect(
      startCrawl(runtime, tenant, { url: linksBase, maxDepth: 6 }),
    ).rejects.toBeInstanceOf(ApiError);
    await expect(startCrawl(runtime, tenant, { url: "ftp://x.example/" })).rejects.toBeInstanceOf(
      ApiError,
    );
  });

  it("is cancelled between two pages", async () => {
    const tenant = newTenantId();
    const slow = makeCrawler({ delayCapMs: 200 });
    robotsText = "User-agent: *\nCrawl-delay: 0.2\n";
    runtime.crawler = slow;
    slow.start();
    try {
      const { crawlId } = await startCrawl(runtime, tenant, { url: linksBase });
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(cancelCrawl(openTenant(tenant), crawlId)).toBe(true);
      await slow.idle();
      const crawl = getCrawl(openTenant(tenant), crawlId);
      expect(crawl?.state).toBe("cancelled");
      expect(crawl?.pagesProcessed).toBeLessThan(crawl?.pagesFound ?? 0);
      expect(cancelCrawl(openTenant(tenant), crawlId)).toBe(false);
    } finally {
      await slow.stop();
    }
  });
});

describe("pages that redirect, ask not to be indexed, or are PDFs", () => {
  it("skips redirects onto known pages and noindex pages, fails off-site redirects, keeps PDFs", async () => {
    const tenant = newTenantId();
    const { crawlId } = await startCrawl(runtime, tenant, {
      url: `${linksBase}/edge`,
      maxDepth: 1,
    });
    const crawl = await crawlToEnd(tenant, crawlId);
    const byPath = Object.fromEntries(
      listPages(openTenant(tenant), crawlId).map((p) => [new URL(p.url).pathname, p]),
    );
    expect(byPath["/old-about"]).toMatchObject({
      state: "skipped",
      reason: `Redirects to ${linksBase}/about, crawled already.`,
    });
    expect(byPath["/away"]).toMatchObject({
      state: "failed",
      reason: `Redirected to another site (${mapBase}/charts).`,
    });
    expect(byPath["/hidden"]).toMatchObject({
      state: "skipped",
      reason: expect.stringMatching(/noindex/),
    });
    expect(byPath["/guide.pdf"]?.state).toBe("fetched");
    expect(crawl).toMatchObject({ state: "done", pagesFetched: 3, pagesIndexed: 3 });
    const pdf = listDocuments(openTenant(tenant)).find((d) => d.url === `${linksBase}/guide.pdf`);
    expect(pdf).toMatchObject({ mimeType: "application/pdf" });
    expect(pdf?.chunkCount).toBeGreaterThan(0);
  });
});

describe("crawling a site by its sitemap", () => {
  it("reads robots.txt's sitemap index and its gzipped child, same-origin pages only", async () => {
    const tenant = newTenantId();
    const { crawlId } = await startCrawl(runtime, tenant, { url: mapBase });
    const crawl = await crawlToEnd(tenant, crawlId);
    const pages = listPages(openTenant(tenant), crawlId).map((p) => new URL(p.url).pathname);
    // Links are not followed when the sitemap lists the pages; a listed image is not fetched.
    expect(pages.sort()).toEqual(["/", "/charts", "/logo.png", "/tides"]);
    expect(requests).not.toContain("/logo.png");
    expect(crawl?.failures).toEqual([
      { url: `${mapBase}/logo.png`, reason: expect.stringMatching(/^Not an HTML page or PDF/) },
    ]);
    expect(crawl).toMatchObject({ state: "done", pagesFetched: 3, pagesIndexed: 3 });
    expect(getCrawlRow(openTenant(tenant), crawlId)?.mode).toBe("sitemap");
  });
});

describe("crawling a section of a site", () => {
  it("keeps the sitemap's pages below the start page", async () => {
    const tenant = newTenantId();
    const { crawlId } = await startCrawl(runtime, tenant, { url: `${mapBase}/charts/` });
    const crawl = await crawlToEnd(tenant, crawlId);
    const pages = listPages(openTenant(tenant), crawlId).map((p) => new URL(p.url).pathname);
    expect(pages).toEqual(["/charts"]);
    expect(crawl).toMatchObject({ state: "done", pagesFetched: 1 });
  });
});

describe("resuming and scheduling", () => {
  it("resumes a crawl interrupted by a stop", async () => {
    const tenant = newTenantId();
    const slow = makeCrawler({ delayCapMs: 150 });
    robotsText = "User-agent: *\nCrawl-delay: 0.15\n";
    runtime.crawler = slow;
    slow.start();
    const { crawlId } = await startCrawl(runtime, tenant, { url: linksBase, maxDepth: 1 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    await slow.stop();
    const halfway = getCrawl(openTenant(tenant), crawlId);
    expect(halfway?.state).toBe("running");
    expect(getMeta(control, `crawl:${tenant}`)).toBe("0");

    const next = makeCrawler();
    next.start(); // finds the tenant in the control database and resumes its crawl
    await next.idle();
    await queue.drain(tenant);
    await next.stop();
    const crawl = getCrawl(openTenant(tenant), crawlId);
    expect(crawl?.state).toBe("done");
    expect(crawl?.pagesProcessed).toBe(crawl?.pagesFound);
  });

  it("runs a daily re-crawl when it is due", async () => {
    const tenant = newTenantId();
    let now = Date.now();
    const clocked = makeCrawler({ now: () => now });
    runtime.crawler = clocked;
    clocked.start();
    try {
      const { crawlId } = await startCrawl(runtime, tenant, {
        url: mapBase,
        recrawl: "daily",
      });
      await clocked.idle();
      const first = getCrawlRow(openTenant(tenant), crawlId);
      expect(first?.state).toBe("done");
      expect(first?.nextRunAt).toBe((first?.finishedAt ?? 0) + RECRAWL_INTERVAL_MS.daily);
      expect(Number(getMeta(control, `crawl:${tenant}`))).toBe(first?.nextRunAt);

      requests = [];
      clocked.tick(); // not due yet
      await clocked.idle();
      expect(requests).toEqual([]);

      now += RECRAWL_INTERVAL_MS.daily + 1;
      clocked.tick();
      await clocked.idle();
      expect(requests).toContain("/charts");
      expect(getCrawlRow(openTenant(tenant), crawlId)?.startedAt).toBe(now);

      // Switching the schedule off forgets the tenant once nothing is due.
      expect(scheduleRecrawl(runtime, tenant, crawlId, "off")).toBe(true);
      expect(getCrawlRow(openTenant(tenant), crawlId)?.nextRunAt).toBeNull();
      expect(scheduleRecrawl(runtime, tenant, 999, "weekly")).toBe(false);
      expect(scheduleRecrawl(runtime, tenant, crawlId, "weekly", now)).toBe(true);
      expect(getCrawlRow(openTenant(tenant), crawlId)?.nextRunAt).toBeGreaterThan(now);
    } finally {
      await clocked.stop();
    }
  });
});

describe("erasing a tenant", () => {
  it("forgets its scheduled re-crawls in the registry", async () => {
    const tenant = newTenantId();
    await startCrawl(runtime, tenant, { url: mapBase, recrawl: "weekly" });
    await crawler.idle();
    expect(Number(getMeta(control, `crawl:${tenant}`))).toBeGreaterThan(Date.now());
    const forget = () => undefined;
    eraseTenant(
      {
        config: { dataDir: dir } as Config,
        control,
        tenants: { get: openTenant, evict: forget } as unknown as Runtime["tenants"],
        embedder,
        queue,
        retrievalCache: { forget } as unknown as Runtime["retrievalCache"],
        answerCache: { forget } as unknown as Runtime["answerCache"],
      },
      tenant,
      "cli",
    );
    expect(getMeta(control, `crawl:${tenant}`)).toBeUndefined();
  });
});

describe("failureReason", () => {
  it("says what happened and what to do", () => {
    expect(failureReason(new FetchError("x answered HTTP 404.", true, 404), 10)).toMatch(
      /does not exist/,
    );
    expect(failureReason(new FetchError("x answered HTTP 403.", true, 403), 10)).toMatch(/login/);
    expect(failureReason(new FetchError("x answered HTTP 503.", false, 503), 10)).toMatch(
      /try again/,
    );
    expect(failureReason(new FetchError("x is larger than the 10-byte limit.", true), 10)).toMatch(
      /^Too large/,
    );
    expect(failureReason(new FetchError("x did not answer within 5 ms.", false), 10)).toMatch(
      /^Timeout/,
    );
    expect(failureReason(new Error("boom"), 10)).toBe("boom");
  });
});
