// Actions end to end (issue 11, item 6), with the built server (the embedded default, no LLM)
// in a real Chromium: an admin switches on booking (built in, open every day 00:00–23:59) and
// the hand-off to a person; a visitor on a page of another origin asks to book, opens the
// offered form, picks a free time, gives their contact details with consent and confirms;
// then asks for a person and hands off with the keyboard alone. The admin's Actions page
// lists the appointment and the ticket. axe checks the open form in light and dark.
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
if (!hasChromium) console.warn(`actions e2e skipped: no Chromium at ${CHROMIUM}`);

const shots = path.resolve(import.meta.dirname, "../../test-results");
const admin = { email: "owner@example.com", password: "correct horse battery staple" };
const visitor = { name: "Ada Lovelace", email: "ada@example.com", phone: "+44 20 7946 0000" };

/** What has focus inside the widget's shadow root. */
const shadowActive = (page: Page) =>
  page.evaluate(() => {
    const active = document.activeElement?.shadowRoot?.activeElement;
    return active
      ? {
          tag: active.tagName.toLowerCase(),
          type: active.getAttribute("type"),
          autocomplete: active.getAttribute("autocomplete"),
          className: active.className,
          text: active.textContent ?? "",
        }
      : null;
  });

/** Whether focus is on the first field of the last action form. */
const firstFieldFocused = (page: Page) =>
  page.evaluate(() => {
    const root = document.querySelector("bitb-widget")!.shadowRoot!;
    const forms = root.querySelectorAll(".act-form");
    const first = forms[forms.length - 1]?.querySelector("input,select,textarea");
    return Boolean(first) && root.activeElement === first;
  });

/** axe's serious and critical findings in the widget, contrast included, light and dark. */
async function axeFindings(page: Page): Promise<Record<string, string[]>> {
  if (!(await page.evaluate(() => "axe" in window))) {
    await page.addScriptTag({ path: path.resolve("node_modules/axe-core/axe.min.js") });
  }
  const findings: Record<string, string[]> = {};
  for (const colorScheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme, reducedMotion: "reduce" });
    findings[colorScheme] = await page.evaluate(async () => {
      const axe = (
        window as unknown as {
          axe: { run(context: unknown, options: unknown): Promise<Record<string, unknown>> };
        }
      ).axe;
      const result = await axe.run({ include: [["bitb-widget"]] }, { resultTypes: ["violations"] });
      return (result.violations as Array<{ id: string; impact: string; nodes: unknown[] }>)
        .filter((v) => v.impact === "serious" || v.impact === "critical")
        .map((v) => `${v.id} (${v.impact}): ${JSON.stringify(v.nodes).slice(0, 400)}`);
    });
    if (colorScheme === "dark") {
      await page.screenshot({ path: path.join(shots, "actions-2b-booking-form-dark.png") });
    }
  }
  await page.emulateMedia({ colorScheme: "light", reducedMotion: "no-preference" });
  return findings;
}

/** Tomorrow (UTC), as a date input takes it. */
const tomorrow = () => new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);

