// The widget's DOM: a launcher button and a chat dialog inside a shadow root. It renders the
// chat state it is given and reports what the visitor does; asking, streaming, feedback and
// storage live in chat.ts. Text reaches the DOM only through textContent and createTextNode.
import type { AssistantMessage, ChatMessage, ChatState } from "./chat.ts";
import type { WidgetConfig } from "./config.ts";
import type { Rating } from "./feedback.ts";
import { STRINGS, type Strings } from "./i18n.ts";
import { parseMarkdown, plainText } from "./markdown.ts";
import { renderAnswer } from "./render.ts";
import { widgetCss } from "./styles.ts";

export interface ViewHandlers {
  /** Returns whether the question was taken; the input is cleared only then. */
  onSubmit(text: string): boolean;
  onRetry(assistantId: string): void;
  onRate?(assistantId: string, rating: Rating): void;
  onNewChat?(): void;
  onOpen?(): void;
  onClose?(): void;
  onMuteChange?(muted: boolean): void;
  /**
   * Renders an answer's action offer into `container`, which the view keeps (with whatever
   * the visitor typed) across re-renders. `restored`: the answer came back from storage.
   */
  onActionMount?(container: HTMLElement, message: AssistantMessage, restored: boolean): void;
}

export interface ViewOptions {
  /** Whether the voice greeting starts muted (the visitor's remembered choice). */
  muted?: boolean;
}

/** What an add-on (widget-batch.js) may use of the view. */
export interface ViewParts {
  strings: Strings;
  header: HTMLElement;
  messages: HTMLElement;
  input: HTMLTextAreaElement;
  /** Replaces what submitting the composer does; null restores asking one question. */
  setSubmit(submit: ((text: string) => boolean) | null): void;
  announce(text: string): void;
}

export interface View {
  readonly host: HTMLElement;
  readonly parts: ViewParts;
  open(): void;
  close(): void;
  render(state: ChatState): void;
}

const SVG = "http://www.w3.org/2000/svg";
const ICONS = {
  chat: "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2zm3 6.5a1.5 1.5 0 1 0 0 .01zm5 0a1.5 1.5 0 1 0 0 .01zm5 0a1.5 1.5 0 1 0 0 .01z",
  plus: "M11 5h2v6h6v2h-6v6h-2v-6H5v-2h6z",
  speaker: "M4 9h4l5-4v14l-5-4H4zm12 0a4 4 0 0 1 0 6l-1.4-1.4a2 2 0 0 0 0-3.2z",
  copy: "M9 2h11v13h-2V4H9zM4 7h11v15H4zm2 2v11h7V9z",
  thumb:
    "M2 10h4v11H2zm6 11h9.6a2 2 0 0 0 2-1.6l1.4-7A2 2 0 0 0 19 10h-5l1-5a2 2 0 0 0-3.6-1.4L8 9.5z",
};

