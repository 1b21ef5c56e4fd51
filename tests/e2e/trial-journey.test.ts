// The self-serve trial, start to finish, with the real server in a real Chromium: sign up,
// crawl the business's small website (served by this test on a local port) and watch the
// crawl and its jobs reach 100%, style the widget with the live preview, copy the embed code,
// allow the site and load the widget there (another origin than BiTB's), ask and get a
// streamed answer with citations, then find the question and the usage in the dashboard.
// Screenshots of each step are kept in test-results/trial-*.png.
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "../support/server.ts";
import { launchChromium } from "../support/browser.ts";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = fs.existsSync(CHROMIUM);
if (!hasChromium) console.warn(`trial journey e2e skipped: no Chromium at ${CHROMIUM}`);

const shots = path.resolve(import.meta.dirname, "../../test-results");
const owner = { email: "owner@lumen.example", password: "correct horse battery staple" };

/** The business's website: three linked pages, a robots.txt, and (once made) the embed code. */
function lumenSite(embedCode: () => string): http.Server {
  const page = (title: string, body: string) => `<!doctype html><html lang="en"><head>
    <title>${title} · Lumen Coffee</title></head><body>
    <nav><a href="/">Home</a> <a href="/care">Machine care</a> <a href="/hours">Opening hours</a></nav>
    <main><h1>${title}</h1>${body}</main>${embedCode()}</body></html>`;
  const pages: Record<string, () => string> = {
    "/": () =>
      page(
        "Lumen Coffee",
        "<p>Lumen Coffee sells and services espresso machines for small cafés in Lyon.</p>",
      ),
    "/care": () =>
      page(
        "Lumen X2 Care Guide",
        `<p>This guide explains how to keep the Lumen X2 espresso machine in good working order.</p>
       <h2>Descaling</h2><p>The Lumen X2 espresso machine must be descaled every 3 weeks. Use the
       Lumen citric descaler and run the DESCALE programme from the settings menu; it takes about
       25 minutes.</p><h2>Error codes</h2><p>E4 means the brew unit is not seated.</p>`,
      ),
    "/hours": () =>
      page(
        "Opening hours",
        "<p>The Lumen Coffee workshop is open Monday to Friday from 8 am to 6 pm.</p>",
      ),
  };
  return http.createServer((req, res) => {
    const pathname = new URL(req.url ?? "/", "http://site").pathname;
    if (pathname === "/robots.txt") {
      res.writeHead(200, { "content-type": "text/plain" });
      return res.end("User-agent: *\nAllow: /\n");
    }
    // Built on each request: the embed code is added once the trial's step 4 has made it.
    const html = pages[pathname]?.();
    res.writeHead(html ? 200 : 404, { "content-type": "text/html; charset=utf-8" });
    res.end(html ?? "<h1>Not found</h1>");
  });
}

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)),
  );
}

