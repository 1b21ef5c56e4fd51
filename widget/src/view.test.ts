// The view against linkedom's DOM: structure, accessible names, what is rendered for each
// message state, and the events it reports. Focus, layout, style isolation and events
// crossing the shadow boundary need a real browser: tests/e2e/widget.test.ts covers them.
import { describe, expect, it, vi } from "vitest";
import { citation } from "../test/fake-ask-server.ts";
import { click, createWindow, keyEvent } from "../test/dom.ts";
import type { AssistantMessage, ChatState } from "./chat.ts";
import { readConfig, type ServerSettings } from "./config.ts";
import { answerText, mountView, type ViewHandlers, type ViewOptions } from "./view.ts";

function setup(
  attributes: { position?: string; color?: string; language?: string } = {},
  server: ServerSettings | null = null,
  handlers: Partial<ViewHandlers> = {},
  options: ViewOptions = {},
) {
  const win = createWindow();
  const config = readConfig(
    {
      src: "https://bitb.example/widget.js",
      tenant: "trial",
      key: "pk_test",
      title: "Ask Acme",
      ...attributes,
    },
    "https://customer.example/",
    server,
  );
  const onSubmit = vi.fn((text: string) => text.trim() !== "");
  const onRetry = vi.fn();
  const view = mountView(win.document, config, { onSubmit, onRetry, ...handlers }, options);
  win.document.body.append(view.host);
  const shadow = view.host.shadowRoot!;
  const $ = <T extends Element = HTMLElement>(selector: string) =>
    shadow.querySelector<T>(selector)!;
  return { win, view, shadow, $, onSubmit, onRetry };
}

const answer = (overrides: Partial<AssistantMessage>): AssistantMessage => ({
  id: "m2",
  role: "assistant",
  status: "done",
  question: "How?",
  text: "",
  citations: [],
  abstained: false,
  failure: null,
  messageId: null,
  rating: null,
  ...overrides,
});

const state = (assistant: AssistantMessage, busy = false): ChatState => ({
  conversationId: null,
  busy,
  messages: [{ id: "m1", role: "user", text: "How?" }, assistant],
});

describe("mountView", () => {
  it("renders a labelled launcher and a closed chat dialog in a shadow root", () => {
    const { view, $, shadow } = setup();
    expect(view.host.tagName).toBe("BITB-WIDGET");
    const launcher = $(".launcher");
    expect(launcher.getAttribute("aria-label")).toBe("Open chat");
    expect(launcher.getAttribute("aria-expanded")).toBe("false");
    const panel = $('[role="dialog"]');
    expect(panel.getAttribute("aria-label")).toBe("Ask Acme");
    expect(panel.hidden).toBe(true);
    expect($(".title").textContent).toBe("Ask Acme");
    expect($(".close").getAttribute("aria-label")).toBe("Close chat");
    expect($('label[for="bitb-input"]').textContent).toBe("Ask a question");
    expect($("textarea").id).toBe("bitb-input");
    expect($('button[type="submit"]').textContent).toBe("Send");
    expect($(".greeting").textContent).toMatch(/^Hi!/);
    expect(shadow.querySelector("style")?.textContent).toContain(":host{all:initial!important");
  });

  it("puts the configured colour and position into its own styles", () => {
    const { $, shadow } = setup({ position: "bottom-left", color: "#ffd400" });
    expect($(".root").className).toBe("root left");
    const css = shadow.querySelector("style")?.textContent;
    expect(css).toContain("--accent:#ffd400;--accent-text:#111827");
  });

  it("opens from the launcher and closes with the close button or Escape", () => {
    const { win, view, $ } = setup();
    const panel = $('[role="dialog"]');
    click(win, $(".launcher"));
    expect(panel.hidden).toBe(false);
    expect($(".launcher").hidden).toBe(true);
    expect($(".launcher").getAttribute("aria-expanded")).toBe("true");
    click(win, $(".close"));
    expect(panel.hidden).toBe(true);
    expect($(".launcher").hidden).toBe(false);

    view.open();
    const escape = keyEvent(win, "keydown", { key: "Escape" });
    $("textarea").dispatchEvent(escape);
    expect(panel.hidden).toBe(true);
    expect(escape.defaultPrevented).toBe(true);
  });

  it("leaves focus alone when asked to close a closed panel", () => {
    const { view, $ } = setup();
    const focus = vi.spyOn($(".launcher"), "focus");
    view.close();
    expect(focus).not.toHaveBeenCalled();
    view.open();
    view.close();
    expect(focus).toHaveBeenCalledTimes(1);
  });

  it("submits the question from the form or with Enter, clearing the input when taken", () => {
    const { win, $, onSubmit } = setup();
    const input = $<HTMLTextAreaElement>("textarea");
    input.value = "How do I deploy?";
    const submit = new win.Event("submit", { bubbles: true, cancelable: true });
    $("form").dispatchEvent(submit);
    expect(submit.defaultPrevented).toBe(true);
    expect(onSubmit).toHaveBeenLastCalledWith("How do I deploy?");
    expect(input.value).toBe("");

    input.value = "   ";
    input.dispatchEvent(keyEvent(win, "keydown", { key: "Enter" }));
    expect(onSubmit).toHaveBeenLastCalledWith("   ");
    expect(input.value).toBe("   "); // refused, so kept

    onSubmit.mockClear();
    input.dispatchEvent(keyEvent(win, "keydown", { key: "Enter", shiftKey: true }));
    input.dispatchEvent(keyEvent(win, "keydown", { key: "Enter", isComposing: true }));
    expect(onSubmit).not.toHaveBeenCalled();
  });

  it("grows the input with its text", () => {
    const { win, $ } = setup();
    const input = $<HTMLTextAreaElement>("textarea");
    input.dispatchEvent(new win.Event("input"));
    expect(input.getAttribute("style")).toMatch(/height/);
  });
});

