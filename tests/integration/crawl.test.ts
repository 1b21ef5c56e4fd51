// A website crawled into a tenant's knowledge base through the built server's API: the test
// serves a small site on a local port (robots.txt disallowing a path, a sitemap, a page that
// links to a duplicate, a 404, a non-HTML file), starts a crawl, polls its progress to the end,
// and asks a question answered from a crawled page.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DoneEvent } from "#app/shared/ask-events.ts";
import type { CrawlProgress } from "#tenants/crawls.ts";
import { createTenant, signIn } from "../support/admin.ts";
import { createAdmin } from "../support/cli.ts";
import { bearer, makeSecretKey } from "../support/keys.ts";
import {
  startServer,
  tempDataDir,
  waitFor,
  type Client,
  type TestServer,
} from "../support/server.ts";

const html = (title: string, body: string) =>
  `<!doctype html><html><head><title>${title}</title></head><body><h1>${title}</h1>${body}</body></html>`;

let site: http.Server;
let siteUrl: string;
const requested: string[] = [];

function serveSite(): http.Server {
  return http.createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://site").pathname;
    requested.push(path);
    const send = (status: number, type: string, body: string) =>
      res.writeHead(status, { "content-type": type }).end(body);
    switch (path) {
      case "/robots.txt":
        return send(
          200,
          "text/plain",
          `User-agent: *\nDisallow: /staff\n\nSitemap: ${siteUrl}/sitemap.xml\n`,
        );
      case "/sitemap.xml":
        return send(
          200,
          "application/xml",
          `<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">${[
            "/",
            "/ferry",
            "/ferry-copy",
            "/staff/rota",
            "/gone",
            "/prices.csv",
            "/feed",
          ]
            .map((p) => `<url><loc>${siteUrl}${p}</loc></url>`)
            .join("")}</urlset>`,
        );
      case "/":
        return send(
          200,
          "text/html; charset=utf-8",
          html(
            "Kestrel Island Ferries",
            `<p>Welcome aboard. See the <a href="/ferry">timetable</a> and its
             <a href="/ferry-copy">printable copy</a>.</p>`,
          ),
        );
      case "/ferry":
      case "/ferry-copy":
        return send(
          200,
          "text/html; charset=utf-8",
          html(
            "Ferry timetable",
            "<p>The night ferry to Kestrel Island leaves the harbour at 23:15 every Friday.</p>",
          ),
        );
      case "/staff/rota":
        return send(200, "text/html", html("Staff rota", "<p>Private.</p>"));
      case "/prices.csv":
        return send(200, "text/csv", "ticket,price\nadult,12\n");
      case "/feed":
        return send(200, "application/json", '{"sailings":[]}');
      default:
        return send(404, "text/html", html("Not found", "<p>No such page.</p>"));
    }
  });
}

let server: TestServer;
let admin: Client;
let tenantId: string;
let apiKey: string;

beforeAll(async () => {
  site = serveSite();
  await new Promise<void>((resolve) => site.listen(0, "127.0.0.1", resolve));
  siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
  const dataDir = tempDataDir();
  await createAdmin(dataDir);
  server = await startServer({ dataDir });
  admin = await signIn(server.url);
  tenantId = await createTenant(admin, "Kestrel Ferries");
  apiKey = await makeSecretKey(admin, tenantId);
});

afterAll(async () => {
  await server?.stop();
  site?.closeAllConnections();
  await new Promise((resolve) => site?.close(resolve));
});