describe.skipIf(!hasChromium)(
  "the self-serve trial, from sign-up to an answer on a customer's site",
  () => {
    let server: TestServer;
    let browser: Browser;
    let context: BrowserContext;
    let page: Page;
    let customerSite: http.Server | undefined;
    let sitePort = 0;
    let tenantId = "";
    let embedCode = "";
    const cspViolations: string[] = [];

    const shot = (target: Page, name: string) =>
      target.screenshot({ path: path.join(shots, `trial-${name}.png`), fullPage: true });

    beforeAll(async () => {
      fs.mkdirSync(shots, { recursive: true });
      const site = lumenSite(() => embedCode);
      customerSite = site;
      sitePort = await listen(site);
      server = await startServer({ env: { SIGNUP_ENABLED: "true" } });
      browser = await launchChromium();
      context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.url });
      page = await context.newPage();
      page.on("console", (message) => {
        if (/Content[- ]Security[- ]Policy/i.test(message.text()))
          cspViolations.push(message.text());
      });
    }, 180_000);

    afterAll(async () => {
      await browser?.close();
      await server?.stop();
      await new Promise((resolve) => (customerSite ? customerSite.close(resolve) : resolve(null)));
    });

    it("step 1: signs up and lands on step 2, signed in", async () => {
      await page.goto(`${server.url}/`);
      await page.getByRole("link", { name: "Start a free trial" }).click();
      await page.getByRole("heading", { name: "Start your free trial" }).waitFor();
      // A too-short password is refused with a message saying what to do.
      await page.getByLabel("E-mail").fill(owner.email);
      await page.getByLabel("Business name").fill("Lumen Coffee");
      await page.getByLabel("Password", { exact: true }).fill("short");
      await page.getByLabel("Industry (optional)").selectOption("restaurant");
      await page.getByRole("button", { name: "Create my assistant" }).click();
      await page.getByText("Choose a password of at least 10 characters.").first().waitFor();
      await page.getByLabel("Password", { exact: true }).fill(owner.password);
      await shot(page, "1-signup");
      await page.getByRole("button", { name: "Create my assistant" }).click();
      await page.waitForURL(/\/signup\/knowledge$/);
      await page.getByRole("heading", { name: "Set up Lumen Coffee" }).waitFor();
      await page.getByText("Trial until").waitFor();
    });

    it("step 2: crawls the business's website and watches the crawl reach 100%", async () => {
      const site = `http://127.0.0.1:${sitePort}/`;
      await page.getByLabel("Website address").fill(site);
      await page.getByLabel("Pages at most").fill("10");
      await page.getByRole("button", { name: "Crawl website" }).click();
      await page.getByText("The crawl has started").waitFor();
      const fetched = page.getByRole("progressbar", { name: `Pages fetched of ${site}` });
      const indexed = page.getByRole("progressbar", { name: `Pages indexed of ${site}` });
      const complete = async (bar: typeof fetched) => {
        const [now, max] = await Promise.all([
          bar.getAttribute("aria-valuenow"),
          bar.getAttribute("aria-valuemax"),
        ]);
        return Number(max) > 0 && now === max ? Number(max) : 0;
      };
      await expect.poll(() => complete(fetched), { timeout: 150_000 }).toBeGreaterThanOrEqual(3);
      await expect.poll(() => complete(indexed), { timeout: 150_000 }).toBeGreaterThanOrEqual(3);
      await page.locator(".crawl-head").getByText("done").waitFor({ timeout: 90_000 });
      await page.getByText("Everything you added has been processed.").waitFor({ timeout: 90_000 });
      // Every page's ingestion job reached 100% too.
      const jobBars = page.locator(".job-list").getByRole("progressbar");
      expect(await jobBars.count()).toBe(3);
      for (const bar of await jobBars.all()) {
        expect(await bar.getAttribute("aria-valuenow")).toBe(
          await bar.getAttribute("aria-valuemax"),
        );
      }
      // The knowledge-base check runs by itself once indexing has settled.
      await page
        .locator('[data-testid=kb-check][data-state="done"]')
        .waitFor({ timeout: 90_000 })
        .catch(async (error: Error) => {
          // Say what the page and the server's check scheduler were doing.
          const checkLog = server
            .logs()
            .split("\n")
            .filter((line) => line.includes("kb-check"))
            .slice(-20);
          throw new Error(
            `${error.message}\npage: ${await page.locator("main").innerText()}\n` +
              `server (kb-check):\n${checkLog.join("\n")}`,
          );
        });
      expect(await page.getByTestId("kb-count-documents").textContent()).toBe("3");
      await shot(page, "2-knowledge");
      await page.getByRole("button", { name: "Continue to styling" }).click();
      await page.waitForURL(/\/signup\/widget$/);
    }, 300_000);

    it("step 3: styles the widget and sees the real widget change in the live preview", async () => {
      const preview = page.frameLocator('iframe[title="Live preview of your chat widget"]');
      await preview.getByRole("dialog", { name: "Chat" }).waitFor({ timeout: 30_000 });
      await page.getByLabel("Chat title").fill("Ask Lumen");
      await page.getByLabel("Accent colour", { exact: true }).fill("#aa3300");
      await page.getByLabel("Bottom left").check();
      await page
        .getByLabel("Greeting", { exact: true })
        .fill("Welcome to Lumen! Ask about your machine.");
      await page
        .getByLabel("Starter questions")
        .fill("How often must the Lumen X2 be descaled?\nWhat does error E4 mean?");
      // Typing does not move the focus into the preview.
      expect(await page.evaluate(() => document.activeElement?.getAttribute("name") ?? "")).toBe(
        "starterQuestions",
      );
      // The preview re-renders the real widget with the draft, before anything is saved.
      const dialog = preview.getByRole("dialog", { name: "Ask Lumen" });
      await dialog.waitFor({ timeout: 30_000 });
      await dialog.getByText("Welcome to Lumen! Ask about your machine.").waitFor();
      await dialog.getByText("What does error E4 mean?").waitFor();
      await page.getByText("Showing your changes, not saved yet.").waitFor();
      const box = await page
        .locator('iframe[title="Live preview of your chat widget"]')
        .boundingBox();
      const panel = await dialog.boundingBox();
      expect(box && panel && panel.x - box.x < box.width / 2).toBe(true); // bottom left
      await shot(page, "3-style");
      await page.getByRole("button", { name: "Save and continue" }).click();
      await page.waitForURL(/\/signup\/embed$/);
    });

    it("step 4: copies the embed code and allows the customer's site", async () => {
      embedCode = (await page.getByLabel("Embed code", { exact: true }).textContent()) ?? "";
      tenantId = /data-tenant="(tn_[0-9a-f]{32})"/.exec(embedCode)?.[1] ?? "";
      expect(tenantId).not.toBe("");
      await page.getByRole("button", { name: "Copy the embed code" }).click();
      await page.getByText("Copied to the clipboard.").waitFor();
      expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(embedCode);

      // localhost vs 127.0.0.1: another origin than the BiTB server.
      const siteOrigin = `http://localhost:${sitePort}`;
      expect(siteOrigin).not.toBe(new URL(server.url).origin);
      await page.getByLabel("Allowed domains, one per line").fill(siteOrigin);
      await page.getByRole("button", { name: "Save allowed domains" }).click();
      await page.getByText("The widget now works on 1 site").waitFor();
      // The test page BiTB serves holds the same snippet.
      const [testPage] = await Promise.all([
        context.waitForEvent("page"),
        page.getByRole("link", { name: /Open the test page/ }).click(),
      ]);
      await testPage.getByRole("button", { name: "Open chat" }).waitFor({ timeout: 30_000 });
      await testPage.close();
      await shot(page, "4-embed");
      await page.getByRole("button", { name: "Finish and open the dashboard" }).click();
      await page.waitForURL(new RegExp(`/admin/tenants/${tenantId}$`));
    });

    it("answers with citations through the widget on the customer's site", async () => {
      const visitor = await browser.newPage({ viewport: { width: 1100, height: 800 } });
      const problems: string[] = [];
      visitor.on("console", (m) => problems.push(`console ${m.type()}: ${m.text()}`));
      visitor.on("requestfailed", (r) =>
        problems.push(`failed ${r.url()}: ${r.failure()?.errorText}`),
      );
      visitor.on("response", (r) => {
        if (r.status() >= 400) problems.push(`${r.status()} ${r.url()}`);
      });
      await visitor.goto(`http://localhost:${sitePort}/care`);
      await visitor
        .getByRole("button", { name: "Open chat" })
        .waitFor({ timeout: 30_000 })
        .catch(async (error: unknown) => {
          throw new Error(`${String(error)}\n${problems.join("\n")}\n${await visitor.content()}`);
        });
      await visitor.getByRole("button", { name: "Open chat" }).click();
      const dialog = visitor.getByRole("dialog", { name: "Ask Lumen" });
      await dialog.waitFor();
      await dialog.getByText("Welcome to Lumen! Ask about your machine.").waitFor();
      // A starter question asks with one click.
      await dialog
        .getByRole("button", { name: "How often must the Lumen X2 be descaled?" })
        .click();
      const reply = dialog.locator(".msg.assistant").last();
      await expect.poll(() => reply.textContent(), { timeout: 60_000 }).toMatch(/3 weeks/);
      await dialog.getByText("Sources").waitFor();
      expect(await reply.locator("sup a.cite").count()).toBeGreaterThan(0);
      await shot(visitor, "5-widget");
      await visitor.close();
    });

    it("shows the question and the usage in the tenant's dashboard", async () => {
      await page.goto(`${server.url}/admin/tenants/${tenantId}`);
      // One question in the overview's usage summary, asked through the widget.
      const usage = page.locator("section[aria-labelledby=usage]");
      await expect.poll(() => usage.textContent()).toMatch(/1 question and [\d,]+ tokens/);
      // The trial's token budget counts the answer's tokens.
      const plan = (await page.getByText(/^Plan trial: [\d,]+ tokens used/).textContent()) ?? "";
      expect(Number(/([\d,]+) tokens used/.exec(plan)?.[1]?.replace(/,/g, ""))).toBeGreaterThan(0);
      await shot(page, "6-dashboard");
      // The conversation, with the answer's citations, on the Conversations tab.
      await page
        .getByRole("navigation", { name: "Tenant pages" })
        .getByRole("link", { name: "Conversations" })
        .click();
      const list = page.locator("section[aria-labelledby=conversation-list]");
      await list.getByRole("link", { name: /How often must the Lumen X2 be descaled\?/ }).click();
      const transcript = page.locator("section[aria-labelledby=transcript-heading]");
      await transcript
        .getByText(/3 weeks/)
        .first()
        .waitFor();
      expect(await transcript.getByRole("list", { name: "Sources" }).count()).toBeGreaterThan(0);
      await shot(page, "6b-conversation");
      // The usage charts.
      await page
        .getByRole("navigation", { name: "Tenant pages" })
        .getByRole("link", { name: "Usage" })
        .click();
      await page.getByRole("heading", { level: 1, name: "Usage" }).waitFor();
      await shot(page, "6c-usage");
      await page.goto(`${server.url}/admin/tenants/${tenantId}/widget`);
      await page.getByRole("heading", { name: "Look and feel" }).waitFor();
      await expect.poll(() => page.getByLabel("Chat title").inputValue()).toBe("Ask Lumen");
      await shot(page, "7-widget-tab");
      expect(cspViolations).toEqual([]);
    });

    it("fits a phone's width: the steps and the Widget tab scroll only vertically", async () => {
      await page.setViewportSize({ width: 375, height: 812 });
      for (const path of ["/signup", "/signup/knowledge", "/signup/widget", "/signup/embed"]) {
        await page.goto(`${server.url}${path}`);
        await page.getByRole("navigation", { name: "Sign-up steps" }).waitFor();
        const overflow = await page.evaluate(
          () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
        );
        expect(overflow, path).toBeLessThanOrEqual(0);
      }
      await page.goto(`${server.url}/admin/tenants/${tenantId}/widget`);
      await page.getByRole("heading", { name: "Look and feel" }).waitFor();
      expect(
        await page.evaluate(
          () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
        ),
      ).toBeLessThanOrEqual(0);
      await shot(page, "8-phone-widget-tab");
    });
  },
);