describe("render", () => {
  it("shows the question as text and a pending answer while busy", () => {
    const { view, $, shadow } = setup();
    view.render({
      ...state(answer({ status: "pending" }), true),
      messages: [{ id: "m1", role: "user", text: "<b>How?</b>" }, answer({ status: "pending" })],
    });
    expect($(".msg.user").textContent).toBe("<b>How?</b>");
    expect(shadow.querySelector(".msg.user b")).toBeNull();
    expect($(".msg.assistant:not(.greeting)").textContent).toBe("Thinking…");
    expect($(".msg.assistant:not(.greeting)").getAttribute("aria-busy")).toBe("true");
    expect($<HTMLButtonElement>(".send").disabled).toBe(true);
  });

  it("shows streamed text as plain text, then the final answer with its sources", () => {
    const { view, $, shadow } = setup();
    view.render(state(answer({ status: "streaming", text: "Run **fly" }), true));
    const message = $(".msg.assistant:not(.greeting)");
    expect(message.querySelector(".streaming")?.textContent).toBe("Run **fly");

    const citations = [citation(1, { title: "Fly guide" })];
    view.render(state(answer({ text: "Run **fly deploy** [1].", citations })));
    // The same element is updated in place.
    expect($(".msg.assistant:not(.greeting)")).toBe(message);
    expect(message.getAttribute("aria-busy")).toBe("false");
    expect(message.querySelector("strong")?.textContent).toBe("fly deploy");
    expect(message.querySelector("sup a.cite")?.textContent).toBe("[1]");
    expect(message.querySelector(".sources li a")?.textContent).toBe("Fly guide");
    expect($<HTMLButtonElement>(".send").disabled).toBe(false);
    // Screen readers hear the finished answer once, without the markup.
    expect($('[role="status"]').textContent).toBe("Run fly deploy [1].");
    expect(shadow.querySelectorAll(".msg")).toHaveLength(3);
  });

  it("does not re-render messages that did not change", () => {
    const { view, $ } = setup();
    const current = state(answer({ text: "Done." }));
    view.render(current);
    const message = $(".msg.assistant:not(.greeting)");
    message.setAttribute("data-marker", "kept");
    view.render({ ...current, busy: true });
    expect(message.getAttribute("data-marker")).toBe("kept");
  });

  it("mutes an abstention", () => {
    const { view, $ } = setup();
    view.render(state(answer({ text: "I don't know.", abstained: true })));
    expect($(".msg.assistant:not(.greeting)").classList.contains("abstained")).toBe(true);
  });

  it("offers a retry after a lost connection, keeping the partial answer", () => {
    const { win, view, $, onRetry } = setup();
    view.render(
      state(
        answer({
          status: "error",
          text: "Half an",
          failure: {
            kind: "network",
            code: "network_error",
            message: "Connection lost",
            retryable: true,
          },
        }),
      ),
    );
    const message = $(".msg.assistant:not(.greeting)");
    expect(message.querySelector(".streaming")?.textContent).toBe("Half an");
    const error = message.querySelector('.error[role="alert"]')!;
    expect(error.textContent).toBe("Connection lost — retry");
    click(win, error.querySelector("button")!);
    expect(onRetry).toHaveBeenCalledWith("m2");
  });

  it("shows the server's message for other failures, with a retry only when useful", () => {
    const { view, $ } = setup();
    view.render(
      state(
        answer({
          status: "error",
          failure: {
            kind: "http",
            code: "tenant_not_found",
            message: "No such tenant.",
            retryable: false,
          },
        }),
      ),
    );
    expect($(".error").textContent).toBe("No such tenant. ");
    expect($(".error button")).toBeNull();

    view.render(
      state(
        answer({
          status: "error",
          failure: { kind: "server", code: "llm", message: "The model is busy.", retryable: true },
        }),
      ),
    );
    expect($(".error").textContent).toBe("The model is busy. Try again");
  });

  it("jumps to the cited source when a marker is clicked, leaving the page URL alone", () => {
    const { win, view, $ } = setup();
    view.render(state(answer({ text: "See [2].", citations: [citation(2)] })));
    const item = $("#bitb-m2-source-2");
    const scrolled = vi.spyOn(item, "scrollIntoView");
    const event = click(win, $("a.cite"));
    expect(event.defaultPrevented).toBe(true);
    expect(scrolled).toHaveBeenCalled();
    expect(item.classList.contains("flash")).toBe(true);
  });
});

