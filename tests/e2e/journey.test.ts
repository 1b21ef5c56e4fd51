// A person's journey with the real server in a real Chromium: create the first admin from
// the setup link, create a tenant, upload a document and watch its job finish, ask in the
// playground, then ask through the widget embedded on a page of another origin.
// Screenshots of each step are kept in test-results/.
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setupTokenFromLogs, startServer, type TestServer } from "../support/server.ts";
import { launchChromium } from "../support/browser.ts";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = fs.existsSync(CHROMIUM);
if (!hasChromium) console.warn(`journey e2e skipped: no Chromium at ${CHROMIUM}`);

const fixtures = path.resolve(import.meta.dirname, "../fixtures");
const shots = path.resolve(import.meta.dirname, "../../test-results");
const admin = { email: "owner@example.com", password: "correct horse battery staple" };

describe.skipIf(!hasChromium)("from setup link to a cited answer in the widget", () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  let customerSite: http.Server;
  let tenantId = "";
  const cspViolations: string[] = [];
  let widgetKey = "";

  const shot = (name: string) =>
    page.screenshot({ path: path.join(shots, `journey-${name}.png`), fullPage: true });

  beforeAll(async () => {
    fs.mkdirSync(shots, { recursive: true });
    server = await startServer();
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    // The admin pages run under a nonce-based CSP: any blocked script would be reported here.
    page.on("console", (message) => {
      if (/Content[- ]Security[- ]Policy/i.test(message.text())) cspViolations.push(message.text());
    });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await new Promise((resolve) =>
      customerSite ? customerSite.close(resolve) : resolve(undefined),
    );
  });

  it("creates the first admin from the one-time setup link", async () => {
    const token = setupTokenFromLogs(server.logs());
    await page.goto(`${server.url}/setup?token=${token}`);
    await page.getByLabel("E-mail").fill(admin.email);
    await page.getByLabel("Password", { exact: true }).fill(admin.password);
    await page.getByLabel("Password again").fill(admin.password);
    await shot("1-setup");
    await page.getByRole("button", { name: "Create admin and sign in" }).click();
    await page.getByRole("heading", { name: "Tenants" }).waitFor();
    // The link works once only.
    const again = await fetch(`${server.url}/setup?token=${token}`);
    expect(await again.text()).not.toContain("Create the first admin");
  });

  it("signs out and signs in again, refusing a wrong password", async () => {
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    await page.goto(`${server.url}/admin`);
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    await page.getByLabel("E-mail").fill(admin.email);
    await page.getByLabel("Password").fill("not the password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByText("Wrong e-mail or password.").waitFor();
    await page.getByLabel("Password").fill(admin.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Tenants" }).waitFor();
  });

  it("creates a tenant and ingests a document with visible progress", async () => {
    await page.getByLabel("Name").fill("Lumen Coffee");
    await page.getByRole("button", { name: "Create tenant" }).click();
    await page.getByRole("heading", { name: "Lumen Coffee" }).waitFor();
    tenantId = /tenants\/(tn_[0-9a-f]{32})/.exec(page.url())?.[1] ?? "";
    expect(tenantId).not.toBe("");
    const snippet = (await page.getByLabel("Embed snippet").textContent()) ?? "";
    expect(snippet).toContain(`data-tenant="${tenantId}"`);
    widgetKey = /data-key="(pk_[A-Za-z0-9_-]+)"/.exec(snippet)?.[1] ?? "";
    expect(widgetKey).not.toBe("");

    // Knowledge is added on the tenant's Knowledge tab.
    await page.getByRole("link", { name: "Knowledge", exact: true }).click();
    await page.getByRole("heading", { name: "Add knowledge" }).waitFor();
    await page.getByLabel("Files").setInputFiles(path.join(fixtures, "sample.md"));
    await page.getByRole("button", { name: "Upload" }).click();
    const jobs = page.locator("section[aria-labelledby=jobs]");
    await jobs.getByText("done").waitFor({ timeout: 90_000 });
    await page.locator("section[aria-labelledby=documents]").getByRole("cell").first().waitFor();
    await shot("2-tenant");
  });

  it("streams a cited answer in the playground", async () => {
    await page.goto(`${server.url}/admin/tenants/${tenantId}/playground`);
    await page
      .getByLabel("Your question")
      .fill("How often must the Lumen X2 espresso machine be descaled?");
    await page.getByRole("button", { name: "Ask" }).click();
    const answer = page.getByLabel("Answer", { exact: true });
    await expect.poll(() => answer.textContent(), { timeout: 30_000 }).toMatch(/every 3 weeks/);
    await page.getByText("Lumen X2 Care Guide").first().waitFor();
    await shot("3-playground");
  });

  it("answers through the widget on a customer's page of another origin", async () => {
    customerSite = http.createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      res.end(`<!doctype html><html><head><title>Lumen Coffee</title></head><body>
        <h1>Lumen Coffee</h1><p>Espresso machines for small cafés.</p>
        <script src="${server.url}/widget.js" data-tenant="${tenantId}" data-key="${widgetKey}" data-title="Ask Lumen" async></script>
      </body></html>`);
    });
    await new Promise<void>((resolve) => customerSite.listen(0, "127.0.0.1", resolve));
    // localhost vs 127.0.0.1: a different origin from the BiTB server.
    const siteUrl = `http://localhost:${(customerSite.address() as AddressInfo).port}/`;
    expect(new URL(siteUrl).origin).not.toBe(new URL(server.url).origin);
    // The admin lets the customer's site embed the widget.
    await page.goto(`${server.url}/admin/tenants/${tenantId}`);
    await page.getByLabel("Add a site").fill(new URL(siteUrl).origin);
    await page.getByRole("button", { name: "Add site" }).click();
    await page.getByText(`The widget now also works on ${new URL(siteUrl).origin}`).waitFor();

    const visitor = await browser.newPage();
    await visitor.goto(siteUrl);
    await visitor.getByRole("button", { name: "Open chat" }).click();
    const dialog = visitor.getByRole("dialog", { name: "Ask Lumen" });
    await dialog.waitFor();
    await visitor.getByLabel("Ask a question").fill("How often must the Lumen X2 be descaled?");
    await dialog.getByRole("button", { name: "Send" }).click();
    const reply = dialog.locator(".msg.assistant").last();
    await expect.poll(() => reply.textContent(), { timeout: 30_000 }).toMatch(/3 weeks/);
    await dialog.getByText("Sources").waitFor();
    expect(await reply.locator("sup a.cite").count()).toBeGreaterThan(0);
    await visitor.screenshot({ path: path.join(shots, "journey-4-widget.png") });
    await visitor.close();
  });

  it("hydrated every page without breaking the Content-Security-Policy", async () => {
    await page.goto(`${server.url}/admin`);
    // Client-side navigation only works once React has hydrated the page.
    await page.getByRole("link", { name: "Tenants", exact: true }).first().click();
    await page.getByRole("heading", { name: "Tenants" }).waitFor();
    expect(cspViolations).toEqual([]);
  });
});
