// axe-core on every admin page, in a real Chromium, at a desktop and a phone width, as nobody
// (sign-in, first-admin setup, sign-up), as a platform admin and as a tenant's own admin.
// The pages come from app/routes.ts and the tenant's tabs from TENANT_PAGES, so a page added
// later is checked without touching this test. No serious or critical violation may remain.
// On the way it fills the dashboard like a person would (a document, single and batch asks in
// the playground), so the charts, the transcripts and the batch results are checked too.
// Screenshots of each page and width are kept in test-results/a11y-*.png.
import fs from "node:fs";
import path from "node:path";
import type { RouteConfigEntry } from "@react-router/dev/routes";
import { type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import routes from "../../app/routes.ts";
import { TENANT_PAGES } from "../../app/admin/tenant-nav.tsx";
import { grantTenant, insertAdmin, openControlDb } from "../../app/server/control-db.server.ts";
import { hashPassword } from "../../app/server/access/password.server.ts";
import type { TenantId } from "../../tenants/id.ts";
import { waitForJobs } from "../support/admin.ts";
import { Client, setupTokenFromLogs, startServer, type TestServer } from "../support/server.ts";
import { launchChromium } from "../support/browser.ts";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = fs.existsSync(CHROMIUM);
if (!hasChromium) console.warn(`a11y e2e skipped: no Chromium at ${CHROMIUM}`);

const shots = path.resolve(import.meta.dirname, "../../test-results");
const axeSource = fs.readFileSync(path.resolve("node_modules/axe-core/axe.min.js"), "utf8");
const OWNER = { email: "owner@example.com", password: "correct horse battery staple" };
const TENANT_ADMIN = { email: "tina@tenant.example", password: "tina's long passphrase" };
const VIEWPORTS = [
  { name: "desktop", width: 1200, height: 900 },
  { name: "phone", width: 390, height: 844 },
] as const;

/** Every page route (a .tsx module) of app/routes.ts, as full paths with their parameters. */
function pagePaths(entries: RouteConfigEntry[], parent = ""): string[] {
  return entries.flatMap((entry) => {
    const full = [parent, entry.path ?? ""].filter(Boolean).join("/");
    const own = entry.file.endsWith(".tsx") ? [`/${full}`] : [];
    return [...own, ...pagePaths(entry.children ?? [], full)];
  });
}

// A layout and its index route share a path: each page once.
const allPages = [...new Set(pagePaths(routes))];
const anonymousPages = allPages.filter((p) => /^\/(login|setup|signup)/.test(p));
const tenantBase = "/admin/tenants/:tenantId";
// The tabs, plus any tenant page in the routes that has no tab (it is checked all the same).
const tenantPages = [
  ...new Set([
    ...TENANT_PAGES.map((page) => (page.path ? `${tenantBase}/${page.path}` : tenantBase)),
    ...allPages.filter((p) => p.startsWith(tenantBase)),
  ]),
];
const otherAdminPages = allPages.filter((p) => p.startsWith("/admin") && !p.startsWith(tenantBase));

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: unknown; failureSummary?: string }>;
}

// The pages' CSP allows only nonced scripts: the pages are opened with bypassCSP so axe's
// source can be added (the journey test checks that the pages themselves keep to the CSP).
async function seriousViolations(page: Page): Promise<string[]> {
  await page.addScriptTag({ content: axeSource });
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(context: unknown): Promise<unknown> } }).axe;
    const result = (await axe.run(document)) as { violations: AxeViolation[] };
    return result.violations;
  });
  return violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map(
      (v) =>
        `${v.id} (${v.impact}): ${v.help} — ${v.nodes
          .slice(0, 3)
          .map((n) => `${JSON.stringify(n.target)} ${n.failureSummary ?? ""}`)
          .join(" | ")}`,
    );
}

const slug = (p: string) =>
  p
    .replace(/tn_[0-9a-f]{32}/, "tenant")
    .replace(/[^a-z0-9]+/gi, "-")
    .replace(/^-|-$/g, "") || "root";

