// The embeddable widget in a real Chromium, on a customer's page with hostile CSS, talking
// cross-origin to a local fake of POST /api/ask (the real server's journey is in its own
// test). A visitor opens the chat, asks, watches the answer stream in, follows a citation,
// loses the connection and retries, and closes the chat with Escape.
// The screenshot is kept at test-results/widget.png.
import fs from "node:fs";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildWidget } from "../../widget/build.ts";
import {
  citation,
  type FakeAskServer,
  startFakeAskServer,
  streamAnswer,
} from "../../widget/test/fake-ask-server.ts";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = fs.existsSync(CHROMIUM);
if (!hasChromium) console.warn(`widget e2e skipped: no Chromium at ${CHROMIUM}`);

const ANSWER =
  "To deploy on Fly, run **`fly launch`** once and then `fly deploy` [1].\n" +
  "Each tenant is one SQLite file, replicated with *LiteFS* [2].\n\n" +
  "<img src=x onerror=alert(1)> stays text. See the guide for volumes [1][2].";
const CITATIONS = [
  citation(1, {
    title: "Deploying on Fly",
    url: "https://docs.example.com/deploy/fly",
    headingPath: "Deploy > Fly",
  }),
  citation(2, { title: "README", url: "javascript:alert(1)" }),
];

