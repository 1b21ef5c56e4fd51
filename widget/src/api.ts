// The one global the widget defines, `window.BiTB`, for pages that drive the chat from their
// own buttons (the /demo page's starter questions, for example) or listen to it. Once it
// exists the widget also dispatches a `bitb:ready` event on window.
import type { BatchResult, Citation, DoneEvent } from "#app/shared/ask-events.ts";
import type { ViewParts } from "./view.ts";

export interface AnswerDetail {
  question: string;
  answer: string;
  citations: Citation[];
  conversationId: string | null;
  messageId: number | null;
}

export interface ErrorDetail {
  question: string;
  code: string;
  message: string;
}

export interface BiTBEvents {
  open: undefined;
  close: undefined;
  answer: AnswerDetail;
  error: ErrorDetail;
}

/** What widget-batch.js (or another add-on) gets to work with. */
export interface AddOnContext {
  origin: string;
  tenantId: string;
  /** The publishable key, and the visitor session's token (made when there is none). */
  key: string;
  sessionToken(): Promise<string | null>;
  view: ViewParts;
  conversationId(): string | null;
  /** Adds a question and its finished answer to the conversation. */
  addAnswer(question: string, done: DoneEvent): void;
  open(): void;
  /** Makes `BiTB.askMany` work. */
  provideBatch(askMany: (questions: string[]) => Promise<BatchResult[]>): void;
}

export interface BiTBApi {
  /** Opens the chat panel and moves focus into its input. */
  open(): void;
  /** Closes the chat panel and returns focus to the launcher. */
  close(): void;
  /**
   * Opens the panel and asks a question. Resolves to false (nothing sent) when the text is
   * empty or an answer is still on its way, else to true once the answer has arrived (or
   * failed, which the chat shows).
   */
  ask(text: string): Promise<boolean>;
  /** Listens to the widget; returns a function that stops listening. */
  on<K extends keyof BiTBEvents>(event: K, listener: (detail: BiTBEvents[K]) => void): () => void;
  /** Asks several questions at once; needs widget-batch.js on the page. */
  askMany(questions: string[]): Promise<BatchResult[]>;
  /** How widget-batch.js plugs in without a second global. */
  addOn(install: (context: AddOnContext) => void): void;
}

export { READY_EVENT } from "../../app/shared/widget-contract.ts";

declare global {
  interface Window {
    BiTB?: BiTBApi;
  }
}