describe.skipIf(!hasChromium)("accessibility of every admin page (axe-core)", () => {
  let server: TestServer;
  let browser: Browser;
  let tenantId = "";
  let conversationId = "";
  const checked: string[] = [];

  /** Opens `url` at both widths, runs axe, keeps screenshots; returns the problems found. */
  async function check(
    page: Page,
    who: string,
    url: string,
    ready?: (page: Page) => Promise<void>,
  ) {
    const problems: string[] = [];
    for (const viewport of VIEWPORTS) {
      await page.setViewportSize({ width: viewport.width, height: viewport.height });
      const response = await page.goto(`${server.url}${url}`);
      expect(response?.status(), url).toBeLessThan(400);
      await page.waitForLoadState("networkidle");
      await ready?.(page);
      await page.screenshot({
        path: path.join(
          shots,
          `a11y-${who}-${slug(url.split("?")[0]!)}${url.includes("?") ? "-detail" : ""}-${viewport.name}.png`,
        ),
        fullPage: true,
      });
      // Folded content (the charts' tables, the batch results) is checked open.
      await page.locator("details").evaluateAll((all) => {
        for (const details of all) (details as HTMLDetailsElement).open = true;
      });
      for (const problem of await seriousViolations(page)) {
        problems.push(`${who} ${url} @${viewport.name}: ${problem}`);
      }
    }
    checked.push(`${who} ${url}`);
    return problems;
  }

  const tenantUrl = (pattern: string) => pattern.replace(":tenantId", tenantId);
  const chartsDrawn = async (page: Page) => {
    if (!page.url().includes("/usage")) return;
    await expect
      .poll(() => page.locator(".chart-canvas canvas").count(), { timeout: 20_000 })
      .toBeGreaterThanOrEqual(4);
  };

  beforeAll(async () => {
    fs.mkdirSync(shots, { recursive: true });
    server = await startServer();
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it("finds the pages to check in app/routes.ts", () => {
    expect(anonymousPages).toEqual(expect.arrayContaining(["/login", "/setup"]));
    expect(otherAdminPages).toContain("/admin");
    expect(tenantPages).toEqual(
      expect.arrayContaining([tenantBase, `${tenantBase}/playground`, `${tenantBase}/usage`]),
    );
  });

  it("has no serious problems on the pages before signing in", async () => {
    const page = await browser.newPage({ bypassCSP: true });
    const token = setupTokenFromLogs(server.logs());
    const problems: string[] = [];
    for (const pattern of anonymousPages) {
      if (pattern.includes(":")) continue; // a step of a flow, reached from its first page
      const url = pattern === "/setup" ? `/setup?token=${token}` : pattern;
      problems.push(...(await check(page, "anonymous", url)));
    }
    // The first admin, made through the setup form.
    await page.goto(`${server.url}/setup?token=${token}`);
    await page.getByLabel("E-mail").fill(OWNER.email);
    await page.getByLabel("Password", { exact: true }).fill(OWNER.password);
    await page.getByLabel("Password again").fill(OWNER.password);
    await page.getByRole("button", { name: "Create admin and sign in" }).click();
    await page.getByRole("heading", { name: "Tenants" }).waitFor();
    await page.close();
    expect(problems).toEqual([]);
  });

  it("fills a tenant's dashboard: a document, a tenant admin, single and batch asks", async () => {
    const owner = new Client(server.url);
    const signedIn = await owner.fetch("/login", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(OWNER),
    });
    expect(signedIn.status).toBe(302);
    const made = await owner.json("/api/tenants", { name: "Lumen Coffee" });
    tenantId = ((await made.json()) as { tenant: { id: string } }).tenant.id;
    const added = await owner.json(`/api/tenants/${tenantId}/documents`, {
      type: "text",
      title: "Lumen X2 Care Guide",
      text:
        "The Lumen X2 espresso machine must be descaled every 3 weeks with the Lumen descaler. " +
        "Rinse the steam wand after every use. The warranty covers two years of home use.",
    });
    const [job] = ((await added.json()) as { jobs: { id: number }[] }).jobs;
    const [done] = await waitForJobs(owner, tenantId, [job!.id]);
    expect(done?.state).toBe("done");

    const control = openControlDb(server.dataDir);
    try {
      const tina = insertAdmin(control, {
        email: TENANT_ADMIN.email,
        passwordHash: await hashPassword(TENANT_ADMIN.password),
        role: "tenant",
      });
      grantTenant(control, tina.id, tenantId as TenantId);
    } finally {
      control.close();
    }

    const page = await browser.newPage({ viewport: { width: 1200, height: 900 }, bypassCSP: true });
    await page.goto(`${server.url}/login`);
    await page.getByLabel("E-mail").fill(OWNER.email);
    await page.getByLabel("Password").fill(OWNER.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Tenants" }).waitFor();

    // Single: the same first question twice, so the second comes from the answer cache.
    await page.goto(`${server.url}/admin/tenants/${tenantId}/playground`);
    const answer = page.getByLabel("Answer", { exact: true });
    for (let i = 0; i < 2; i++) {
      if (i === 1) await page.getByRole("button", { name: "New conversation" }).click();
      await page.getByLabel("Your question").fill("How often must the Lumen X2 be descaled?");
      await page.getByRole("button", { name: "Ask", exact: true }).click();
      await expect.poll(() => answer.textContent(), { timeout: 30_000 }).toMatch(/3 weeks/);
      await page.getByText("Answer complete.").waitFor({ state: "attached" });
    }

    // Batch: validation first, then two questions answered with progress and an accordion.
    await page.getByLabel("Batch").check();
    await page.getByRole("button", { name: "Ask 2 questions" }).click();
    await page.getByText("Some questions need attention").waitFor();
    expect(await page.getByLabel("Question 1", { exact: true }).getAttribute("aria-invalid")).toBe(
      "true",
    );
    await page
      .getByLabel("Question 1", { exact: true })
      .fill("How often must the Lumen X2 be descaled?");
    await page.getByLabel("Question 2", { exact: true }).fill("What does the warranty cover?");
    await page.getByRole("button", { name: "Add a question" }).click();
    await expect
      .poll(() =>
        page
          .getByLabel("Question 3", { exact: true })
          .evaluate((el) => el === document.activeElement),
      )
      .toBe(true);
    await page.getByRole("button", { name: "Remove question 3" }).click();
    await page.getByRole("button", { name: "Ask 2 questions" }).click();
    await page.getByText("All 2 answered").waitFor({ timeout: 60_000 });
    const progress = page.getByRole("progressbar", { name: "Questions answered" });
    expect(await progress.getAttribute("aria-valuenow")).toBe("2");
    await page.getByText("1. How often must the Lumen X2 be descaled?").click();
    await page
      .locator(".accordion")
      .getByText(/3 weeks/)
      .first()
      .waitFor();
    await page.locator(".accordion").getByText("Lumen X2 Care Guide").first().waitFor();
    await page.screenshot({ path: path.join(shots, "a11y-batch-results.png"), fullPage: true });
    expect(await seriousViolations(page), "batch results").toEqual([]);

    // The conversations list has them, and a transcript shows the cited source.
    await page.goto(`${server.url}/admin/tenants/${tenantId}/conversations?q=warranty`);
    const first = page.locator(".conversation-list a").first();
    await first.click();
    await page.waitForURL(/id=cv_/);
    conversationId = new URL(page.url()).searchParams.get("id") ?? "";
    await page.locator(".transcript-panel").getByText("Lumen X2 Care Guide").first().waitFor();
    await page.close();
    expect(conversationId).toMatch(/^cv_/);
  });

  it("has no serious problems on any page, as a platform admin", async () => {
    const page = await browser.newPage({ bypassCSP: true });
    await signIn(page, OWNER);
    const problems: string[] = [];
    for (const pattern of otherAdminPages)
      problems.push(...(await check(page, "platform", pattern)));
    for (const pattern of tenantPages) {
      problems.push(...(await check(page, "platform", tenantUrl(pattern), chartsDrawn)));
    }
    problems.push(
      ...(await check(
        page,
        "platform",
        `/admin/tenants/${tenantId}/conversations?id=${conversationId}`,
      )),
    );
    await page.close();
    expect(problems).toEqual([]);
  });

  it("has no serious problems on any page, as the tenant's own admin", async () => {
    const page = await browser.newPage({ bypassCSP: true });
    await signIn(page, TENANT_ADMIN);
    const problems: string[] = [];
    for (const pattern of otherAdminPages) problems.push(...(await check(page, "tenant", pattern)));
    for (const pattern of tenantPages) {
      problems.push(...(await check(page, "tenant", tenantUrl(pattern), chartsDrawn)));
    }
    await page.close();
    expect(problems).toEqual([]);
    console.info(`axe checked ${checked.length} pages at 2 widths:\n${checked.join("\n")}`);
  });

  async function signIn(page: Page, who: { email: string; password: string }) {
    await page.goto(`${server.url}/login`);
    await page.getByLabel("E-mail").fill(who.email);
    await page.getByLabel("Password").fill(who.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Tenants" }).waitFor();
  }
});
