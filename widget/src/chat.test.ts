import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  citation,
  doneEvent,
  type FakeAskServer,
  startFakeAskServer,
  streamAnswer,
} from "../test/fake-ask-server.ts";
import {
  type AssistantMessage,
  canAsk,
  type ChatState,
  type ConversationStorage,
  createChat,
  CONVERSATION_IDLE_MS,
  initialChatState,
  reduceChat,
  restoreChat,
  storageKey,
} from "./chat.ts";

class MemoryStorage implements ConversationStorage {
  items = new Map<string, string>();
  getItem(key: string) {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string) {
    this.items.set(key, value);
  }
  removeItem(key: string) {
    this.items.delete(key);
  }
}

const failingStorage: ConversationStorage = {
  getItem() {
    throw new Error("SecurityError");
  },
  setItem() {
    throw new Error("QuotaExceededError");
  },
};

const assistant = (state: ChatState, index = -1) => state.messages.at(index) as AssistantMessage;

describe("reduceChat", () => {
  const asked = reduceChat(initialChatState(), {
    type: "asked",
    userId: "m1",
    assistantId: "m2",
    question: "How?",
  });

  it("adds the question and a pending answer, and is busy", () => {
    expect(asked.busy).toBe(true);
    expect(asked.messages).toEqual([
      { id: "m1", role: "user", text: "How?" },
      {
        id: "m2",
        role: "assistant",
        status: "pending",
        question: "How?",
        text: "",
        citations: [],
        abstained: false,
        failure: null,
        messageId: null,
        rating: null,
      },
    ]);
  });

  it("appends tokens, replacing only the answer's object", () => {
    const streaming = reduceChat(reduceChat(asked, { type: "token", id: "m2", text: "Hel" }), {
      type: "token",
      id: "m2",
      text: "lo",
    });
    expect(assistant(streaming)).toMatchObject({ status: "streaming", text: "Hello" });
    expect(streaming.messages[0]).toBe(asked.messages[0]);
    expect(streaming.messages[1]).not.toBe(asked.messages[1]);
  });

  it("takes the final answer, citations and conversation id from done", () => {
    const citations = [citation(1)];
    const withSources = reduceChat(asked, { type: "sources", id: "m2", conversationId: "c1" });
    expect(withSources.conversationId).toBe("c1");
    const done = reduceChat(withSources, {
      type: "done",
      id: "m2",
      done: doneEvent({ conversationId: "c1", answer: "Final [1]", citations }),
    });
    expect(done.busy).toBe(false);
    expect(assistant(done)).toMatchObject({ status: "done", text: "Final [1]", citations });
  });

  it("keeps the streamed text if done carries no answer, and drops citations when abstaining", () => {
    const streamed = reduceChat(asked, { type: "token", id: "m2", text: "Streamed" });
    const done = reduceChat(streamed, {
      type: "done",
      id: "m2",
      done: doneEvent({
        conversationId: "",
        answer: "",
        abstained: true,
        citations: [citation(1)],
      }),
    });
    expect(assistant(done)).toMatchObject({ text: "Streamed", abstained: true, citations: [] });
    expect(done.conversationId).toBeNull();
  });

  it("records a failure and resets it on retry", () => {
    const failure = {
      kind: "network",
      code: "x",
      message: "Connection lost",
      retryable: true,
    } as const;
    const failed = reduceChat(asked, { type: "failed", id: "m2", failure });
    expect(failed.busy).toBe(false);
    expect(assistant(failed)).toMatchObject({ status: "error", failure });
    const retried = reduceChat(failed, { type: "retried", id: "m2" });
    expect(retried.busy).toBe(true);
    expect(assistant(retried)).toMatchObject({ status: "pending", text: "", failure: null });
  });

  it("never turns a user message into an answer", () => {
    const state = reduceChat(asked, { type: "token", id: "m1", text: "x" });
    expect(state.messages[0]).toEqual({ id: "m1", role: "user", text: "How?" });
  });
});

describe("canAsk", () => {
  it("needs text and no answer on its way", () => {
    expect(canAsk(initialChatState(), "Hi")).toBe(true);
    expect(canAsk(initialChatState(), "  \n")).toBe(false);
    expect(canAsk({ ...initialChatState(), busy: true }, "Hi")).toBe(false);
  });
});

