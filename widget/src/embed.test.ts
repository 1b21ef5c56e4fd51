// Booting the widget in a linkedom page, talking to a local fake of /api/ask.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createWindow } from "../test/dom.ts";
import {
  citation,
  type FakeAskServer,
  startFakeAskServer,
  streamAnswer,
} from "../test/fake-ask-server.ts";
import { READY_EVENT } from "./api.ts";
import { boot, findScript } from "./embed.ts";

let server: FakeAskServer;
beforeAll(async () => {
  server = await startFakeAskServer(() => {});
});
afterAll(() => server.close());
afterEach(() => {
  vi.restoreAllMocks();
});

const page = (script: string, body = "<body><p>Customer page</p></body>") =>
  createWindow(`<!doctype html><html><head>${script}</head>${body}</html>`);

describe("boot", () => {
  it("mounts the widget, defines window.BiTB and answers through the script's origin", async () => {
    const win = page(
      `<script src="${server.origin}/widget.js" data-tenant="trial" async></script>`,
    );
    const ready = vi.fn();
    win.addEventListener(READY_EVENT, ready);
    expect(boot(win)).toBe(true);

    expect(ready).toHaveBeenCalledTimes(1);
    expect(Object.keys(win.BiTB!)).toEqual(["open", "close", "ask"]);
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
    });

    win.BiTB!.close();
    expect(shadow.querySelector<HTMLElement>('[role="dialog"]')!.hidden).toBe(true);
    win.BiTB!.open();
    expect(shadow.querySelector<HTMLElement>('[role="dialog"]')!.hidden).toBe(false);
  });

  it("sends a question typed into the form, and refuses a second one while answering", async () => {
    const win = page(`<script src="${server.origin}/widget.js" data-tenant="tn_1"></script>`);
    boot(win);
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
    const win = page(`<script src="${server.origin}/widget.js" data-tenant="trial"></script>`);
    boot(win);
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

  it("waits for <body> when it runs from <head> early", () => {
    const win = page(`<script src="${server.origin}/widget.js" data-tenant="trial"></script>`);
    const body = win.document.body;
    let parsed = false;
    Object.defineProperty(win.document, "body", { get: () => (parsed ? body : null) });
    expect(boot(win)).toBe(true);
    expect(win.BiTB).toBeUndefined();
    parsed = true;
    win.document.dispatchEvent(new win.Event("DOMContentLoaded"));
    expect(win.BiTB).toBeDefined();
    expect(body.lastElementChild?.tagName).toBe("BITB-WIDGET");
  });

  it("does nothing on a page that already has the widget", () => {
    const win = page(`<script src="${server.origin}/widget.js" data-tenant="trial"></script>`);
    expect(boot(win)).toBe(true);
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
    const win = page(`<script src="${server.origin}/widget.js" data-tenant="trial"></script>`);
    Object.defineProperty(win, "sessionStorage", {
      get() {
        throw new Error("SecurityError");
      },
    });
    boot(win);
    server.respond(streamAnswer({ answer: "Fine.", citations: [] }));
    expect(await win.BiTB!.ask("Still there?")).toBe(true);
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