// Everything a careless or hostile stylesheet can do to elements it can reach.
function hostPage(apiOrigin: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>Acme pricing</title><style>
* { font-size: 40px !important; color: red !important; box-sizing: content-box;
    font-family: "Comic Sans MS", cursive !important; line-height: 3 !important;
    letter-spacing: 4px !important; visibility: visible; }
button { background: lime !important; border: 5px dashed black !important; }
div, p, ol, li, form, textarea, h2 { padding: 30px !important; margin: 20px !important; }
bitb-widget { display: block !important; transform: rotate(3deg) !important; }
</style></head><body>
<h1>Acme pricing</h1><p>Plans and prices.</p>
<script>
  window.pageKeydowns = 0;
  document.addEventListener("keydown", () => window.pageKeydowns++);
  window.globalsBefore = Object.keys(window);
</script>
<script src="${apiOrigin}/widget.js" data-tenant="trial" data-title="Ask Acme" async></script>
</body></html>`;
}

describe.skipIf(!hasChromium)("the chat widget on a customer's page", () => {
  let api: FakeAskServer;
  let host: http.Server;
  let pageUrl: string;
  let browser: Browser;
  let page: Page;
  let buildDir: string;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    buildDir = await mkdtemp(path.join(os.tmpdir(), "bitb-widget-e2e-"));
    const { outFile } = await buildWidget({ outFile: path.join(buildDir, "widget.js") });
    api = await startFakeAskServer(streamAnswer({ answer: ANSWER, citations: CITATIONS }));
    api.files.set("/widget.js", ["text/javascript", await readFile(outFile)]);

    // The customer's page lives on another origin than the widget and its API.
    host = http.createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(hostPage(api.origin));
    });
    await new Promise<void>((resolve) => host.listen(0, "127.0.0.1", resolve));
    pageUrl = `http://127.0.0.1:${(host.address() as AddressInfo).port}/pricing`;

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
      ],
    });
    page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
    page.on("pageerror", (error) => pageErrors.push(error.message));
    page.on("dialog", (dialog) => {
      pageErrors.push(`unexpected dialog: ${dialog.message()}`);
      void dialog.dismiss();
    });
    await page.goto(pageUrl);
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => host?.close(resolve));
    await api?.close();
    await rm(buildDir, { recursive: true, force: true });
  });

  it("answers a question with streamed text and linked sources, untouched by the page's CSS", async () => {
    const launcher = page.getByRole("button", { name: "Open chat" });
    await launcher.click();
    const dialog = page.getByRole("dialog", { name: "Ask Acme" });
    await expect.poll(() => dialog.isVisible()).toBe(true);
    // Focus moved into the question field.
    expect(await page.evaluate(() => document.activeElement?.shadowRoot?.activeElement?.id)).toBe(
      "bitb-input",
    );

    // The page's stylesheet cannot reach inside the widget.
    const look = await dialog.evaluate((panel) => {
      const style = getComputedStyle(panel.querySelector(".greeting")!);
      const send = getComputedStyle(panel.querySelector(".send")!);
      return {
        fontSize: style.fontSize,
        color: style.color,
        letterSpacing: style.letterSpacing,
        sendBackground: send.backgroundColor,
        panelWidth: panel.getBoundingClientRect().width,
      };
    });
    expect(look).toEqual({
      fontSize: "14px",
      color: "rgb(27, 29, 33)",
      letterSpacing: "normal",
      sendBackground: "rgb(37, 70, 216)",
      panelWidth: 380,
    });

    api.respond(
      streamAnswer({
        answer: ANSWER,
        citations: CITATIONS,
        tokenDelayMs: 25,
        conversationId: "conv_e2e_1",
      }),
    );
    await page.keyboard.type("How do I deploy on Fly?");
    await page.keyboard.press("Enter");
    // The visitor's typing never reached the page's own keyboard shortcuts.
    expect(
      await page.evaluate(() => (window as unknown as { pageKeydowns: number }).pageKeydowns),
    ).toBe(0);

    // Tokens appear as they arrive, then the formatted answer replaces them.
    await dialog.locator(".streaming").waitFor();
    await dialog.getByText("Sources").waitFor();
    const answer = dialog.locator(".msg.assistant").last();
    expect(await answer.locator("strong code").textContent()).toBe("fly launch");
    expect(await answer.locator("em").textContent()).toBe("LiteFS");
    expect(await answer.locator("img").count()).toBe(0);
    expect(await answer.textContent()).toContain("<img src=x onerror=alert(1)> stays text.");
    expect(await answer.locator("sup a.cite").allTextContents()).toEqual([
      "[1]",
      "[2]",
      "[1]",
      "[2]",
    ]);

    const sourceLink = answer.getByRole("link", { name: "Deploying on Fly", exact: true });
    expect(await sourceLink.getAttribute("href")).toBe("https://docs.example.com/deploy/fly");
    expect(await sourceLink.getAttribute("target")).toBe("_blank");
    expect(await sourceLink.getAttribute("rel")).toBe("noopener noreferrer");
    // A javascript: URL from the knowledge base is not made a link.
    expect(await answer.getByRole("link", { name: "README", exact: true }).count()).toBe(0);

    // A citation marker takes the visitor to its source, without touching the page's URL.
    await answer.getByRole("link", { name: "Source 2: README" }).first().click();
    expect(await page.evaluate(() => document.activeElement?.shadowRoot?.activeElement?.id)).toBe(
      "bitb-m2-source-2",
    );
    expect(page.url()).toBe(pageUrl);

    // One cross-origin request, after a CORS preflight.
    expect(api.preflights).toBeGreaterThanOrEqual(1);
    expect(api.requests.at(-1)?.body).toEqual({
      tenant_id: "trial",
      query: "How do I deploy on Fly?",
    });
    expect(await page.evaluate(() => sessionStorage.getItem("bitb:conversation:trial"))).toBe(
      "conv_e2e_1",
    );

    await mkdir("test-results", { recursive: true });
    await page.screenshot({ path: "test-results/widget.png" });
  });

  it("continues the conversation, and retries after the connection drops", async () => {
    api.respond((_request, response) => {
      response.destroy();
    });
    const dialog = page.getByRole("dialog", { name: "Ask Acme" });
    await page.getByLabel("Ask a question").fill("And the volumes?");
    await dialog.getByRole("button", { name: "Send" }).click();
    const alert = dialog.getByRole("alert");
    await alert.waitFor();
    expect(await alert.textContent()).toBe("Connection lost — retry");
    expect(api.requests.at(-1)?.body.session_id).toBe("conv_e2e_1");

    api.respond(
      streamAnswer({
        answer: "Create a volume with `fly volumes create` [1].",
        citations: CITATIONS.slice(0, 1),
      }),
    );
    await alert.getByRole("button", { name: "retry" }).click();
    await dialog.locator(".messages").getByText("Create a volume with").waitFor();
    expect(await dialog.getByRole("alert").count()).toBe(0);
    expect(api.requests.at(-1)?.body).toMatchObject({
      query: "And the volumes?",
      session_id: "conv_e2e_1",
    });
  });

  it("shows the server's message when the request is refused", async () => {
    api.respond((_request, response) => {
      response.writeHead(429, { "content-type": "application/json" }).end(
        JSON.stringify({
          error: { code: "rate_limited", message: "Too many questions; wait a minute." },
        }),
      );
    });
    const dialog = page.getByRole("dialog", { name: "Ask Acme" });
    await page.getByLabel("Ask a question").fill("One more?");
    await page.keyboard.press("Enter");
    const refusal = dialog.getByRole("alert");
    await refusal.waitFor();
    expect(await refusal.textContent()).toBe("Too many questions; wait a minute. Try again");
  });

  it("closes with Escape, returning focus to the launcher, and reopens from window.BiTB", async () => {
    await page.keyboard.press("Escape");
    const dialog = page.getByRole("dialog", { name: "Ask Acme" });
    await expect.poll(() => dialog.isVisible()).toBe(false);
    expect(
      await page.evaluate(() =>
        document.activeElement?.shadowRoot?.activeElement?.getAttribute("aria-label"),
      ),
    ).toBe("Open chat");

    api.respond(
      streamAnswer({
        answer: "Yes, with `fly scale count` [1].",
        citations: CITATIONS.slice(0, 1),
      }),
    );
    await page.evaluate(() => window.BiTB!.ask("Can I scale out?"));
    expect(await dialog.isVisible()).toBe(true);
    await dialog.locator(".messages code", { hasText: "fly scale count" }).waitFor();

    // window.BiTB is the only global the widget added.
    const added = await page.evaluate(() => {
      const before = (window as unknown as { globalsBefore: string[] }).globalsBefore;
      return Object.keys(window).filter((key) => !before.includes(key) && key !== "globalsBefore");
    });
    expect(added).toEqual(["BiTB"]);
    expect(pageErrors).toEqual([]);
  });
});
