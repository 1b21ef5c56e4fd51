// The widget's conversation, without any DOM: an immutable state, the reducer that applies
// ask events to it, and a controller that runs asks, rates answers and remembers the
// conversation (its id and messages, in sessionStorage for 30 idle minutes, so it survives a
// reload or a page change). The view subscribes to changes and re-renders the messages whose
// object changed.
import type { Citation, DoneEvent } from "#app/shared/ask-events.ts";
import {
  type AskFailure,
  type AskOptions,
  type AskResult,
  askStream,
  networkFailure,
} from "./ask-client.ts";
import type { ActionEvent } from "./actions-loader.ts";
import { type Rating, sendFeedback } from "./feedback.ts";
import { isFresh, startSession, type VisitorSession } from "./session.ts";

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
  /** The stored answer's id (from `done`), which feedback refers to. */
  messageId: number | null;
  rating: Rating | null;
  /** An action the answer offers (the ask stream's `action` event), rendered as a card. */
  action?: ActionEvent | null;
  /** What the server said once the visitor confirmed that action. */
  actionOutcome?: string | null;
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
  | { type: "failed"; id: string; failure: AskFailure }
  | { type: "rated"; id: string; rating: Rating | null }
  | { type: "action"; id: string; action: ActionEvent }
  | { type: "actionDone"; id: string; outcome: string }
  | { type: "answered"; userId: string; assistantId: string; question: string; done: DoneEvent }
  | { type: "reset" };

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
            messageId: null,
            rating: null,
          },
        ],
      };
    case "answered": {
      // An answer that arrived whole (a batch question): the question and its final answer.
      const { userId, assistantId, question, done } = action;
      const asked = reduceChat(state, { type: "asked", userId, assistantId, question });
      return reduceChat({ ...asked, busy: state.busy }, { type: "done", id: assistantId, done });
    }
    case "rated":
      return updateAssistant(state, action.id, (message) => ({
        ...message,
        rating: action.rating,
      }));
    case "action":
      return updateAssistant(state, action.id, (message) => ({
        ...message,
        action: action.action,
      }));
    case "actionDone":
      return updateAssistant(state, action.id, (message) => ({
        ...message,
        actionOutcome: action.outcome,
      }));
    case "reset":
      return initialChatState();
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
          messageId: typeof action.done.messageId === "number" ? action.done.messageId : null,
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

export type ConversationStorage = Pick<Storage, "getItem" | "setItem"> &
  Partial<Pick<Storage, "removeItem">>;

export interface ChatOptions extends Pick<AskOptions, "fetch" | "idleTimeoutMs"> {
  origin: string;
  tenantId: string;
  /** The tenant's publishable key, for starting visitor sessions. */
  widgetKey: string;
  /** Where the conversation survives page loads; null when storage is unavailable. */
  storage: ConversationStorage | null;
  onChange(state: ChatState): void;
  /** Called with each answer once it is complete. */
  onAnswer?(message: AssistantMessage): void;
  /** Called with each answer that failed. */
  onError?(message: AssistantMessage): void;
  /** False when the browser knows it is offline (navigator.onLine). */
  isOnline?(): boolean;
  now?(): number;
}

export interface Chat {
  readonly state: ChatState;
  /** Asks a question; false (and nothing sent) when it is empty or an answer is on its way. */
  ask(question: string): Promise<boolean>;
  /** Asks a failed answer's question again. */
  retry(assistantId: string): Promise<boolean>;
  /** Rates a finished answer; true once the server stored it (the view shows it at once). */
  rate(assistantId: string, rating: Rating): Promise<boolean>;
  /** Remembers, with the answer, what confirming its action did. */
  settleAction(assistantId: string, outcome: string): void;
  /** Adds an answer that arrived whole, e.g. from a batch. */
  addAnswer(question: string, done: DoneEvent): void;
  /** Forgets the conversation (stopping an answer on its way) and starts a new one. */
  reset(): void;
  /** The visitor session's token, started when there is none (null: the server refused). */
  sessionToken(): Promise<string | null>;
}

/** Whether a question can be asked now: it has text and no answer is on its way. */
export function canAsk(state: ChatState, question: string): boolean {
  return question.trim() !== "" && !state.busy;
}

export function storageKey(tenantId: string): string {
  return `bitb:conversation:${tenantId}`;
}

/** A stored conversation is forgotten after this long without activity. */
export const CONVERSATION_IDLE_MS = 30 * 60_000;

interface StoredConversation {
  conversationId: string | null;
  messages: ChatMessage[];
  savedAt: number;
  session?: VisitorSession | null;
}

/** The stored conversation's visitor session, if it has a well-formed one. */
export function restoreSession(raw: string | null): VisitorSession | null {
  try {
    const session = (JSON.parse(raw ?? "null") as StoredConversation | null)?.session;
    return typeof session?.token === "string" && typeof session.expiresAt === "number"
      ? session
      : null;
  } catch {
    return null;
  }
}