export function mountView(
  doc: Document,
  config: WidgetConfig,
  handlers: ViewHandlers,
  options: ViewOptions = {},
): View {
  const t = STRINGS[config.language] ?? STRINGS.en;
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
  const icon = (d: string): SVGSVGElement => {
    const svg = doc.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    const path = doc.createElementNS(SVG, "path");
    path.setAttribute("d", d);
    svg.append(path);
    return svg;
  };
  const iconButton = (className: string, label: string, d: string, extra = {}) => {
    const button = el(
      "button",
      { className: `icon ${className}`, type: "button" },
      {
        "aria-label": label,
        title: label,
        ...extra,
      },
    );
    button.append(icon(d));
    return button;
  };

  const [vertical, side] = config.position.split("-");
  const root = el(
    "div",
    {
      className: ["root", vertical === "top" ? "top" : "", side === "left" ? "left" : ""]
        .filter(Boolean)
        .join(" "),
    },
    { lang: config.language },
  );
  const launcher = el(
    "button",
    { className: "launcher", type: "button" },
    {
      "aria-label": t.open,
      "aria-haspopup": "dialog",
      "aria-expanded": "false",
      "aria-controls": "bitb-panel",
    },
  );
  launcher.append(icon(ICONS.chat));

  const panel = el(
    "div",
    { className: "panel", id: "bitb-panel" },
    { role: "dialog", "aria-label": config.title },
  );
  panel.hidden = true;
  const header = el("div", { className: "header" });
  const title = el("h2", { className: "title", textContent: config.title });
  const newChat = iconButton("new", t.newChat, ICONS.plus);
  let muted = options.muted === true;
  const mute = iconButton("mute", t.mute, ICONS.speaker, { "aria-pressed": String(muted) });
  mute.hidden = !config.voiceGreeting;
  const close = el(
    "button",
    { className: "close", type: "button", textContent: "×" },
    { "aria-label": t.close },
  );
  header.append(title, newChat, mute, close);

  const messages = el("div", { className: "messages" });
  const greeting = el("div", { className: "msg assistant greeting", textContent: config.greeting });
  const starters = el(
    "div",
    { className: "starters" },
    { role: "group", "aria-label": t.suggestions },
  );
  for (const question of config.starterQuestions) {
    starters.append(
      el(
        "button",
        { className: "starter", type: "button", textContent: question },
        {
          "data-question": question,
        },
      ),
    );
  }
  messages.append(greeting, starters);
  // Streaming text must not be read out token by token; finished answers and errors are
  // announced here instead.
  const status = el("div", { className: "sr-only" }, { role: "status", "aria-live": "polite" });

  const form = el("form", { className: "composer" });
  const label = el("label", { className: "sr-only", textContent: t.ask }, { for: "bitb-input" });
  const input = el(
    "textarea",
    { className: "input", id: "bitb-input" },
    // The server's default MAX_QUERY_CHARS.
    { rows: "1", placeholder: t.placeholder, maxlength: "2000" },
  );
  const send = el("button", { className: "send", type: "submit", textContent: t.send });
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

  let submitOverride: ((text: string) => boolean) | null = null;
  const announceText = (text: string) => {
    status.textContent = text;
  };

  const view: View = {
    host,
    parts: {
      strings: t,
      header,
      messages,
      input,
      setSubmit(next) {
        submitOverride = next;
      },
      announce: announceText,
    },
    open() {
      if (!panel.hidden) return input.focus();
      panel.hidden = false;
      launcher.hidden = true;
      launcher.setAttribute("aria-expanded", "true");
      messages.scrollTop = messages.scrollHeight;
      input.focus();
      handlers.onOpen?.();
    },
    close() {
      // Closing a closed panel must not pull focus away from wherever the visitor is.
      if (panel.hidden) return;
      panel.hidden = true;
      launcher.hidden = false;
      launcher.setAttribute("aria-expanded", "false");
      launcher.focus();
      handlers.onClose?.();
    },
    render,
  };

  launcher.addEventListener("click", () => view.open());
  close.addEventListener("click", () => view.close());
  newChat.addEventListener("click", () => {
    handlers.onNewChat?.();
    input.focus();
  });
  mute.addEventListener("click", () => {
    muted = !muted;
    mute.setAttribute("aria-pressed", String(muted));
    handlers.onMuteChange?.(muted);
  });
  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      view.close();
    }
  });
  const submit = () => {
    if ((submitOverride ?? handlers.onSubmit)(input.value)) {
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
    const action = target.closest("button");
    const id = action?.getAttribute("data-id") ?? "";
    if (action?.hasAttribute("data-retry")) handlers.onRetry(action.getAttribute("data-retry")!);
    if (action?.hasAttribute("data-question")) {
      handlers.onSubmit(action.getAttribute("data-question")!);
    }
    if (action?.hasAttribute("data-rate")) {
      handlers.onRate?.(id, action.getAttribute("data-rate") as Rating);
    }
    if (action?.hasAttribute("data-copy")) void copy(id);
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
  const actionCards = new Map<string, HTMLElement>();
  let latest: ChatState | null = null;
  // The first render shows the conversation as storage kept it.
  let restoring = true;

  async function copy(id: string): Promise<void> {
    const message = latest?.messages.find((m) => m.id === id);
    if (!message) return;
    try {
      await navigator.clipboard.writeText(answerText(message.text));
      announceText(t.copied);
    } catch {
      // Clipboard refused (permissions, an insecure page): nothing to copy to.
    }
  }

  function render(state: ChatState): void {
    latest = state;
    const nearBottom = messages.scrollHeight - messages.scrollTop - messages.clientHeight < 48;
    let changed = false;
    const ids = new Set(state.messages.map((message) => message.id));
    for (const [id, { element }] of rendered) {
      if (!ids.has(id)) {
        element.remove();
        rendered.delete(id);
        actionCards.delete(id);
      }
    }
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
    starters.hidden = state.messages.length > 0 || config.starterQuestions.length === 0;
    send.disabled = state.busy;
    if (changed && nearBottom) messages.scrollTop = messages.scrollHeight;
    restoring = false;
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
      element.append(renderAnswer(doc, message.id, message.text, message.citations, t));
      if (message.action && handlers.onActionMount) element.append(actionCard(message));
      element.append(actions(message));
    } else if (message.status === "pending") {
      element.append(el("span", { className: "pending", textContent: t.thinking }));
    } else {
      if (message.text)
        element.append(el("div", { className: "streaming", textContent: message.text }));
      if (message.failure) element.append(failureNode(message));
    }
  }

  function actionCard(message: AssistantMessage): HTMLElement {
    let card = actionCards.get(message.id);
    if (!card) {
      card = el("div", { className: "action" });
      actionCards.set(message.id, card);
      handlers.onActionMount?.(card, message, restoring);
    }
    return card;
  }

  function actions(message: AssistantMessage): HTMLElement {
    const bar = el("div", { className: "actions" });
    bar.append(iconButton("copy", t.copy, ICONS.copy, { "data-copy": "", "data-id": message.id }));
    if (message.messageId !== null) {
      for (const [rating, name] of [
        ["up", t.helpful],
        ["down", t.notHelpful],
      ] as const) {
        bar.append(
          iconButton(rating, name, ICONS.thumb, {
            "data-rate": rating,
            "data-id": message.id,
            "aria-pressed": String(message.rating === rating),
          }),
        );
      }
    }
    return bar;
  }

  function failureNode(message: AssistantMessage): HTMLElement {
    const failure = message.failure as NonNullable<AssistantMessage["failure"]>;
    const p = el("p", { className: "error" }, { role: "alert" });
    const known: Record<string, string> = {
      offline: t.offline,
      quota_exceeded: t.quota,
      rate_limited: t.rateLimited,
    };
    const lost = failure.kind === "network" && !known[failure.code];
    p.textContent = lost ? `${t.connectionLost} — ` : `${known[failure.code] ?? failure.message} `;
    if (failure.retryable && failure.code !== "quota_exceeded") {
      p.append(
        el(
          "button",
          { className: "retry", type: "button", textContent: lost ? t.retry : t.tryAgain },
          { "data-retry": message.id },
        ),
      );
    }
    return p;
  }

  function announce(before: ChatMessage | undefined, message: AssistantMessage): void {
    if (before?.role === "assistant" && before.status === message.status) return;
    if (message.status === "done") announceText(answerText(message.text));
  }

  return view;
}

/** An answer's text without its Markdown, for the live region and the clipboard. */
export function answerText(markdown: string): string {
  return parseMarkdown(markdown)
    .map((paragraph) => plainText(paragraph.children))
    .join("\n");
}
