// The embeddable widget in a real Chromium, on a customer's page with hostile CSS, talking
// cross-origin to a local fake of the public widget API (ask, config, feedback; the real
// server's journey is in its own test). A visitor opens the chat, asks, watches the answer
// stream in, follows a citation, rates and copies it, loses the connection and retries,
// reloads the page and finds the conversation again, asks several questions at once, and
// closes the chat with Escape; another does all of it with the keyboard alone; the voice
// greeting's mute is remembered; axe finds no serious accessibility problem in light or dark.
// The screenshot is kept at test-results/widget.png.
import fs from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { type Browser, type BrowserContext, type Page } from "playwright-core";
import { CHROMIUM, launchChromium } from "../support/browser.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildWidget } from "../../widget/build.ts";
import {
  citation,
  type FakeAskServer,
  startFakeAskServer,
  startSse,
  streamAnswer,
  writeEvent,
} from "../../widget/test/fake-ask-server.ts";

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
<script src="${apiOrigin}/widget.js" data-tenant="trial" data-key="pk_test" data-title="Ask Acme" async></script>
<script src="${apiOrigin}/widget-batch.js" async></script>
</body></html>`;
}

const shadowActive = (page: Page) =>
  page.evaluate(() => {
    const active = document.activeElement?.shadowRoot?.activeElement;
    return active
      ? { id: active.id, label: active.getAttribute("aria-label"), className: active.className }
      : null;
  });

async function newPage(context: BrowserContext, errors: string[]): Promise<Page> {
  const page = await context.newPage();
  page.on("pageerror", (error) => errors.push(error.message));
  return page;
}

describe.skipIf(!hasChromium)("the chat widget on a customer's page", () => {
  let api: FakeAskServer;
  let host: http.Server;
  let pageUrl: string;
  let browser: Browser;
  let page: Page;
  let context: BrowserContext;
  let buildDir: string;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    buildDir = await mkdtemp(path.join(os.tmpdir(), "bitb-widget-e2e-"));
    const built = await buildWidget({ outDir: buildDir });
    api = await startFakeAskServer(streamAnswer({ answer: ANSWER, citations: CITATIONS }));
    api.files.set("/widget.js", ["text/javascript", await readFile(built.loader.file)]);
    api.files.set("/widget-batch.js", ["text/javascript", await readFile(built.batch.file)]);
    for (const name of await readdir(path.join(buildDir, "widget"))) {
      if (name.endsWith(".js")) {
        api.files.set(`/widget/${name}`, [
          "text/javascript",
          await readFile(path.join(buildDir, "widget", name)),
        ]);
      }
    }
    api.settings.set("trial", {
      title: "Server title (the data-title wins)",
      greeting: "Hi! Ask me about Acme.",
      color: "#2546d8",
      position: "bottom-right",
      starterQuestions: ["What does Acme cost?"],
      voiceGreeting: true,
      language: null,
    });

    // The customer's page lives on another origin than the widget and its API.
    host = http.createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(hostPage(api.origin));
    });
    await new Promise<void>((resolve) => host.listen(0, "127.0.0.1", resolve));
    pageUrl = `http://127.0.0.1:${(host.address() as AddressInfo).port}/pricing`;

    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1000, height: 800 } });
    await context.grantPermissions(["clipboard-read", "clipboard-write"], {
      origin: new URL(pageUrl).origin,
    });
    page = await context.newPage();
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
      key: "pk_test",
      session_token: expect.any(String),
    });
    const stored = await page.evaluate(() => sessionStorage.getItem("bitb:conversation:trial"));
    expect(JSON.parse(stored!)).toMatchObject({ conversationId: "conv_e2e_1" });
    // The tenant's settings arrived once: its starter question is offered in the chat.
    expect(api.configRequests).toBe(1);

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
    expect(api.requests.at(-1)?.body.session_token).toBe(api.requests.at(-2)?.body.session_token);

    api.respond(
      streamAnswer({
        answer: "Create a volume with `fly volumes create` [1].",
        citations: CITATIONS.slice(0, 1),
      }),
    );
    await alert.getByRole("button", { name: "retry" }).click();
    await dialog.locator(".messages").getByText("Create a volume with").waitFor();
    expect(await dialog.getByRole("alert").count()).toBe(0);
    // The conversation travels in the signed session token, never as a client-chosen id.
    expect(api.requests.at(-1)?.body).toMatchObject({
      query: "And the volumes?",
      session_token: expect.any(String),
    });
    expect(api.requests.at(-1)?.body).not.toHaveProperty("session_id");
  });

  it("explains a refusal, a spent quota and being offline in plain words", async () => {
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
    expect(await refusal.textContent()).toBe(
      "Too many questions right now. Please wait a moment, then try again. Try again",
    );

    api.respond((_request, response) => {
      response
        .writeHead(402, { "content-type": "application/json" })
        .end(JSON.stringify({ error: { code: "quota_exceeded", message: "Plan limit reached." } }));
    });
    await page.getByLabel("Ask a question").fill("And now?");
    await page.keyboard.press("Enter");
    const quota = dialog.getByRole("alert").last();
    await expect
      .poll(() => quota.textContent())
      .toBe("This assistant has reached its usage limit for now. Please try again later. ");
    expect(await quota.getByRole("button").count()).toBe(0);

    const asks = api.requests.length;
    await context.setOffline(true);
    await page.getByLabel("Ask a question").fill("Offline?");
    await page.keyboard.press("Enter");
    const offline = dialog.getByRole("alert").last();
    await expect
      .poll(() => offline.textContent())
      .toBe("You are offline. Check your connection, then try again. Try again");
    expect(api.requests.length).toBe(asks);
    await context.setOffline(false);
  });

  it("stores a thumbs up with the answer, and copies an answer", async () => {
    const dialog = page.getByRole("dialog", { name: "Ask Acme" });
    const answer = dialog.locator(".msg.assistant", { hasText: "To deploy on Fly" });
    const up = answer.getByRole("button", { name: "Helpful", exact: true });
    await up.click();
    await expect.poll(() => api.feedback.length).toBe(1);
    const sessionToken = await page.evaluate(
      () => JSON.parse(sessionStorage.getItem("bitb:conversation:trial")!).session.token,
    );
    expect(api.feedback[0]).toEqual({
      tenant_id: "trial",
      key: "pk_test",
      session_token: sessionToken,
      message_id: 1,
      rating: "up",
    });
    expect(await up.getAttribute("aria-pressed")).toBe("true");
    expect(
      await answer.getByRole("button", { name: "Not helpful" }).getAttribute("aria-pressed"),
    ).toBe("false");

    await answer.getByRole("button", { name: "Copy answer" }).click();
    await expect.poll(() => dialog.getByRole("status").textContent()).toBe("Answer copied");
    expect(await page.evaluate(() => navigator.clipboard.readText())).toMatch(
      /^To deploy on Fly, run fly launch once/,
    );
  });

  it("keeps the conversation across a reload", async () => {
    const dialog = page.getByRole("dialog", { name: "Ask Acme" });
    const before = await dialog.locator(".msg").allTextContents();
    const sessionToken = await page.evaluate(
      () => JSON.parse(sessionStorage.getItem("bitb:conversation:trial")!).session.token,
    );
    await page.reload();
    await page.waitForFunction(() => Boolean(window.BiTB));
    await page.getByRole("button", { name: "Open chat" }).click();
    await expect.poll(() => dialog.isVisible()).toBe(true);
    expect(await dialog.locator(".msg").allTextContents()).toEqual(before);
    // The settings came from the session's cache, not the network.
    expect(api.configRequests).toBe(1);
    // A follow-up continues the same conversation.
    api.respond(
      streamAnswer({ answer: "Still here.", citations: [], conversationId: "conv_e2e_1" }),
    );
    await page.getByLabel("Ask a question").fill("Still there?");
    await page.keyboard.press("Enter");
    await dialog.locator(".msg").getByText("Still here.").waitFor();
    expect(api.requests.at(-1)?.body.session_token).toBe(sessionToken);
  });

  it("asks several questions at once with widget-batch.js", async () => {
    api.respond(async (request, response) => {
      const queries = request.body.queries ?? [];
      startSse(response);
      writeEvent(response, "batch", {
        conversationId: "conv_e2e_1",
        mode: "parallel",
        count: queries.length,
      } as never);
      const results = queries.map((query, index) => ({
        index,
        query,
        answer: `Answer ${index + 1} [1].`,
        citations: [citation(1)],
        sources: [citation(1)],
        abstained: false,
        degraded: false,
        degradedReason: null,
        provider: "fake",
        model: "fake-model",
        usage: { promptTokens: 1, completionTokens: 1, estimated: true },
        latencyMs: 5,
        error: null,
      }));
      for (const result of results) {
        writeEvent(response, "progress", { index: result.index, state: "done" } as never);
        writeEvent(response, "result", result as never);
      }
      writeEvent(response, "batch_done", {
        conversationId: "conv_e2e_1",
        mode: "parallel",
        results,
        usage: { promptTokens: 2, completionTokens: 2, estimated: true },
        latencyMs: 10,
      } as never);
      response.end();
    });
    const dialog = page.getByRole("dialog", { name: "Ask Acme" });
    const toggle = dialog.getByRole("button", { name: "Several questions" });
    await toggle.click();
    expect(await toggle.getAttribute("aria-pressed")).toBe("true");
    await page.getByLabel("Ask a question").fill("First question?\nSecond question?");
    await page.keyboard.press("Enter");
    await dialog.getByText("Answer 2").waitFor();
    expect(api.requests.at(-1)?.body).toEqual({
      tenant_id: "trial",
      queries: ["First question?", "Second question?"],
      key: "pk_test",
      session_token: expect.any(String),
    });
    const results = await page.evaluate(() =>
      window.BiTB!.askMany(["Third?"]).then((all) => all.map((r) => r.answer)),
    );
    expect(results).toEqual(["Answer 1 [1]."]);
    await toggle.click();
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

  it("has no serious accessibility problems, in light or dark", async () => {
    await page.evaluate(() => window.BiTB!.open());
    await page.addScriptTag({ path: path.resolve("node_modules/axe-core/axe.min.js") });
    for (const colorScheme of ["light", "dark"] as const) {
      await page.emulateMedia({ colorScheme, reducedMotion: "reduce" });
      const violations = await page.evaluate(async () => {
        const axe = (
          window as unknown as {
            axe: { run(context: unknown, options: unknown): Promise<Record<string, unknown>> };
          }
        ).axe;
        const result = await axe.run(
          { include: [["bitb-widget"]] },
          { resultTypes: ["violations"] },
        );
        const panel = document.querySelector("bitb-widget")!.shadowRoot!.querySelector(".panel")!;
        return {
          background: getComputedStyle(panel).backgroundColor,
          // axe did look at the widget's text: contrast was checked and passed.
          contrastChecked: (result.passes as Array<{ id: string }>).some(
            (rule) => rule.id === "color-contrast",
          ),
          serious: (result.violations as Array<{ id: string; impact: string; nodes: unknown[] }>)
            .filter((v) => v.impact === "serious" || v.impact === "critical")
            .map((v) => `${v.id} (${v.impact}): ${JSON.stringify(v.nodes).slice(0, 400)}`),
        };
      });
      expect(violations.serious, colorScheme).toEqual([]);
      expect(violations.contrastChecked).toBe(true);
      expect(violations.background).toBe(
        colorScheme === "dark" ? "rgb(28, 31, 38)" : "rgb(255, 255, 255)",
      );
    }
    await page.emulateMedia({ colorScheme: "light", reducedMotion: "no-preference" });
  });

  it("works with the keyboard alone", async () => {
    const errors: string[] = [];
    const keyboardContext = await browser.newContext({ viewport: { width: 1000, height: 800 } });
    const visitor = await newPage(keyboardContext, errors);
    await visitor.goto(pageUrl);
    await visitor.waitForFunction(() => Boolean(window.BiTB));
    await visitor.keyboard.press("Tab");
    expect(await shadowActive(visitor)).toMatchObject({ label: "Open chat" });
    // Focus is visible on the launcher.
    expect(
      await visitor.evaluate(() => {
        const active = document.activeElement!.shadowRoot!.activeElement!;
        return getComputedStyle(active).outlineStyle;
      }),
    ).toBe("solid");
    await visitor.keyboard.press("Enter");
    expect(await shadowActive(visitor)).toMatchObject({ id: "bitb-input" });

    api.respond(
      streamAnswer({ answer: ANSWER, citations: CITATIONS, conversationId: "conv_kb_1" }),
    );
    await visitor.keyboard.type("How do I deploy on Fly?");
    await visitor.keyboard.press("Enter");
    const dialog = visitor.getByRole("dialog", { name: "Ask Acme" });
    await dialog.getByText("Sources").waitFor();

    // Back from the input through the answer to its first citation marker, and follow it.
    let found = false;
    for (let i = 0; i < 30 && !found; i++) {
      await visitor.keyboard.press("Shift+Tab");
      found = (await shadowActive(visitor))?.label === "Source 1: Deploying on Fly";
    }
    expect(found).toBe(true);
    await visitor.keyboard.press("Enter");
    expect((await shadowActive(visitor))?.id).toMatch(/^bitb-m\d+-source-1$/);

    await visitor.keyboard.press("Escape");
    await expect.poll(() => dialog.isVisible()).toBe(false);
    expect(await shadowActive(visitor)).toMatchObject({ label: "Open chat" });
    expect(errors).toEqual([]);
    await keyboardContext.close();
  });

  it("speaks the greeting on first open, and remembers the mute", async () => {
    const errors: string[] = [];
    const voiceContext = await browser.newContext();
    // Records what would be spoken, on the page's <html> (no new global).
    await voiceContext.addInitScript(() => {
      speechSynthesis.speak = (utterance) => {
        const spoken = document.documentElement.dataset.spoken ?? "";
        document.documentElement.dataset.spoken = spoken + utterance.text + "|";
      };
    });
    const visitor = await newPage(voiceContext, errors);
    await visitor.goto(pageUrl);
    await visitor.waitForFunction(() => Boolean(window.BiTB));
    const spoken = () => visitor.evaluate(() => document.documentElement.dataset.spoken ?? "");
    expect(await spoken()).toBe("");
    await visitor.getByRole("button", { name: "Open chat" }).click();
    expect(await spoken()).toBe("Hi! Ask me about Acme.|");

    const mute = visitor.getByRole("button", { name: "Mute voice greeting" });
    expect(await mute.getAttribute("aria-pressed")).toBe("false");
    await mute.click();
    expect(await mute.getAttribute("aria-pressed")).toBe("true");

    await visitor.reload();
    await visitor.waitForFunction(() => Boolean(window.BiTB));
    await visitor.getByRole("button", { name: "Open chat" }).click();
    expect(await mute.getAttribute("aria-pressed")).toBe("true");
    expect(await spoken()).toBe("");
    expect(errors).toEqual([]);
    await voiceContext.close();
  });
});
