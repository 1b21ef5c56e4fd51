// Installs the widget into a page: finds the widget's own <script> tag, reads its
// configuration, mounts the view at the end of <body> and defines `window.BiTB` (the only
// global the widget touches), then announces itself with a `bitb:ready` event.
import { type BiTBApi, READY_EVENT } from "./api.ts";
import { canAsk, type ConversationStorage, createChat } from "./chat.ts";
import { readConfig } from "./config.ts";
import { mountView } from "./view.ts";

/** The widget's script tag: the one running now, else the first one that looks like it. */
export function findScript(doc: Document): HTMLScriptElement | null {
  const current = doc.currentScript;
  if (current?.tagName === "SCRIPT" && current.hasAttribute("data-tenant")) {
    return current as HTMLScriptElement;
  }
  return doc.querySelector<HTMLScriptElement>('script[src*="widget.js"][data-tenant]');
}

/**
 * Boots the widget in `win`. Returns false when it cannot (no script tag, bad attributes —
 * logged to the console for the site's developer) or when the page already has a widget.
 */
export function boot(win: Window): boolean {
  const doc = win.document;
  // `currentScript` is only set while the script first runs, so look it up now.
  const script = findScript(doc);
  if (!script) {
    console.error('[BiTB] widget.js could not find its <script data-tenant="…"> tag');
    return false;
  }
  if (win.BiTB) return false;
  // An async script can run before <body> exists.
  if (doc.body) install(win, script);
  else doc.addEventListener("DOMContentLoaded", () => install(win, script), { once: true });
  return true;
}

function install(win: Window, script: HTMLScriptElement): void {
  const doc = win.document;
  let config;
  try {
    config = readConfig(
      {
        src: script.src,
        tenant: script.getAttribute("data-tenant"),
        title: script.getAttribute("data-title"),
        greeting: script.getAttribute("data-greeting"),
        position: script.getAttribute("data-position"),
        color: script.getAttribute("data-color"),
      },
      doc.baseURI || undefined,
    );
  } catch (error) {
    console.error(`[BiTB] ${(error as Error).message}`);
    return;
  }

  const chat = createChat({
    origin: config.origin,
    tenantId: config.tenantId,
    storage: sessionStore(win),
    onChange: (state) => view.render(state),
  });
  const view = mountView(doc, config, {
    onSubmit(text) {
      if (!canAsk(chat.state, text)) return false;
      void chat.ask(text);
      return true;
    },
    onRetry(id) {
      void chat.retry(id);
    },
  });
  doc.body.append(view.host);

  const api: BiTBApi = {
    open: () => view.open(),
    close: () => view.close(),
    ask(text) {
      view.open();
      return chat.ask(String(text));
    },
  };
  win.BiTB = Object.freeze(api);
  win.dispatchEvent(new Event(READY_EVENT));
}

function sessionStore(win: Window): ConversationStorage | null {
  try {
    // Reading the property itself throws where storage is blocked.
    return win.sessionStorage ?? null;
  } catch {
    return null;
  }
}