describe.skipIf(!hasChromium)("a visitor books and hands off through the widget", () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  let site: Page;
  let customerSite: http.Server;
  let tenantId = "";
  let widgetKey = "";
  const pageErrors: string[] = [];
  const cspViolations: string[] = [];

  const shot = (target: Page, name: string) =>
    target.screenshot({ path: path.join(shots, `actions-${name}.png`), fullPage: true });

  beforeAll(async () => {
    fs.mkdirSync(shots, { recursive: true });
    server = await startServer();
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    // The admin pages run under a nonce-based CSP: anything it blocks is reported here.
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

  it("an admin switches on booking and the hand-off", async () => {
    await page.goto(`${server.url}/setup?token=${setupTokenFromLogs(server.logs())}`);
    await page.getByLabel("E-mail").fill(admin.email);
    await page.getByLabel("Password", { exact: true }).fill(admin.password);
    await page.getByLabel("Password again").fill(admin.password);
    await page.getByRole("button", { name: "Create admin and sign in" }).click();
    await page.getByRole("heading", { name: "Tenants" }).waitFor();
    await page.getByLabel("Name").fill("Lumen Coffee");
    await page.getByRole("button", { name: "Create tenant" }).click();
    await page.getByRole("heading", { name: "Lumen Coffee" }).waitFor();
    tenantId = /tenants\/(tn_[0-9a-f]{32})/.exec(page.url())?.[1] ?? "";
    const snippet = (await page.getByLabel("Embed snippet").textContent()) ?? "";
    widgetKey = /data-key="(pk_[A-Za-z0-9_-]+)"/.exec(snippet)?.[1] ?? "";
    expect(widgetKey).not.toBe("");

    customerSite = http.createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      res.end(`<!doctype html><html><head><title>Lumen Coffee</title></head><body>
        <h1>Lumen Coffee</h1><p>Tastings and barista classes.</p>
        <script src="${server.url}/widget.js" data-tenant="${tenantId}" data-key="${widgetKey}" data-title="Ask Lumen" async></script>
      </body></html>`);
    });
    await new Promise<void>((resolve) => customerSite.listen(0, "127.0.0.1", resolve));
    const siteUrl = `http://localhost:${(customerSite.address() as AddressInfo).port}/`;
    await page.getByLabel("Add a site").fill(new URL(siteUrl).origin);
    await page.getByRole("button", { name: "Add site" }).click();
    await page.getByText(`The widget now also works on ${new URL(siteUrl).origin}`).waitFor();

    // The Actions tab.
    await page.getByRole("navigation", { name: "Tenant pages" }).getByText("Actions").click();
    await page.getByRole("heading", { name: "What the bot may do" }).waitFor();
    await page.getByLabel("Book an appointment: on").check();
    await page.getByLabel("Talk to a person: on").check();
    await page.getByRole("button", { name: "Save actions" }).click();
    await page.getByText("Saved. On: Book an appointment, Talk to a person.").waitFor();

    // A webhook without its URL is refused, saying what to do.
    await page.getByLabel("Track an order: on").check();
    await page.getByRole("button", { name: "Save actions" }).click();
    await page
      .getByText("Track an order: Give the webhook URL of your system for this action.")
      .waitFor();
    await page.getByLabel("Track an order: on").uncheck();

    // The webhook signing secret is shown once.
    await page.getByRole("button", { name: "Make a secret" }).click();
    const secret = page.getByLabel("New webhook signing secret");
    await expect.poll(() => secret.textContent()).toMatch(/^whsec_[A-Za-z0-9_-]{20,}$/);
    await page.getByRole("button", { name: "Copy secret" }).waitFor();
    await page.reload();
    await page.getByText("A secret is set.").waitFor();
    expect(await page.getByLabel("New webhook signing secret").count()).toBe(0);

    for (const day of [
      "Monday",
      "Tuesday",
      "Wednesday",
      "Thursday",
      "Friday",
      "Saturday",
      "Sunday",
    ]) {
      await page.getByLabel(`Open on ${day}`).check();
      await page.getByLabel(`${day} from`).fill("00:00");
      await page.getByLabel(`${day} until`).fill("23:59");
    }
    await page.getByRole("button", { name: "Save hours" }).click();
    await page.getByText("Opening hours saved.").waitFor();
    await shot(page, "1-admin-settings");

    // A mistake says what to do.
    await page.getByLabel("Monday until").fill("00:00");
    await page.getByRole("button", { name: "Save hours" }).click();
    await page.getByText("Monday: Closing time must be after opening time.").waitFor();
    await page.getByLabel("Monday until").fill("23:59");
    await page.getByRole("button", { name: "Save hours" }).click();
    await page.getByText("Opening hours saved.").waitFor();

    site = await browser.newPage({ viewport: { width: 1000, height: 900 } });
    site.on("pageerror", (error) => pageErrors.push(error.message));
    await site.goto(siteUrl);
  });

  it("books an appointment: button, form, a free time, contact with consent, confirmed", async () => {
    await site.getByRole("button", { name: "Open chat" }).click();
    const dialog = site.getByRole("dialog", { name: "Ask Lumen" });
    await site.getByLabel("Ask a question").fill("I'd like to book an appointment");
    await dialog.getByRole("button", { name: "Send" }).click();
    const reply = dialog.locator(".msg.assistant").last();
    const card = reply.locator(".act");
    await card.waitFor({ timeout: 30_000 });
    await expect.poll(() => card.locator(".act-title").textContent()).toBe("Book an appointment");
    await card.getByRole("button", { name: "Fill in the form" }).click();
    // Focus moved to the form's first field.
    expect(await firstFieldFocused(site)).toBe(true);

    const day = card.locator('input[type="date"]');
    await day.fill(tomorrow());
    await day.dispatchEvent("change");
    const time = card.locator("select").first();
    // Tomorrow's free times (open from midnight) replace today's.
    await expect
      .poll(() => time.locator("option").nth(1).getAttribute("value"), { timeout: 15_000 })
      .toBe("00:00");
    const slot = "00:00";
    await time.selectOption(slot!);
    await card.getByLabel("Your name").fill(visitor.name);
    await card.getByLabel("E-mail").fill(visitor.email);

    // Without consent nothing is sent.
    await card.getByRole("button", { name: "Confirm" }).click();
    const consentError = card.getByText("Tick this box to let localhost contact you, or cancel.");
    await consentError.waitFor();
    // The open form, with an error showing, passes axe (contrast included) in both themes.
    expect(await axeFindings(site)).toEqual({ light: [], dark: [] });
    await card.getByLabel("I agree that localhost contacts me about this request").check();
    await consentError.waitFor({ state: "hidden" });
    await shot(site, "2-booking-form");
    await card.getByRole("button", { name: "Confirm" }).click();

    const result = card.locator(".act-result");
    await expect.poll(() => result.textContent(), { timeout: 15_000 }).not.toBe("");
    const message = (await result.textContent()) ?? "";
    expect(message).not.toMatch(/expired|did not work|Could not reach/);
    expect(message).toContain(slot!);
    expect(await card.locator("form").count()).toBe(0);
    // Focus moved to the result, which is a live region.
    expect(await shadowActive(site)).toMatchObject({ className: "act-result" });
    expect(await result.getAttribute("role")).toBe("status");
    await shot(site, "3-booked");
  });

  it("hands off to a person with the keyboard alone", async () => {
    const dialog = site.getByRole("dialog", { name: "Ask Lumen" });
    await site.getByLabel("Ask a question").fill("Can I talk to a person?");
    await site.keyboard.press("Enter");
    const reply = dialog.locator(".msg.assistant").last();
    const card = reply.locator(".act");
    await card.waitFor({ timeout: 30_000 });
    await expect.poll(() => card.locator(".act-title").textContent()).toBe("Talk to a person");

    // From the composer, back to the card's button.
    await site.getByLabel("Ask a question").focus();
    for (let i = 0; i < 12; i++) {
      if ((await shadowActive(site))?.text === "Fill in the form") break;
      await site.keyboard.press("Shift+Tab");
    }
    expect(await shadowActive(site)).toMatchObject({ text: "Fill in the form" });
    await site.keyboard.press("Enter");
    expect(await firstFieldFocused(site)).toBe(true);
    await site.keyboard.type("My espresso machine leaks and I need help.");
    for (let i = 0; i < 6 && (await shadowActive(site))?.autocomplete !== "name"; i++) {
      await site.keyboard.press("Tab");
    }
    await site.keyboard.type(visitor.name);
    await site.keyboard.press("Tab");
    await site.keyboard.type(visitor.email);
    await site.keyboard.press("Tab");
    await site.keyboard.type(visitor.phone);
    await site.keyboard.press("Tab");
    expect(await shadowActive(site)).toMatchObject({ type: "checkbox" });
    await site.keyboard.press("Space");
    await site.keyboard.press("Tab");
    expect(await shadowActive(site)).toMatchObject({ text: "Confirm" });
    await site.keyboard.press("Enter");

    const result = card.locator(".act-result");
    await expect.poll(() => result.textContent(), { timeout: 15_000 }).not.toBe("");
    expect(await result.textContent()).not.toMatch(/expired|did not work|Could not reach/);
    expect(await shadowActive(site)).toMatchObject({ className: "act-result" });
    await shot(site, "4-handoff");
    expect(pageErrors).toEqual([]);
  });

  it("the admin's Actions page lists the appointment and the ticket, and marks them done", async () => {
    await page.goto(`${server.url}/admin/tenants/${tenantId}/actions`);
    const appointments = page.locator("section[aria-labelledby=records-appointment]");
    const handoffs = page.locator("section[aria-labelledby=records-handoff]");
    await appointments.getByText(visitor.name).waitFor();
    await appointments.getByText(visitor.email).waitFor();
    await handoffs.getByText(visitor.name).waitFor();
    await handoffs.getByText(visitor.phone).waitFor();
    await shot(page, "5-admin-records");

    // The CSV export holds the booking.
    const href = await appointments
      .getByRole("link", { name: "Export appointments as CSV" })
      .getAttribute("href");
    const csv = await page.request.get(`${server.url}${href}`);
    expect(csv.headers()["content-type"]).toContain("text/csv");
    expect(await csv.text()).toContain(visitor.email);

    await handoffs.getByRole("button", { name: /Mark done/ }).click();
    await page.getByText("Marked done.").waitFor();
    await handoffs.getByText("No open hand-off requests.").waitFor();
    await page.getByRole("link", { name: "Done", exact: true }).click();
    await handoffs.getByText(visitor.name).waitFor();
    expect(cspViolations).toEqual([]);
  });
});