describe("createChat", () => {
  let server: FakeAskServer;
  beforeAll(async () => {
    server = await startFakeAskServer(() => {});
  });
  afterAll(() => server.close());

  it("streams an answer, keeps the conversation id and sends it with the follow-up", async () => {
    const storage = new MemoryStorage();
    const states: ChatState[] = [];
    const chat = createChat({
      origin: server.origin,
      tenantId: "trial",
      widgetKey: "pk_test",
      storage,
      onChange: (state) => states.push(state),
    });
    server.respond(
      streamAnswer({
        answer: "Run fly deploy [1].",
        citations: [citation(1)],
        conversationId: "c_42",
      }),
    );
    expect(await chat.ask("  How do I deploy on Fly?  ")).toBe(true);
    expect(chat.state.conversationId).toBe("c_42");
    expect(JSON.parse(storage.getItem(storageKey("trial"))!)).toMatchObject({
      conversationId: "c_42",
      messages: chat.state.messages,
    });
    expect(assistant(chat.state)).toMatchObject({ status: "done", text: "Run fly deploy [1]." });
    expect(server.requests.at(-1)!.body.query).toBe("How do I deploy on Fly?");
    // Every token was shown as it arrived.
    expect(states.map((state) => assistant(state).text)).toContain("Run fly ");

    server.respond(streamAnswer({ answer: "Yes.", citations: [], conversationId: "c_42" }));
    await chat.ask("Does it scale?");
    expect(server.requests.at(-1)!.body.session_token).toMatch(/^tok_/);
    expect(server.requests.at(-2)!.body.session_token).toBe(
      server.requests.at(-1)!.body.session_token,
    );
    expect(chat.state.messages).toHaveLength(4);
  });

  it("continues a conversation stored by an earlier page", async () => {
    const storage = new MemoryStorage();
    storage.setItem(storageKey("tn_1"), "c_old");
    const chat = createChat({
      origin: server.origin,
      tenantId: "tn_1",
      widgetKey: "pk_test",
      storage,
      onChange() {},
    });
    expect(chat.state.conversationId).toBe("c_old");
    server.respond(streamAnswer({ answer: "Ok.", citations: [], conversationId: "c_old" }));
    await chat.ask("Again?");
    expect(server.requests.at(-1)!.body).toMatchObject({ tenant_id: "tn_1", key: "pk_test" });
  });

  it("works without storage, or when storage throws", async () => {
    for (const storage of [null, failingStorage]) {
      const chat = createChat({
        origin: server.origin,
        tenantId: "trial",
        widgetKey: "pk_test",
        storage,
        onChange() {},
      });
      server.respond(streamAnswer({ answer: "Ok.", citations: [], conversationId: "c_mem" }));
      await chat.ask("Hi");
      expect(chat.state.conversationId).toBe("c_mem");
    }
  });

  it("takes one question at a time and ignores empty ones", async () => {
    const chat = createChat({
      origin: server.origin,
      tenantId: "trial",
      widgetKey: "pk_test",
      storage: null,
      onChange() {},
    });
    server.respond(streamAnswer({ answer: "Slow answer.", citations: [], tokenDelayMs: 20 }));
    const first = chat.ask("First");
    expect(await chat.ask("Second")).toBe(false);
    expect(await chat.ask("   ")).toBe(false);
    expect(await first).toBe(true);
    expect(chat.state.messages.filter((m) => m.role === "user")).toHaveLength(1);
  });

  it("retries a failed answer with the same question", async () => {
    const chat = createChat({
      origin: server.origin,
      tenantId: "trial",
      widgetKey: "pk_test",
      storage: null,
      onChange() {},
    });
    server.respond((_request, response) => {
      response.destroy();
    });
    await chat.ask("Flaky?");
    const failed = assistant(chat.state);
    expect(failed).toMatchObject({ status: "error", failure: { message: "Connection lost" } });

    expect(await chat.retry("m1")).toBe(false); // a question, not an answer
    server.respond(streamAnswer({ answer: "Now it works.", citations: [] }));
    expect(await chat.retry(failed.id)).toBe(true);
    expect(assistant(chat.state)).toMatchObject({
      id: failed.id,
      status: "done",
      text: "Now it works.",
    });
    expect(server.requests.at(-1)!.body.query).toBe("Flaky?");
    expect(chat.state.messages).toHaveLength(2);
    expect(await chat.retry(failed.id)).toBe(false); // no longer failed
  });
});

describe("the stored conversation", () => {
  const stored = (savedAt: number, messages: unknown[]) =>
    JSON.stringify({ conversationId: "c_1", messages, savedAt });

  it("comes back within 30 idle minutes, with answers cut off by the reload offered again", () => {
    const messages = [
      { id: "m1", role: "user", text: "Q" },
      {
        ...assistant(
          reduceChat(initialChatState(), {
            type: "asked",
            userId: "m1",
            assistantId: "m2",
            question: "Q",
          }),
        ),
      },
    ];
    const state = restoreChat(stored(1000, messages), 1000 + CONVERSATION_IDLE_MS);
    expect(state.conversationId).toBe("c_1");
    expect(state.busy).toBe(false);
    expect(assistant(state)).toMatchObject({
      status: "error",
      failure: { kind: "network", retryable: true },
    });
  });

  it("is forgotten after 30 idle minutes, or when unreadable", () => {
    expect(restoreChat(stored(0, []), CONVERSATION_IDLE_MS + 1)).toEqual(initialChatState());
    expect(restoreChat("{broken", 0)).toEqual(initialChatState());
    expect(restoreChat(JSON.stringify({ savedAt: 0, messages: 3 }), 0)).toEqual(initialChatState());
    expect(restoreChat(null, 0)).toEqual(initialChatState());
  });
});

