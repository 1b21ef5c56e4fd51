// The widget's conversation, without any DOM: an immutable state, the reducer that applies
// ask events to it, and a controller that runs asks and remembers the conversation id (in
// memory and in sessionStorage, so a follow-up after a page change continues the same
// conversation). The view subscribes to changes and re-renders the messages whose object
// changed.
import type { Citation, DoneEvent } from "#app/ask-events.ts";
import { type AskFailure, type AskOptions, askStream } from "./ask-client.ts";

export interface UserMessage {
  id: string;
  role: "user";
  text: string;
}

export interface AssistantMessage {
  id: string;
  role: "assistant";
  /** pending: asked, nothing received yet; streaming: tokens arriving; then done or error. */
  status: "pending" | "streaming" | "done" | "error";
  /** The question this message answers, kept so a failed ask can be retried. */
  question: string;
  /** The streamed text so far, then the final answer. */
  text: string;
  citations: Citation[];
  abstained: boolean;
  failure: AskFailure | null;
}

export type ChatMessage = UserMessage | AssistantMessage;

export interface ChatState {
  conversationId: string | null;
  messages: ChatMessage[];
  /** True while an answer is on its way; the chat takes one question at a time. */
  busy: boolean;
}

export type ChatAction =
  | { type: "asked"; userId: string; assistantId: string; question: string }
  | { type: "retried"; id: string }
  | { type: "sources"; id: string; conversationId: string }
  | { type: "token"; id: string; text: string }
  | { type: "done"; id: string; done: DoneEvent }
  | { type: "failed"; id: string; failure: AskFailure };

export function initialChatState(conversationId: string | null = null): ChatState {
  return { conversationId, messages: [], busy: false };
}

export function reduceChat(state: ChatState, action: ChatAction): ChatState {
  switch (action.type) {
    case "asked":
      return {
        ...state,
        busy: true,
        messages: [
          ...state.messages,
          { id: action.userId, role: "user", text: action.question },
          {
            id: action.assistantId,
            role: "assistant",
            status: "pending",
            question: action.question,
            text: "",
            citations: [],
            abstained: false,
            failure: null,
          },
        ],
      };
    case "retried":
      return updateAssistant({ ...state, busy: true }, action.id, (message) => ({
        ...message,
        status: "pending",
        text: "",
        failure: null,
      }));
    case "sources":
      return { ...state, conversationId: action.conversationId || state.conversationId };
    case "token":
      return updateAssistant(state, action.id, (message) => ({
        ...message,
        status: "streaming",
        text: message.text + action.text,
      }));
    case "done":
      return updateAssistant(
        {
          ...state,
          busy: false,
          conversationId: action.done.conversationId || state.conversationId,
        },
        action.id,
        (message) => ({
          ...message,
          status: "done",
          // Fall back to the streamed text if the server sent an empty final answer.
          text: action.done.answer || message.text,
          citations: action.done.abstained ? [] : action.done.citations,
          abstained: action.done.abstained,
        }),
      );
    case "failed":
      return updateAssistant({ ...state, busy: false }, action.id, (message) => ({
        ...message,
        status: "error",
        failure: action.failure,
      }));
  }
}

function updateAssistant(
  state: ChatState,
  id: string,
  update: (message: AssistantMessage) => AssistantMessage,
): ChatState {
  return {
    ...state,
    messages: state.messages.map((message) =>
      message.id === id && message.role === "assistant" ? update(message) : message,
    ),
  };
}

export type ConversationStorage = Pick<Storage, "getItem" | "setItem">;

export interface ChatOptions extends Pick<AskOptions, "fetch" | "idleTimeoutMs"> {
  origin: string;
  tenantId: string;
  /** Where the conversation id survives page loads; null when storage is unavailable. */
  storage: ConversationStorage | null;
  onChange(state: ChatState): void;
}

export interface Chat {
  readonly state: ChatState;
  /** Asks a question; false (and nothing sent) when it is empty or an answer is on its way. */
  ask(question: string): Promise<boolean>;
  /** Asks a failed answer's question again. */
  retry(assistantId: string): Promise<boolean>;
}

/** Whether a question can be asked now: it has text and no answer is on its way. */
export function canAsk(state: ChatState, question: string): boolean {
  return question.trim() !== "" && !state.busy;
}

export function storageKey(tenantId: string): string {
  return `bitb:conversation:${tenantId}`;
}

export function createChat(options: ChatOptions): Chat {
  const key = storageKey(options.tenantId);
  let state = initialChatState(safeGet(options.storage, key));
  let nextId = 1;

  function dispatch(action: ChatAction): void {
    const before = state.conversationId;
    state = reduceChat(state, action);
    if (state.conversationId && state.conversationId !== before) {
      safeSet(options.storage, key, state.conversationId);
    }
    options.onChange(state);
  }

  async function run(id: string, question: string): Promise<void> {
    const result = await askStream(
      {
        origin: options.origin,
        tenantId: options.tenantId,
        query: question,
        conversationId: state.conversationId,
      },
      {
        onSources: (conversationId) => dispatch({ type: "sources", id, conversationId }),
        onToken: (text) => dispatch({ type: "token", id, text }),
      },
      { fetch: options.fetch, idleTimeoutMs: options.idleTimeoutMs },
    );
    dispatch(
      result.ok
        ? { type: "done", id, done: result.done }
        : { type: "failed", id, failure: result.failure },
    );
  }

  return {
    get state() {
      return state;
    },
    async ask(question) {
      if (!canAsk(state, question)) return false;
      const text = question.trim();
      const userId = `m${nextId++}`;
      const assistantId = `m${nextId++}`;
      dispatch({ type: "asked", userId, assistantId, question: text });
      await run(assistantId, text);
      return true;
    },
    async retry(assistantId) {
      const message = state.messages.find((m) => m.id === assistantId);
      if (state.busy || message?.role !== "assistant" || message.status !== "error") return false;
      dispatch({ type: "retried", id: assistantId });
      await run(assistantId, message.question);
      return true;
    },
  };
}

// sessionStorage throws in some sandboxed frames and privacy modes; the chat then simply
// forgets the conversation on reload.
function safeGet(storage: ConversationStorage | null, key: string): string | null {
  try {
    return storage?.getItem(key) ?? null;
  } catch {
    return null;
  }
}

function safeSet(storage: ConversationStorage | null, key: string, value: string): void {
  try {
    storage?.setItem(key, value);
  } catch {
    // See safeGet.
  }
}
