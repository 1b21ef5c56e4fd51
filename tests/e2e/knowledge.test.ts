// The Knowledge tab in a real Chromium: an admin crawls a small site served by the test and
// watches the crawl's progress bars reach 100% without a reload, the bars never moving on
// the page while they fill; the failures are listed with their reasons. A screenshot is kept
// in test-results/.
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { type Browser, type Page } from "playwright-core";
import { CHROMIUM, launchChromium } from "../support/browser.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTenant, signIn } from "../support/admin.ts";
import { ADMIN, createAdmin } from "../support/cli.ts";
import { startServer, tempDataDir, type TestServer } from "../support/server.ts";

const hasChromium = fs.existsSync(CHROMIUM);
if (!hasChromium) console.warn(`knowledge e2e skipped: no Chromium at ${CHROMIUM}`);
const shots = path.resolve(import.meta.dirname, "../../test-results");

const page = (title: string, body: string, links: string[] = []) =>
  `<!doctype html><html><head><title>${title}</title></head><body><h1>${title}</h1><p>${body}</p>${links
    .map((href) => `<a href="${href}">${href}</a>`)
    .join(" ")}</body></html>`;

/** A site without a sitemap: the crawl follows its links. Each page answers a little late. */
function serveSite(): http.Server {
  const pages: Record<string, string> = {
    "/": page("Tea house", "Welcome to the tea house.", ["/menu", "/hours", "/missing", "/staff"]),
    "/menu": page("Menu", "Our smoked oolong costs 6 euros a pot.", ["/menu/"]),
    "/hours": page("Hours", "Open every day from 10 am to 7 pm."),
    "/staff": page("Staff", "Private."),
  };
  return http.createServer((req, res) => {
    const pathname = new URL(req.url ?? "/", "http://site").pathname;
    setTimeout(() => {
      if (pathname === "/robots.txt") {
        res
          .writeHead(200, { "content-type": "text/plain" })
          .end("User-agent: *\nDisallow: /staff\n");
        return;
      }
      const body = pages[pathname];
      if (!body) return void res.writeHead(404, { "content-type": "text/html" }).end("Not found");
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(body);
    }, 300);
  });
}

describe.skipIf(!hasChromium)("the Knowledge tab", () => {
  let server: TestServer;
  let site: http.Server;
  let siteUrl: string;
  let browser: Browser;
  let tab: Page;
  let tenantId: string;

  beforeAll(async () => {
    fs.mkdirSync(shots, { recursive: true });
    site = serveSite();
    await new Promise<void>((resolve) => site.listen(0, "127.0.0.1", resolve));
    siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}/`;
    const dataDir = tempDataDir();
    await createAdmin(dataDir);
    server = await startServer({ dataDir });
    tenantId = await createTenant(await signIn(server.url), "Tea House");
    browser = await launchChromium();
    tab = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    await tab.goto(`${server.url}/login`);
    await tab.getByLabel("E-mail").fill(ADMIN.email);
    await tab.getByLabel("Password").fill(ADMIN.password);
    await tab.getByRole("button", { name: "Sign in" }).click();
    await tab.getByRole("heading", { name: "Tenants" }).waitFor();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    site?.closeAllConnections();
    await new Promise((resolve) => (site ? site.close(resolve) : resolve(undefined)));
  });

  it("crawls a website with live progress to 100%, without moving the bars", async () => {
    await tab.goto(`${server.url}/admin/tenants/${tenantId}/knowledge`);
    await tab.getByLabel("Website address").fill(siteUrl);
    await tab.getByLabel("Re-crawl", { exact: true }).selectOption("weekly");
    await tab.getByRole("button", { name: "Crawl website" }).click();
    await tab.getByText("The crawl has started").waitFor();

    const fetched = tab.getByRole("progressbar", { name: `Pages fetched of ${siteUrl}` });
    const indexed = tab.getByRole("progressbar", { name: `Pages indexed of ${siteUrl}` });
    await fetched.waitFor();
    const boxes = new Set<string>();
    const values = new Set<string>();
    // Polled by the page itself (no reload here): the figures change, the bar stays put.
    for (let i = 0; i < 240; i++) {
      // Where the bar sits on the page (not in the viewport, which may scroll).
      const box = await fetched.evaluate((bar) => {
        const rect = bar.getBoundingClientRect();
        return [rect.left + window.scrollX, rect.top + window.scrollY, rect.width, rect.height];
      });
      boxes.add(JSON.stringify(box));
      values.add(
        `${await fetched.getAttribute("aria-valuenow")}/${await indexed.getAttribute("aria-valuenow")}`,
      );
      const state = await tab.locator(".crawl-head .badge").textContent();
      if (state === "done") break;
      await tab.waitForTimeout(250);
    }
    expect(await tab.locator(".crawl-head .badge").textContent()).toBe("done");
    expect(values.size).toBeGreaterThan(1); // it moved while we watched
    expect([...boxes].join(" ")).toBe([...boxes][0]); // one position throughout
    expect(await fetched.getAttribute("aria-valuetext")).toMatch(/\(100%\)$/);
    expect(await indexed.getAttribute("aria-valuetext")).toMatch(/^3 of 3 .*\(100%\)$/);

    const crawls = tab.locator("section[aria-labelledby=crawls]");
    await crawls.getByText(/2 pages failed — why, and what to do/).click();
    await crawls.getByText(/Disallowed by the site's robots\.txt/).waitFor();
    await crawls.getByText(/HTTP 404: the page does not exist/).waitFor();
    await crawls.getByText(/re-crawled weekly, next/).waitFor();
    const documents = tab.locator("section[aria-labelledby=documents]");
    await documents.getByRole("link", { name: "Menu" }).waitFor();
    await documents.getByRole("button", { name: "Re-sync Menu" }).waitFor();
    await tab.screenshot({ path: path.join(shots, "knowledge-crawl.png"), fullPage: true });
  });
});