describe("the conversation's tools", () => {
  it("offers copy and thumbs on a finished answer, reporting the rating", () => {
    const onRate = vi.fn();
    const { win, view, $, shadow } = setup({}, null, { onRate });
    view.render(state(answer({ text: "**Yes** [1].", citations: [citation(1)], messageId: 5 })));
    const up = $('[data-rate="up"]');
    expect(up.getAttribute("aria-label")).toBe("Helpful");
    expect(up.getAttribute("aria-pressed")).toBe("false");
    click(win, up);
    expect(onRate).toHaveBeenCalledWith("m2", "up");
    view.render(state(answer({ text: "**Yes** [1].", messageId: 5, rating: "down" })));
    expect($('[data-rate="down"]').getAttribute("aria-pressed")).toBe("true");
    expect($(".copy").getAttribute("aria-label")).toBe("Copy answer");
    // Without a stored message id there is nothing to rate, but still something to copy.
    view.render(state(answer({ id: "m9", text: "Extractive." })));
    expect(shadow.querySelectorAll("[data-rate]")).toHaveLength(0);
    expect(shadow.querySelectorAll(".copy")).toHaveLength(1);
  });

  it("copies an answer's plain text", async () => {
    const writeText = vi.fn(() => Promise.resolve());
    vi.stubGlobal("navigator", { clipboard: { writeText } });
    const { win, view, $ } = setup();
    view.render(state(answer({ text: "Run **`fly deploy`** [1].", citations: [citation(1)] })));
    click(win, $(".copy"));
    await vi.waitFor(() => expect($('[role="status"]').textContent).toBe("Answer copied"));
    expect(writeText).toHaveBeenCalledWith("Run fly deploy [1].");
    vi.unstubAllGlobals();
    expect(answerText("a\n\nb")).toBe("a\nb");
  });

  it("offers the tenant's starter questions until the conversation starts", () => {
    const { win, view, $, onSubmit } = setup({}, { starterQuestions: ["What does it cost?"] });
    const starter = $(".starter");
    expect(starter.textContent).toBe("What does it cost?");
    expect($(".starters").getAttribute("aria-label")).toBe("Suggested questions");
    click(win, starter);
    expect(onSubmit).toHaveBeenCalledWith("What does it cost?");
    view.render(state(answer({ text: "Free." })));
    expect($(".starters").hidden).toBe(true);
    view.render({ conversationId: null, busy: false, messages: [] });
    expect($(".starters").hidden).toBe(false);
    expect(view.host.shadowRoot!.querySelectorAll(".msg:not(.greeting)")).toHaveLength(0);
  });

  it("starts a new chat and toggles the voice greeting's mute", () => {
    const onNewChat = vi.fn();
    const onMuteChange = vi.fn();
    const { win, $ } = setup(
      {},
      { voiceGreeting: true },
      { onNewChat, onMuteChange },
      { muted: true },
    );
    click(win, $(".new"));
    expect(onNewChat).toHaveBeenCalled();
    const mute = $(".mute");
    expect(mute.hidden).toBe(false);
    expect(mute.getAttribute("aria-pressed")).toBe("true");
    click(win, mute);
    expect(mute.getAttribute("aria-pressed")).toBe("false");
    expect(onMuteChange).toHaveBeenLastCalledWith(false);
    expect(setup().$(".mute").hidden).toBe(true);
  });

  it("reports opening and closing", () => {
    const onOpen = vi.fn();
    const onClose = vi.fn();
    const { view } = setup({}, null, { onOpen, onClose });
    view.open();
    view.open();
    view.close();
    expect(onOpen).toHaveBeenCalledTimes(1);
    expect(onClose).toHaveBeenCalledTimes(1);
  });

  it("explains quota, rate limits and being offline in plain words", () => {
    const { view, $ } = setup();
    const failed = (code: string, kind: "http" | "network", retryable: boolean) =>
      state(answer({ status: "error", failure: { kind, code, message: "raw", retryable } }));
    view.render(failed("quota_exceeded", "http", true));
    expect($(".error").textContent).toBe(
      "This assistant has reached its usage limit for now. Please try again later. ",
    );
    view.render(failed("rate_limited", "http", true));
    expect($(".error").textContent).toMatch(/^Too many questions right now.* Try again$/);
    view.render(failed("offline", "network", true));
    expect($(".error").textContent).toBe(
      "You are offline. Check your connection, then try again. Try again",
    );
  });

  it("speaks the visitor's language and sits where the tenant wants it", () => {
    const { $ } = setup({ language: "de" }, { position: "top-left" });
    expect($(".root").className).toBe("root top left");
    expect($(".root").getAttribute("lang")).toBe("de");
    expect($(".launcher").getAttribute("aria-label")).toBe("Chat öffnen");
    expect($(".send").textContent).toBe("Senden");
  });
});
