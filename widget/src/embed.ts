// Installs the widget into a page: finds the widget's own <script> tag, reads its
// configuration (the tenant's settings, fetched once per session, overridden by the tag's
// data-* attributes), mounts the view at the end of <body> and defines `window.BiTB` (the
// only global the widget touches), then announces itself with a `bitb:ready` event.
import type { BatchResult } from "#app/shared/ask-events.ts";
import type { BiTBApi, BiTBEvents } from "./api.ts";
import { READY_EVENT } from "./api.ts";
import { ACTIONS_CHUNK, loadActionUi } from "./actions-loader.ts";
import { canAsk, type ConversationStorage, createChat } from "./chat.ts";
import { readConfig, type ScriptAttributes, type WidgetConfig } from "./config.ts";
import { cachedSettings, fetchSettings, prefetched, type PrefetchingScript } from "./settings.ts";
import { mountView } from "./view.ts";
import { isMuted, setMuted, speak, stopSpeaking } from "./voice.ts";

/** The widget's script tag: the one running now, else the first one that looks like it. */
export function findScript(doc: Document): HTMLScriptElement | null {
  const current = doc.currentScript;
  if (current?.tagName === "SCRIPT" && current.hasAttribute("data-tenant")) {
    return current as HTMLScriptElement;
  }
  return doc.querySelector<HTMLScriptElement>(
    'script[src*="/widget/bitb."][data-tenant],script[src*="widget.js"][data-tenant]',
  );
}

