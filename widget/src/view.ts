// The widget's DOM: a launcher button and a chat dialog inside a shadow root. It renders the
// chat state it is given and reports what the visitor does; asking, streaming and storage
// live in chat.ts. Text reaches the DOM only through textContent and createTextNode.
import type { AssistantMessage, ChatMessage, ChatState } from "./chat.ts";
import type { WidgetConfig } from "./config.ts";
import { parseMarkdown, plainText } from "./markdown.ts";
import { renderAnswer } from "./render.ts";
import { widgetCss } from "./styles.ts";

export interface ViewHandlers {
  /** Returns whether the question was taken; the input is cleared only then. */
  onSubmit(text: string): boolean;
  onRetry(assistantId: string): void;
}

export interface View {
  readonly host: HTMLElement;
  open(): void;
  close(): void;
  render(state: ChatState): void;
}

const SVG = "http://www.w3.org/2000/svg";
const CHAT_ICON =
  "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2zm3 6.5a1.5 1.5 0 1 0 0 .01zm5 0a1.5 1.5 0 1 0 0 .01zm5 0a1.5 1.5 0 1 0 0 .01z";

export function mountView(doc: Document, config: WidgetConfig, handlers: ViewHandlers): View {
  const host = doc.createElement("bitb-widget");
  const shadow = host.attachShadow({ mode: "open" });
  const el = <K extends keyof HTMLElementTagNameMap>(
    tag: K,
    props: Partial<Record<"className" | "id" | "textContent" | "type", string>> = {},
    attributes: Record<string, string> = {},
  ): HTMLElementTagNameMap[K] => {
    const element = doc.createElement(tag);
    Object.assign(element, props);
    for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
    return element;
  };

  const root = el("div", { className: config.position === "bottom-left" ? "root left" : "root" });
  const launcher = el(
    "button",
    { className: "launcher", type: "button" },
    {
      "aria-label": "Open chat",
      "aria-haspopup": "dialog",
      "aria-expanded": "false",
      "aria-controls": "bitb-panel",
    },
  );
  const icon = doc.createElementNS(SVG, "svg");
  icon.setAttribute("viewBox", "0 0 24 24");
  icon.setAttribute("aria-hidden", "true");
  const path = doc.createElementNS(SVG, "path");
  path.setAttribute("d", CHAT_ICON);
  icon.append(path);
  launcher.append(icon);

  const panel = el(
    "div",
    { className: "panel", id: "bitb-panel" },
    { role: "dialog", "aria-label": config.title },
  );
  panel.hidden = true;
  const header = el("div", { className: "header" });
  const title = el("h2", { className: "title", textContent: config.title });
  const close = el(
    "button",
    { className: "close", type: "button", textContent: "×" },
    { "aria-label": "Close chat" },
  );
  header.append(title, close);

  const messages = el("div", { className: "messages" });
  messages.append(el("div", { className: "msg assistant greeting", textContent: config.greeting }));
  // Streaming text must not be read out token by token; finished answers and errors are
  // announced here instead.
  const status = el("div", { className: "sr-only" }, { role: "status", "aria-live": "polite" });

  const form = el("form", { className: "composer" });
  const label = el(
    "label",
    { className: "sr-only", textContent: "Ask a question" },
    { for: "bitb-input" },
  );
  const input = el(
    "textarea",
    { className: "input", id: "bitb-input" },
    // The server's default MAX_QUERY_CHARS.
    { rows: "1", placeholder: "Ask a question…", maxlength: "2000" },
  );
  const send = el("button", { className: "send", type: "submit", textContent: "Send" });
  form.append(label, input, send);
  panel.append(header, messages, status, form);
  root.append(launcher, panel);

  if ("adoptedStyleSheets" in shadow && typeof CSSStyleSheet === "function") {
    // A constructed sheet also works on host pages whose CSP forbids inline <style>.
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(widgetCss(config));
    shadow.adoptedStyleSheets = [sheet];
  } else {
    shadow.append(el("style", { textContent: widgetCss(config) }));
  }
  shadow.append(root);

  // Keys typed in the widget must not reach the page's own shortcuts (which would see the
  // host element, not a text field, as the event's target).
  for (const type of ["keydown", "keyup", "keypress"]) {
    root.addEventListener(type, (event) => event.stopPropagation());
  }

  const view: View = {
    host,
    open() {
      panel.hidden = false;
      launcher.hidden = true;
      launcher.setAttribute("aria-expanded", "true");
      messages.scrollTop = messages.scrollHeight;
      input.focus();
    },
    close() {
      // Closing a closed panel must not pull focus away from wherever the visitor is.
      if (panel.hidden) return;
      panel.hidden = true;
      launcher.hidden = false;
      launcher.setAttribute("aria-expanded", "false");
      launcher.focus();
    },
    render,
  };

  launcher.addEventListener("click", () => view.open());
  close.addEventListener("click", () => view.close());
  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      view.close();
    }
  });
  const submit = () => {
    if (handlers.onSubmit(input.value)) {
      input.value = "";
      input.style.height = "";
    }
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  input.addEventListener("keydown", (event) => {
    // Enter sends, Shift+Enter starts a new line, and Enter that confirms an IME
    // composition (Japanese, Chinese…) does neither.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  });
  input.addEventListener("input", () => {
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, 120)}px`;
  });
  messages.addEventListener("click", (event) => {
    const target = event.target as Element;
    const retry = target.closest("[data-retry]");
    if (retry) handlers.onRetry(retry.getAttribute("data-retry") as string);
    const cite = target.closest("a.cite");
    if (cite) {
      event.preventDefault();
      const item = shadow.getElementById(cite.getAttribute("data-source") ?? "");
      if (item) {
        item.scrollIntoView({ block: "nearest" });
        item.focus({ preventScroll: true });
        item.classList.add("flash");
        setTimeout(() => item.classList.remove("flash"), 1200);
      }
    }
  });

  const rendered = new Map<string, { message: ChatMessage; element: HTMLElement }>();

  function render(state: ChatState): void {
    const nearBottom = messages.scrollHeight - messages.scrollTop - messages.clientHeight < 48;
    let changed = false;
    for (const message of state.messages) {
      const current = rendered.get(message.id);
      if (current?.message === message) continue;
      const element = current?.element ?? el("div");
      if (!current) messages.append(element);
      renderMessage(element, message);
      rendered.set(message.id, { message, element });
      changed = true;
      if (message.role === "assistant") announce(current?.message, message);
    }
    send.disabled = state.busy;
    if (changed && nearBottom) messages.scrollTop = messages.scrollHeight;
  }

  function renderMessage(element: HTMLElement, message: ChatMessage): void {
    element.className = `msg ${message.role}`;
    element.replaceChildren();
    if (message.role === "user") {
      element.textContent = message.text;
      return;
    }
    element.setAttribute(
      "aria-busy",
      String(message.status === "pending" || message.status === "streaming"),
    );
    if (message.status === "done") {
      if (message.abstained) element.classList.add("abstained");
      element.append(renderAnswer(doc, message.id, message.text, message.citations));
    } else if (message.status === "pending") {
      element.append(el("span", { className: "pending", textContent: "Thinking…" }));
    } else {
      if (message.text)
        element.append(el("div", { className: "streaming", textContent: message.text }));
      if (message.failure) element.append(failureNode(message));
    }
  }

  function failureNode(message: AssistantMessage): HTMLElement {
    const failure = message.failure as NonNullable<AssistantMessage["failure"]>;
    const p = el("p", { className: "error" }, { role: "alert" });
    const network = failure.kind === "network";
    p.textContent = network ? `${failure.message} — ` : `${failure.message} `;
    if (failure.retryable) {
      p.append(
        el(
          "button",
          { className: "retry", type: "button", textContent: network ? "retry" : "Try again" },
          { "data-retry": message.id },
        ),
      );
    }
    return p;
  }

  function announce(before: ChatMessage | undefined, message: AssistantMessage): void {
    if (before?.role === "assistant" && before.status === message.status) return;
    if (message.status === "done") {
      status.textContent = parseMarkdown(message.text)
        .map((paragraph) => plainText(paragraph.children))
        .join("\n");
    }
  }

  return view;
}
