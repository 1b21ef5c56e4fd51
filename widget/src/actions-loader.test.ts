// How an action offer travels through the main bundle: the ask stream's `action` event, the
// chat state that remembers it (and what confirming it did), the view's card that survives
// re-renders, and the loader that fetches the action UI's script on the first offer.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createWindow } from "../test/dom.ts";
import {
  doneEvent,
  type FakeAskServer,
  startFakeAskServer,
  startSse,
  writeEvent,
} from "../test/fake-ask-server.ts";
import { type ActionEvent, type ActionScript, loadActionUi } from "./actions-loader.ts";
import { askStream } from "./ask-client.ts";
import { type AssistantMessage, createChat } from "./chat.ts";
import { readConfig } from "./config.ts";
import { mountView } from "./view.ts";

const offer: ActionEvent = {
  offerId: "of_1",
  name: "handoff_to_human",
  title: "Talk to a person",
  description: "Someone from the team gets back to you.",
  fields: [{ name: "reason", label: "What do you need?", type: "textarea", required: true }],
  contact: true,
  source: "match",
  expiresAt: Date.now() + 600_000,
};

let server: FakeAskServer;
beforeAll(async () => {
  server = await startFakeAskServer((_request, response) => {
    startSse(response);
    writeEvent(response, "sources", { conversationId: "conv_1", sources: [] });
    writeEvent(response, "token", { text: "A person can help." });
    writeEvent(response, "action", offer);
    writeEvent(response, "done", doneEvent({ answer: "A person can help." }));
    response.end();
  });
});
afterAll(() => server.close());

describe("an action offer in the ask stream", () => {
  it("reaches the ask's handler before the answer is done", async () => {
    const onAction = vi.fn();
    const result = await askStream(
      {
        origin: server.origin,
        tenantId: "trial",
        query: "Can I talk to a person?",
        key: "pk_test",
        sessionToken: "tok_1",
      },
      { onAction },
    );
    expect(result.ok).toBe(true);
    expect(onAction).toHaveBeenCalledWith(offer);
  });

  it("stays with its answer in the chat, with what confirming it did", async () => {
    const states: AssistantMessage[] = [];
    const chat = createChat({
      origin: server.origin,
      tenantId: "trial",
      widgetKey: "pk_test",
      storage: null,
      onChange: (state) => states.push(state.messages.at(-1) as AssistantMessage),
    });
    await chat.ask("Can I talk to a person?");
    const answer = chat.state.messages.at(-1) as AssistantMessage;
    expect(answer).toMatchObject({ status: "done", action: offer, text: "A person can help." });
    chat.settleAction(answer.id, "A person will contact you. Reference H1.");
    expect(chat.state.messages.at(-1)).toMatchObject({
      action: offer,
      actionOutcome: "A person will contact you. Reference H1.",
    });
  });
});

describe("the view's action card", () => {
  it("is mounted once per answer and kept, with what the visitor typed, across re-renders", () => {
    const win = createWindow();
    const config = readConfig(
      { src: "https://bitb.example/widget.js", tenant: "trial", key: "pk_test" },
      "https://customer.example/",
    );
    const onActionMount = vi.fn((container: HTMLElement, _message: unknown, _restored: boolean) => {
      container.append(win.document.createElement("input"));
    });
    const view = mountView(
      win.document,
      config,
      { onSubmit: () => true, onRetry: () => {}, onActionMount },
      {},
    );
    win.document.body.append(view.host);
    const answer: AssistantMessage = {
      id: "m2",
      role: "assistant",
      status: "done",
      question: "Can I talk to a person?",
      text: "A person can help.",
      citations: [],
      abstained: false,
      failure: null,
      messageId: 3,
      rating: null,
      action: offer,
    };
    const state = (message: AssistantMessage) => ({
      conversationId: "conv_1",
      busy: false,
      messages: [{ id: "m1", role: "user" as const, text: "Hi" }, message],
    });
    view.render({ conversationId: null, busy: false, messages: [] });
    view.render(state(answer));
    expect(onActionMount).toHaveBeenCalledTimes(1);
    // Asked live (not restored from storage): the UI may move focus to its form.
    expect(onActionMount.mock.calls[0]![2]).toBe(false);
    const card = onActionMount.mock.calls[0]![0];
    card.querySelector("input")!.value = "Billing question";
    view.render(state({ ...answer, rating: "up" }));
    expect(onActionMount).toHaveBeenCalledTimes(1);
    const shown = view.host.shadowRoot!.querySelector(".msg.assistant .action")!;
    expect(shown).toBe(card);
    expect(shown.querySelector("input")!.value).toBe("Billing question");
    // A new chat forgets it.
    view.render({ conversationId: null, busy: false, messages: [] });
    view.render(state(answer));
    expect(onActionMount).toHaveBeenCalledTimes(2);
  });

  it("tells the UI when the answer came back from storage", () => {
    const win = createWindow();
    const config = readConfig(
      { src: "https://bitb.example/widget.js", tenant: "trial", key: "pk_test" },
      "https://customer.example/",
    );
    const onActionMount = vi.fn();
    const view = mountView(win.document, config, {
      onSubmit: () => true,
      onRetry: () => {},
      onActionMount,
    });
    view.render({
      conversationId: "conv_1",
      busy: false,
      messages: [
        {
          id: "m2",
          role: "assistant",
          status: "done",
          question: "?",
          text: "A person can help.",
          citations: [],
          abstained: false,
          failure: null,
          messageId: 3,
          rating: null,
          action: offer,
        },
      ],
    });
    expect(onActionMount.mock.calls[0]![2]).toBe(true);
  });
});

describe("loadActionUi", () => {
  it("adds the action UI's script once, with the page's nonce, and resolves with its mount", async () => {
    const win = createWindow();
    const src = "https://bitb.example/widget/bitb.abc.js";
    const scripts = () => [...win.document.head.querySelectorAll<ActionScript>("script")];
    // A failed download is tried again on the next offer.
    const failed = loadActionUi(win.document, src, "n0nce");
    scripts()[0]!.dispatchEvent(new win.Event("error"));
    await expect(failed).rejects.toThrow(/unreachable/);

    const mount = vi.fn();
    const first = loadActionUi(win.document, src, "n0nce");
    const again = loadActionUi(win.document, src, "n0nce");
    expect(scripts().length).toBe(2);
    const script = scripts()[1]!;
    expect(script.getAttribute("src")).toBe(src);
    expect(script.nonce || script.getAttribute("nonce")).toBe("n0nce");
    script.bitbActions = mount;
    script.dispatchEvent(new win.Event("load"));
    expect(await first).toBe(mount);
    expect(await again).toBe(mount);
  });
});
