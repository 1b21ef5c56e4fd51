// The one global the widget defines, `window.BiTB`, for pages that drive the chat from their
// own buttons (the /demo page's starter questions, for example). Once it exists the widget
// also dispatches a `bitb:ready` event on window.
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
}

export const READY_EVENT = "bitb:ready";

declare global {
  interface Window {
    BiTB?: BiTBApi;
  }
}