/** The stored conversation, or a fresh one when there is none or it expired. */
export function restoreChat(raw: string | null, now: number): ChatState {
  if (!raw) return initialChatState();
  // An earlier version stored only the conversation id.
  if (!raw.startsWith("{")) return initialChatState(raw);
  try {
    const stored = JSON.parse(raw) as StoredConversation;
    if (!(now - stored.savedAt <= CONVERSATION_IDLE_MS) || !Array.isArray(stored.messages)) {
      return initialChatState();
    }
    return {
      conversationId: typeof stored.conversationId === "string" ? stored.conversationId : null,
      busy: false,
      // An answer that was on its way when the page went away is lost; offer to ask again.
      messages: stored.messages.map((message) =>
        message.role === "assistant" &&
        (message.status === "pending" || message.status === "streaming")
          ? { ...message, status: "error", failure: networkFailure("interrupted") }
          : message,
      ),
    };
  } catch {
    return initialChatState();
  }
}

export function createChat(options: ChatOptions): Chat {
  const key = storageKey(options.tenantId);
  const now = options.now ?? Date.now;
  const raw = safeGet(options.storage, key);
  let state = restoreChat(raw, now());
  let session = state.messages.length > 0 || state.conversationId ? restoreSession(raw) : null;
  let nextId =
    Math.max(0, ...state.messages.map((message) => Number(message.id.slice(1)) || 0)) + 1;
  // Bumped by reset(), so an answer still on its way to a forgotten conversation is dropped.
  let generation = 0;
  let inFlight: AbortController | null = null;

  function dispatch(action: ChatAction): void {
    state = reduceChat(state, action);
    // Tokens are not saved one by one; the settled answer is.
    if (action.type !== "token") save();
    options.onChange(state);
  }

  function save(): void {
    try {
      if (state.messages.length === 0 && !state.conversationId && !session) {
        options.storage?.removeItem?.(key);
        return;
      }
      const stored: StoredConversation = {
        conversationId: state.conversationId,
        messages: state.messages,
        savedAt: now(),
        session,
      };
      options.storage?.setItem(key, JSON.stringify(stored));
    } catch {
      // Storage full or blocked: the conversation lasts as long as the page.
    }
  }

  /** A fresh session's token; a new session (so a new conversation) when there is none. */
  async function sessionToken(): Promise<string | null> {
    if (isFresh(session, now())) return session.token;
    const mine = generation;
    const started = await startSession(
      options.origin,
      options.tenantId,
      options.widgetKey,
      options.fetch,
    );
    if (mine !== generation || !started) return null;
    session = started;
    save();
    return started.token;
  }

  async function run(id: string, question: string, again = true): Promise<void> {
    const mine = generation;
    let result: AskResult;
    const token = options.isOnline?.() === false ? null : await sessionToken();
    if (mine !== generation) return;
    if (token === null) {
      result = { ok: false, failure: networkFailure("offline") };
    } else {
      const controller = new AbortController();
      inFlight = controller;
      result = await askStream(
        {
          origin: options.origin,
          tenantId: options.tenantId,
          query: question,
          key: options.widgetKey,
          sessionToken: token,
        },
        {
          onSources: (conversationId) => {
            if (mine === generation) dispatch({ type: "sources", id, conversationId });
          },
          onToken: (text) => {
            if (mine === generation) dispatch({ type: "token", id, text });
          },
          onAction: (offer) => {
            if (mine === generation) dispatch({ type: "action", id, action: offer });
          },
        },
        { fetch: options.fetch, idleTimeoutMs: options.idleTimeoutMs, signal: controller.signal },
      );
      // A new chat was started meanwhile: this answer belongs to the forgotten one.
      if (mine !== generation) return;
      inFlight = null;
      // The session expired or was refused: start a new one and ask once more.
      if (!result.ok && result.failure.status === 401 && again) {
        session = null;
        return run(id, question, false);
      }
    }
    dispatch(
      result.ok
        ? { type: "done", id, done: result.done }
        : { type: "failed", id, failure: result.failure },
    );
    const message = state.messages.find((m) => m.id === id) as AssistantMessage;
    if (result.ok) options.onAnswer?.(message);
    else options.onError?.(message);
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
    async rate(assistantId, rating) {
      const message = state.messages.find((m) => m.id === assistantId);
      if (
        message?.role !== "assistant" ||
        message.messageId === null ||
        !session ||
        message.rating === rating
      ) {
        return false;
      }
      const before = message.rating;
      dispatch({ type: "rated", id: assistantId, rating });
      const stored = await sendFeedback(
        {
          origin: options.origin,
          tenantId: options.tenantId,
          key: options.widgetKey,
          sessionToken: session.token,
          messageId: message.messageId,
          rating,
        },
        options.fetch,
      );
      if (!stored) dispatch({ type: "rated", id: assistantId, rating: before });
      return stored;
    },
    settleAction(assistantId, outcome) {
      dispatch({ type: "actionDone", id: assistantId, outcome });
    },
    addAnswer(question, done) {
      const userId = `m${nextId++}`;
      const assistantId = `m${nextId++}`;
      dispatch({ type: "answered", userId, assistantId, question, done });
    },
    reset() {
      generation++;
      inFlight?.abort();
      inFlight = null;
      session = null;
      dispatch({ type: "reset" });
    },
    sessionToken,
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