async function crawlOf(id: number): Promise<CrawlProgress> {
  const res = await admin.fetch(`/api/tenants/${tenantId}/crawls/${id}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { crawl: CrawlProgress }).crawl;
}

describe("crawling a website through the API", () => {
  it("crawls the site, reports progress to the end, and answers from a crawled page", async () => {
    const start = await admin.json(`/api/tenants/${tenantId}/crawls`, {
      url: `${siteUrl}/`,
      maxPages: 20,
      recrawl: "weekly",
    });
    expect(start.status).toBe(202);
    const { crawlId } = (await start.json()) as { crawlId: number };
    expect(crawlId).toBeGreaterThan(0);

    // Progress only ever moves forward while it is polled.
    let last = { processed: 0, indexed: 0 };
    const seen: CrawlProgress[] = [];
    const crawl = await waitFor(
      async () => {
        const now = await crawlOf(crawlId);
        seen.push(now);
        expect(now.pagesProcessed).toBeGreaterThanOrEqual(last.processed);
        expect(now.pagesIndexed).toBeGreaterThanOrEqual(last.indexed);
        last = { processed: now.pagesProcessed, indexed: now.pagesIndexed };
        return now.state === "running" ? undefined : now;
      },
      { timeoutMs: 90_000, intervalMs: 250, what: "the crawl to finish" },
    );
    expect(crawl.state).toBe("done");
    expect(crawl.pagesFound).toBe(7);
    expect(crawl.pagesFetched).toBe(2); // "/" and "/ferry"; the copy has the same content
    expect(crawl.pagesIndexed).toBe(2);
    expect(crawl.pagesProcessed).toBe(7);
    expect(crawl.finishedAt).not.toBeNull();
    expect(crawl.recrawl).toBe("weekly");
    expect(crawl.nextRunAt).toBeGreaterThan(Date.now() + 6 * 24 * 3_600_000);
    const reasons = Object.fromEntries(
      crawl.failures.map((f) => [new URL(f.url).pathname, f.reason]),
    );
    expect(reasons["/staff/rota"]).toMatch(/robots\.txt/);
    expect(reasons["/gone"]).toMatch(/^HTTP 404/);
    expect(reasons["/prices.csv"]).toMatch(/^Not an HTML page or PDF \(by its file name\)/);
    expect(reasons["/feed"]).toMatch(/^Not an HTML page or PDF \(application\/json\)/);
    expect(requested).not.toContain("/prices.csv");
    expect(crawl.skipped).toEqual([
      { url: `${siteUrl}/ferry-copy`, reason: `Same content as ${siteUrl}/ferry.` },
    ]);
    expect(requested).not.toContain("/staff/rota");

    // The list shows it too, and the documents are the crawled pages.
    const list = await admin.fetch(`/api/tenants/${tenantId}/crawls`);
    expect(((await list.json()) as { crawls: CrawlProgress[] }).crawls.map((c) => c.id)).toEqual([
      crawlId,
    ]);
    const docs = await admin.fetch(`/api/tenants/${tenantId}/documents`);
    const documents = ((await docs.json()) as { documents: { url: string; title: string }[] })
      .documents;
    expect(documents.map((d) => d.url).sort()).toEqual([`${siteUrl}/`, `${siteUrl}/ferry`]);

    // A visitor's question is answered from the crawled timetable.
    const ask = await fetch(`${server.url}/api/ask`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json",
        ...bearer(apiKey),
      },
      body: JSON.stringify({
        tenant_id: tenantId,
        query: "When does the night ferry to Kestrel Island leave?",
      }),
    });
    expect(ask.status).toBe(200);
    const done = (await ask.json()) as DoneEvent;
    expect(done.abstained).toBe(false);
    expect(done.answer).toMatch(/23:15/);
    expect(done.citations.some((c) => c.url === `${siteUrl}/ferry`)).toBe(true);

    // The Knowledge tab shows the crawl and its progress bars.
    const page = await admin.fetch(`/admin/tenants/${tenantId}/knowledge`);
    expect(page.status).toBe(200);
    const body = await page.text();
    expect(body).toContain("Crawl a website");
    expect(body).toContain(`Pages fetched of ${siteUrl}/`);
    expect(body).toMatch(/role="progressbar"/);
  });

  it("validates input with the one error shape, and cancels or reschedules a crawl", async () => {
    const bad = await admin.json(`/api/tenants/${tenantId}/crawls`, { url: "ftp://x.example/" });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe(
      "validation_failed",
    );
    const extra = await admin.json(`/api/tenants/${tenantId}/crawls`, {
      url: siteUrl,
      depth: 2,
    });
    expect(extra.status).toBe(400);
    const tooMany = await admin.json(`/api/tenants/${tenantId}/crawls`, {
      url: siteUrl,
      maxPages: 100_000,
    });
    expect(tooMany.status).toBe(400);
    expect(((await tooMany.json()) as { error: { message: string } }).error.message).toMatch(
      /maxPages/,
    );

    // With the secret key: start a crawl of an address that does not answer, then cancel.
    const started = await fetch(`${server.url}/api/tenants/${tenantId}/crawls`, {
      method: "POST",
      headers: { "content-type": "application/json", ...bearer(apiKey) },
      body: JSON.stringify({ url: `${siteUrl}/other-section` }),
    });
    expect(started.status).toBe(202);
    const { crawlId } = (await started.json()) as { crawlId: number };
    const again = await admin.json(`/api/tenants/${tenantId}/crawls`, {
      url: `${siteUrl}/other-section`,
    });
    // Either still running (409), or already over and started again (202).
    expect([202, 409]).toContain(again.status);
    const cancel = await admin.fetch(`/api/tenants/${tenantId}/crawls/${crawlId}`, {
      method: "DELETE",
    });
    expect([204, 409]).toContain(cancel.status);
    const ended = await waitFor(
      async () => {
        const crawl = await crawlOf(crawlId);
        return crawl.state === "running" ? undefined : crawl;
      },
      { timeoutMs: 30_000, what: "the crawl to end" },
    );
    expect(["cancelled", "done"]).toContain(ended.state);

    const patched = await admin.json(
      `/api/tenants/${tenantId}/crawls/${crawlId}`,
      { recrawl: "daily" },
      "PATCH",
    );
    expect(patched.status).toBe(200);
    expect(((await patched.json()) as { crawl: CrawlProgress }).crawl.recrawl).toBe("daily");
    // The Knowledge tab's forms: schedule, cancel (too late now), re-sync a crawled page.
    const tab = `/admin/tenants/${tenantId}/knowledge`;
    const post = (fields: Record<string, string>) =>
      admin.fetch(tab, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(fields),
      });
    const schedule = await post({
      intent: "set-recrawl",
      crawlId: String(crawlId),
      recrawl: "off",
    });
    expect(schedule.status).toBe(200);
    expect((await crawlOf(crawlId)).recrawl).toBe("off");
    expect((await post({ intent: "cancel-crawl", crawlId: String(crawlId) })).status).toBe(409);
    expect(
      (await post({ intent: "set-recrawl", crawlId: "999999", recrawl: "daily" })).status,
    ).toBe(404);
    const docs = await admin.fetch(`/api/tenants/${tenantId}/documents`);
    const ferry = (
      (await docs.json()) as { documents: { id: number; url: string }[] }
    ).documents.find((d) => d.url === `${siteUrl}/ferry`);
    const before = requested.filter((p) => p === "/ferry").length;
    expect((await post({ intent: "resync-document", documentId: String(ferry?.id) })).status).toBe(
      200,
    );
    await waitFor(
      async () => (requested.filter((p) => p === "/ferry").length > before ? true : undefined),
      { timeoutMs: 30_000, what: "the page to be fetched again" },
    );
    const badCrawl = await post({ intent: "crawl", url: "not a url", recrawl: "off" });
    expect(badCrawl.status).toBe(400);

    const missing = await admin.fetch(`/api/tenants/${tenantId}/crawls/999999`);
    expect(missing.status).toBe(404);
    const badId = await admin.fetch(`/api/tenants/${tenantId}/crawls/abc`);
    expect(badId.status).toBe(404);
  });
});
