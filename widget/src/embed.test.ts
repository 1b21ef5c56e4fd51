// Booting the widget in a linkedom page, talking to a local fake of /api/ask.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createWindow } from "../test/dom.ts";
import {
  citation,
  doneEvent,
  type FakeAskServer,
  startFakeAskServer,
  streamAnswer,
} from "../test/fake-ask-server.ts";
import { READY_EVENT } from "./api.ts";
import { boot, findScript } from "./embed.ts";
import type { PrefetchingScript } from "./settings.ts";

let server: FakeAskServer;
beforeAll(async () => {
  server = await startFakeAskServer(() => {});
});
afterAll(() => server.close());
afterEach(() => {
  vi.restoreAllMocks();
});

/** Boots and waits for `window.BiTB` (it appears once the tenant's settings are known). */
async function bootReady(win: Window): Promise<void> {
  const ready = new Promise((resolve) =>
    win.addEventListener(READY_EVENT, resolve, { once: true }),
  );
  expect(boot(win)).toBe(true);
  await ready;
}

const page = (script: string, body = "<body><p>Customer page</p></body>") =>
  createWindow(`<!doctype html><html><head>${script}</head>${body}</html>`);

describe("boot", () => {
  it("mounts the widget, defines window.BiTB and answers through the script's origin", async () => {
    const win = page(
      `<script src="${server.origin}/widget.js" data-tenant="trial" data-key="pk_test" async></script>`,
    );
    const ready = vi.fn();
    win.addEventListener(READY_EVENT, ready);
    await bootReady(win);

    expect(ready).toHaveBeenCalledTimes(1);
    expect(Object.keys(win.BiTB!)).toEqual(["open", "close", "ask", "on", "askMany", "addOn"]);
    expect(Object.isFrozen(win.BiTB)).toBe(true);
    const host = win.document.body.lastElementChild as HTMLElement;
    expect(host.tagName).toBe("BITB-WIDGET");
    const shadow = host.shadowRoot!;

    server.respond(streamAnswer({ answer: "Deploy with **Fly** [1].", citations: [citation(1)] }));
    expect(await win.BiTB!.ask("How do I deploy on Fly?")).toBe(true);
    expect(shadow.querySelector<HTMLElement>('[role="dialog"]')!.hidden).toBe(false);
    expect(shadow.querySelector(".msg.user")?.textContent).toBe("How do I deploy on Fly?");
    expect(shadow.querySelector(".msg.assistant strong")?.textContent).toBe("Fly");
    expect(shadow.querySelector(".sources li")?.textContent).toBe("Document 1");
    expect(server.requests.at(-1)!.body).toEqual({
      tenant_id: "trial",
      query: "How do I deploy on Fly?",
      key: "pk_test",
      session_token: `tok_${server.sessions.length}`,
    });
    expect(server.sessions.at(-1)).toEqual({ key: "pk_test" });

    win.BiTB!.close();
    expect(shadow.querySelector<HTMLElement>('[role="dialog"]')!.hidden).toBe(true);
    win.BiTB!.open();
    expect(shadow.querySelector<HTMLElement>('[role="dialog"]')!.hidden).toBe(false);
  });

  it("sends a question typed into the form, and refuses a second one while answering", async () => {
    const win = page(
      `<script src="${server.origin}/widget.js" data-tenant="tn_1" data-key="pk_test"></script>`,
    );
    await bootReady(win);
    const shadow = (win.document.body.lastElementChild as HTMLElement).shadowRoot!;
    const input = shadow.querySelector("textarea")!;
    const form = shadow.querySelector("form")!;
    server.respond(streamAnswer({ answer: "Slowly.", citations: [], tokenDelayMs: 30 }));

    input.value = "First?";
    form.dispatchEvent(new win.Event("submit", { cancelable: true }));
    expect(input.value).toBe("");
    input.value = "Second?";
    form.dispatchEvent(new win.Event("submit", { cancelable: true }));
    expect(input.value).toBe("Second?");

    await vi.waitFor(() =>
      expect(shadow.querySelector(".msg.assistant p")?.textContent).toBe("Slowly."),
    );
    expect(server.requests.at(-1)!.body.query).toBe("First?");
    expect(shadow.querySelectorAll(".msg.user")).toHaveLength(1);
  });

  it("retries after a lost connection", async () => {
    const win = page(
      `<script src="${server.origin}/widget.js" data-tenant="trial" data-key="pk_test"></script>`,
    );
    await bootReady(win);
    const shadow = (win.document.body.lastElementChild as HTMLElement).shadowRoot!;
    server.respond((_request, response) => {
      response.destroy();
    });
    await win.BiTB!.ask("Flaky?");
    const retry = shadow.querySelector<HTMLButtonElement>(".error button")!;
    expect(retry.textContent).toBe("retry");
    server.respond(streamAnswer({ answer: "Back again.", citations: [] }));
    retry.dispatchEvent(new win.Event("click", { bubbles: true }));
    await vi.waitFor(() =>
      expect(shadow.querySelector(".msg.assistant p")?.textContent).toBe("Back again."),
    );
  });

  it("waits for <body> when it runs from <head> early", async () => {
    const win = page(
      `<script src="${server.origin}/widget.js" data-tenant="trial" data-key="pk_test"></script>`,
    );
    const body = win.document.body;
    let parsed = false;
    Object.defineProperty(win.document, "body", { get: () => (parsed ? body : null) });
    const listen = vi.spyOn(win.document, "addEventListener");
    expect(boot(win)).toBe(true);
    await vi.waitFor(() =>
      expect(listen).toHaveBeenCalledWith("DOMContentLoaded", expect.anything(), { once: true }),
    );
    expect(win.BiTB).toBeUndefined();
    parsed = true;
    win.document.dispatchEvent(new win.Event("DOMContentLoaded"));
    expect(win.BiTB).toBeDefined();
    expect(body.lastElementChild?.tagName).toBe("BITB-WIDGET");
  });

  it("does nothing on a page that already has the widget", async () => {
    const win = page(
      `<script src="${server.origin}/widget.js" data-tenant="trial" data-key="pk_test"></script>`,
    );
    await bootReady(win);
    expect(boot(win)).toBe(false);
    expect(win.document.querySelectorAll("bitb-widget")).toHaveLength(1);
  });

  it("explains in the console what is wrong with the embed code", () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    const missing = page(`<script src="/other.js"></script>`);
    expect(boot(missing)).toBe(false);
    expect(error).toHaveBeenLastCalledWith(expect.stringMatching(/could not find its <script/));

    const empty = page(`<script src="${server.origin}/widget.js" data-tenant=" "></script>`);
    boot(empty);
    expect(error).toHaveBeenLastCalledWith("[BiTB] the script tag needs a data-tenant attribute");
    expect(empty.BiTB).toBeUndefined();
    expect(empty.document.querySelector("bitb-widget")).toBeNull();
  });

  it("keeps working where sessionStorage is blocked", async () => {
    const win = page(
      `<script src="${server.origin}/widget.js" data-tenant="trial" data-key="pk_test"></script>`,
    );
    Object.defineProperty(win, "sessionStorage", {
      get() {
        throw new Error("SecurityError");
      },
    });
    await bootReady(win);
    server.respond(streamAnswer({ answer: "Fine.", citations: [] }));
    expect(await win.BiTB!.ask("Still there?")).toBe(true);
  });
});