/**
 * Boots the widget in `win`. Returns false when it cannot (no script tag, bad attributes —
 * logged to the console for the site's developer) or when the page already has a widget.
 * `window.BiTB` appears (with `bitb:ready`) once the tenant's settings are known.
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
  const attributes: ScriptAttributes = {
    src: script.src,
    tenant: script.getAttribute("data-tenant"),
    key: script.getAttribute("data-key"),
    title: script.getAttribute("data-title"),
    greeting: script.getAttribute("data-greeting"),
    position: script.getAttribute("data-position"),
    color: script.getAttribute("data-color"),
    language: script.getAttribute("data-language"),
  };
  let config: WidgetConfig;
  try {
    config = readConfig(attributes, doc.baseURI || undefined);
  } catch (error) {
    console.error(`[BiTB] ${(error as Error).message}`);
    return false;
  }
  const session = storage(win, "sessionStorage");
  const language = win.navigator?.language;
  const cached = cachedSettings(session, config.tenantId);
  // widget.js (loader.ts) started the request in parallel with this bundle's download.
  const started = (script as PrefetchingScript).bitbSettings;
  const settings = cached
    ? Promise.resolve(cached)
    : fetchSettings(config.origin, config.tenantId, config.key, {
        storage: session,
        fetch: started ? prefetched(started) : undefined,
      });
  void settings.then((server) => {
    const resolved = readConfig(attributes, doc.baseURI || undefined, server, language);
    // An async script can run before <body> exists.
    if (doc.body) install(win, resolved, script.nonce);
    else {
      doc.addEventListener("DOMContentLoaded", () => install(win, resolved, script.nonce), {
        once: true,
      });
    }
  });
  return true;
}

type Listener = (detail: never) => void;

function install(win: Window, config: WidgetConfig, nonce = ""): void {
  const doc = win.document;
  if (win.BiTB) return;
  const local = storage(win, "localStorage");
  const listeners = new Map<string, Set<Listener>>();
  const emit = <K extends keyof BiTBEvents>(event: K, detail?: BiTBEvents[K]) => {
    for (const listener of listeners.get(event) ?? []) {
      try {
        (listener as (detail: unknown) => void)(detail);
      } catch (error) {
        console.error("[BiTB] an event listener failed", error);
      }
    }
  };

  const chat = createChat({
    origin: config.origin,
    tenantId: config.tenantId,
    widgetKey: config.key,
    storage: storage(win, "sessionStorage"),
    onChange: (state) => view.render(state),
    isOnline: () => win.navigator?.onLine !== false,
    onAnswer: (message) =>
      emit("answer", {
        question: message.question,
        answer: message.text,
        citations: message.citations,
        conversationId: chat.state.conversationId,
        messageId: message.messageId,
      }),
    onError: (message) =>
      emit("error", {
        question: message.question,
        code: message.failure?.code ?? "error",
        message: message.failure?.message ?? "",
      }),
  });
  let greeted = false;
  const view = mountView(
    doc,
    config,
    {
      onSubmit(text) {
        if (!canAsk(chat.state, text)) return false;
        void chat.ask(text);
        return true;
      },
      onRetry(id) {
        void chat.retry(id);
      },
      onRate(id, rating) {
        void chat.rate(id, rating);
      },
      onNewChat: () => chat.reset(),
      onOpen() {
        // The first open is a click (a user gesture), so the browser lets the greeting play.
        if (!greeted && config.voiceGreeting && !isMuted(local)) {
          speak(win, config.greeting, config.language);
        }
        greeted = true;
        emit("open");
      },
      onClose: () => emit("close"),
      onActionMount(container, message, restored) {
        // The action UI is its own script, fetched on the first offer (decision 028).
        const show = () =>
          loadActionUi(doc, new URL(ACTIONS_CHUNK, `${config.origin}/`).href, nonce).then(
            (mount) =>
              mount(
                {
                  origin: config.origin,
                  tenantId: config.tenantId,
                  key: config.key,
                  sessionToken: () => chat.sessionToken(),
                  language: config.language,
                  business: win.location?.hostname.replace(/^www\./, "") || config.title,
                },
                {
                  container,
                  offer: message.action!,
                  outcome: message.actionOutcome ?? null,
                  focus: !restored,
                  onDone: (outcome) => chat.settleAction(message.id, outcome),
                },
              ),
            () => {
              const retry = doc.createElement("button");
              retry.type = "button";
              retry.className = "retry";
              retry.textContent = view.parts.strings.tryAgain;
              retry.addEventListener("click", () => void show());
              const p = doc.createElement("p");
              p.className = "error";
              p.append(`${message.action!.title}: ${view.parts.strings.connectionLost} `, retry);
              container.replaceChildren(p);
            },
          );
        void show();
      },
      onMuteChange(muted) {
        setMuted(local, muted);
        if (muted) stopSpeaking(win);
      },
    },
    { muted: isMuted(local) },
  );
  view.render(chat.state);
  doc.body.append(view.host);

  let batch: ((questions: string[]) => Promise<BatchResult[]>) | null = null;
  const api: BiTBApi = {
    open: () => view.open(),
    close: () => view.close(),
    ask(text) {
      view.open();
      return chat.ask(String(text));
    },
    on(event, listener) {
      const set = listeners.get(event) ?? new Set();
      listeners.set(event, set);
      set.add(listener as Listener);
      return () => set.delete(listener as Listener);
    },
    askMany(questions) {
      if (!batch) return Promise.reject(new Error("[BiTB] add widget-batch.js to ask many"));
      view.open();
      return batch(questions);
    },
    addOn(installAddOn) {
      installAddOn({
        origin: config.origin,
        tenantId: config.tenantId,
        key: config.key,
        sessionToken: () => chat.sessionToken(),
        view: view.parts,
        conversationId: () => chat.state.conversationId,
        addAnswer: (question, done) => chat.addAnswer(question, done),
        open: () => view.open(),
        provideBatch(askMany) {
          batch = askMany;
        },
      });
    },
  };
  win.BiTB = Object.freeze(api);
  win.dispatchEvent(new Event(READY_EVENT));
}

function storage(win: Window, name: "sessionStorage" | "localStorage"): ConversationStorage | null {
  try {
    // Reading the property itself throws where storage is blocked.
    return win[name] ?? null;
  } catch {
    return null;
  }
}