describe("createChat, beyond asking", () => {
  let server: FakeAskServer;
  beforeAll(async () => {
    server = await startFakeAskServer(() => {});
  });
  afterAll(() => server.close());

  it("survives a new page: messages, conversation and further ids", async () => {
    const storage = new MemoryStorage();
    const first = createChat({
      origin: server.origin,
      tenantId: "t",
      widgetKey: "pk_test",
      storage,
      onChange() {},
    });
    server.respond(streamAnswer({ answer: "One.", citations: [], conversationId: "c_9" }));
    await first.ask("First?");
    const second = createChat({
      origin: server.origin,
      tenantId: "t",
      widgetKey: "pk_test",
      storage,
      onChange() {},
    });
    expect(second.state.messages).toEqual(first.state.messages);
    expect(second.state.conversationId).toBe("c_9");
    server.respond(streamAnswer({ answer: "Two.", citations: [], conversationId: "c_9" }));
    await second.ask("Second?");
    expect(second.state.messages.map((m) => m.id)).toEqual(["m1", "m2", "m3", "m4"]);
    expect(server.requests.at(-1)!.body.session_token).toBe(
      server.requests.at(-2)!.body.session_token,
    );
  });

  it("rates an answer with its message id, and takes the rating back when refused", async () => {
    const storage = new MemoryStorage();
    const chat = createChat({
      origin: server.origin,
      tenantId: "t",
      widgetKey: "pk_test",
      storage,
      onChange() {},
    });
    server.respond(streamAnswer({ answer: "Ok.", citations: [], conversationId: "conv_rated" }));
    await chat.ask("Rate me?");
    const id = assistant(chat.state).id;
    expect(await chat.rate(id, "up")).toBe(true);
    expect(server.feedback.at(-1)).toEqual({
      tenant_id: "t",
      key: "pk_test",
      session_token: server.requests.at(-1)!.body.session_token,
      message_id: 1,
      rating: "up",
    });
    expect(assistant(chat.state).rating).toBe("up");
    expect(await chat.rate(id, "up")).toBe(false); // already so
    expect(await chat.rate("m1", "down")).toBe(false); // a question

    server.feedbackStatus = 404;
    expect(await chat.rate(id, "down")).toBe(false);
    expect(assistant(chat.state).rating).toBe("up");
    server.feedbackStatus = 204;
  });

  it("starts a new chat, dropping an answer still on its way", async () => {
    const storage = new MemoryStorage();
    const chat = createChat({
      origin: server.origin,
      tenantId: "t",
      widgetKey: "pk_test",
      storage,
      onChange() {},
    });
    server.respond(streamAnswer({ answer: "A slow answer.", citations: [], tokenDelayMs: 30 }));
    const asking = chat.ask("Slow?");
    chat.reset();
    expect(chat.state).toEqual(initialChatState());
    expect(storage.getItem(storageKey("t"))).toBeNull();
    await asking;
    expect(chat.state.messages).toEqual([]);
    expect(await chat.ask("   ")).toBe(false);
  });

  it("says it is offline without asking, and reports answers and errors", async () => {
    let online = false;
    const answers: string[] = [];
    const errors: string[] = [];
    const chat = createChat({
      origin: server.origin,
      tenantId: "t",
      widgetKey: "pk_test",
      storage: null,
      onChange() {},
      isOnline: () => online,
      onAnswer: (message) => answers.push(message.text),
      onError: (message) => errors.push(message.failure!.code),
    });
    const asks = server.requests.length;
    await chat.ask("Offline?");
    expect(server.requests.length).toBe(asks);
    expect(assistant(chat.state).failure).toMatchObject({ code: "offline", retryable: true });
    online = true;
    server.respond(streamAnswer({ answer: "Back.", citations: [] }));
    await chat.retry(assistant(chat.state).id);
    expect(answers).toEqual(["Back."]);
    expect(errors).toEqual(["offline"]);
  });

  it("adds an answer that arrived whole", () => {
    const chat = createChat({
      origin: server.origin,
      tenantId: "t",
      widgetKey: "pk_test",
      storage: null,
      onChange() {},
    });
    chat.addAnswer("Batch?", doneEvent({ answer: "Whole [1].", citations: [citation(1)] }));
    expect(chat.state.busy).toBe(false);
    expect(chat.state.messages).toMatchObject([
      { role: "user", text: "Batch?" },
      { role: "assistant", status: "done", text: "Whole [1].", messageId: 1 },
    ]);
  });
});