describe("boot with the tenant's settings", () => {
  it("applies them under the script's attributes, and caches them for the session", async () => {
    server.settings.set("styled", {
      title: "Server title",
      greeting: "Bonjour !",
      position: "top-left",
      starterQuestions: ["Combien ?"],
      voiceGreeting: true,
      language: "fr",
    });
    const tag = `<script src="${server.origin}/widget.js" data-tenant="styled" data-key="pk_test" data-title="Acme"></script>`;
    const win = page(tag);
    const store = new Map<string, string>();
    const memory = {
      getItem: (key: string) => store.get(key) ?? null,
      setItem: (key: string, value: string) => void store.set(key, value),
      removeItem: (key: string) => void store.delete(key),
    };
    Object.assign(win, { sessionStorage: memory, localStorage: memory });
    const before = server.configRequests;
    await bootReady(win);
    const shadow = win.document.querySelector("bitb-widget")!.shadowRoot!;
    expect(shadow.querySelector(".title")?.textContent).toBe("Acme");
    expect(shadow.querySelector(".greeting")?.textContent).toBe("Bonjour !");
    expect(shadow.querySelector(".root")?.className).toBe("root top left");
    expect(shadow.querySelector(".starter")?.textContent).toBe("Combien ?");
    expect(shadow.querySelector(".launcher")?.getAttribute("aria-label")).toBe("Ouvrir le chat");

    // The next page of the session uses the cached settings.
    const next = page(tag);
    Object.assign(next, { sessionStorage: memory, localStorage: memory });
    await bootReady(next);
    expect(server.configRequests).toBe(before + 1);

    // The greeting is spoken on the first open only, and not once muted.
    const speak = vi.fn();
    class Utterance {
      constructor(readonly text: string) {}
    }
    Object.assign(next, {
      speechSynthesis: { speak, cancel() {} },
      SpeechSynthesisUtterance: Utterance,
    });
    const nextShadow = next.document.querySelector("bitb-widget")!.shadowRoot!;
    next.BiTB!.open();
    next.BiTB!.close();
    next.BiTB!.open();
    expect(speak).toHaveBeenCalledTimes(1);
    nextShadow
      .querySelector<HTMLElement>(".mute")!
      .dispatchEvent(new next.Event("click", { bubbles: true }));
    expect(store.get("bitb:voice-muted")).toBe("1");
  });

  it("uses the settings request widget.js started instead of fetching them again", async () => {
    const win = page(
      `<script src="${server.origin}/widget/bitb.0123456789.js" data-tenant="prefetched" data-key="pk_test"></script>`,
    );
    const script = win.document.querySelector("script") as PrefetchingScript;
    script.bitbSettings = Promise.resolve(Response.json({ title: "From the loader" }));
    const before = server.configRequests;
    await bootReady(win);
    const shadow = win.document.querySelector("bitb-widget")!.shadowRoot!;
    expect(shadow.querySelector(".title")?.textContent).toBe("From the loader");
    expect(server.configRequests).toBe(before);
  });

  it("reports open, close, answer and error to listeners, and rates and resets", async () => {
    const win = page(
      `<script src="${server.origin}/widget.js" data-tenant="trial" data-key="pk_test"></script>`,
    );
    await bootReady(win);
    const seen: string[] = [];
    const stop = win.BiTB!.on("open", () => seen.push("open"));
    win.BiTB!.on("close", () => seen.push("close"));
    win.BiTB!.on("answer", (detail) => seen.push(`answer ${detail.answer} ${detail.messageId}`));
    win.BiTB!.on("error", (detail) => seen.push(`error ${detail.code}`));
    win.BiTB!.on("open", () => {
      throw new Error("a page's broken listener");
    });
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    server.respond(streamAnswer({ answer: "Yes.", citations: [], conversationId: "conv_events" }));
    await win.BiTB!.ask("Events?");
    win.BiTB!.close();
    stop();
    win.BiTB!.open();
    server.respond((_request, response) => {
      response.destroy();
    });
    await win.BiTB!.ask("Again?");
    expect(seen).toEqual(["open", "answer Yes. 1", "close", "error network_error"]);
    expect(logged).toHaveBeenCalled();

    const shadow = win.document.querySelector("bitb-widget")!.shadowRoot!;
    shadow
      .querySelector<HTMLElement>('[data-rate="down"]')!
      .dispatchEvent(new win.Event("click", { bubbles: true }));
    await vi.waitFor(() =>
      expect(server.feedback.at(-1)).toMatchObject({
        key: "pk_test",
        rating: "down",
      }),
    );
    shadow
      .querySelector<HTMLElement>(".new")!
      .dispatchEvent(new win.Event("click", { bubbles: true }));
    expect(shadow.querySelectorAll(".msg:not(.greeting)")).toHaveLength(0);
  });

  it("asks many only with the batch add-on", async () => {
    const win = page(
      `<script src="${server.origin}/widget.js" data-tenant="trial" data-key="pk_test"></script>`,
    );
    await bootReady(win);
    await expect(win.BiTB!.askMany(["A?"])).rejects.toThrow(/widget-batch\.js/);
    const askMany = vi.fn(() => Promise.resolve([]));
    win.BiTB!.addOn((context) => {
      expect(context).toMatchObject({ origin: server.origin, tenantId: "trial" });
      expect(context.conversationId()).toBeNull();
      context.provideBatch(askMany);
      context.addAnswer("Q?", doneEvent({ answer: "A." }));
      context.open();
    });
    await expect(win.BiTB!.askMany(["A?"])).resolves.toEqual([]);
    const shadow = win.document.querySelector("bitb-widget")!.shadowRoot!;
    expect(shadow.querySelector(".msg.user")?.textContent).toBe("Q?");
  });
});

describe("findScript", () => {
  it("prefers the running script and falls back to the widget's tag", () => {
    const win = page(
      `<script src="/a.js"></script><script src="https://x.example/widget.js?v=1" data-tenant="t1"></script>`,
    );
    expect(findScript(win.document)?.getAttribute("data-tenant")).toBe("t1");
    const running = win.document.createElement("script");
    running.setAttribute("data-tenant", "t2");
    Object.defineProperty(win.document, "currentScript", { value: running });
    expect(findScript(win.document)?.getAttribute("data-tenant")).toBe("t2");
  });
});
