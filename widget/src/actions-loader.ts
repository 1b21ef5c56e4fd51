// What the widget's main bundle knows about actions (issue 11): the shape of an offer from the
// ask stream, the interface of the action UI, and the loader that fetches that UI on the
// first offer. The UI itself (forms, slots, confirming) is a separate content-hashed script,
// widget/bitb.<hash>.js built from actions-chunk.ts, so visitors who never see an action
// never download it (docs/decisions/028). The chunk hands its mount function back on its
// own <script> element (`bitbActions`), as the loader hands the settings to the bundle: no
// global.
import type { ActionEvent } from "#app/shared/ask-events.ts";
import type { Language } from "./i18n.ts";

export type { ActionEvent, ActionField } from "#app/shared/ask-events.ts";

/** What the action UI needs from the widget around it. */
export interface ActionUiContext {
  origin: string;
  tenantId: string;
  /** The publishable key, and the visitor session's token (as feedback sends them). */
  key: string;
  sessionToken(): Promise<string | null>;
  language: Language;
  /** Who will contact the visitor, for the consent sentence. */
  business: string;
  fetch?: typeof fetch;
}

/** One offer to render into `container` (a node the view keeps across re-renders). */
export interface ActionMount {
  container: HTMLElement;
  offer: ActionEvent;
  /** The message of an earlier confirmation of this offer: shown instead of a form. */
  outcome: string | null;
  /** Whether to move focus into the form when it opens on its own (a live "tool" offer). */
  focus: boolean;
  /** The action was carried out; the chat remembers the message with the answer. */
  onDone(message: string): void;
}

export type MountAction = (context: ActionUiContext, mount: ActionMount) => void;

export type ActionScript = HTMLScriptElement & { bitbActions?: MountAction };

declare const __BITB_ACTIONS__: string | undefined;

/** The chunk's path under the widget's origin (the build defines it; tests pass their own). */
export const ACTIONS_CHUNK: string =
  typeof __BITB_ACTIONS__ === "string" ? __BITB_ACTIONS__ : "widget/actions.js";

let loading: Promise<MountAction> | null = null;

/** Adds the action UI's script once; a failed download may be tried again. */
export function loadActionUi(doc: Document, src: string, nonce = ""): Promise<MountAction> {
  loading ??= new Promise<MountAction>((resolve, reject) => {
    const script: ActionScript = doc.createElement("script");
    script.src = src;
    script.async = true;
    if (nonce) script.nonce = nonce;
    script.addEventListener("load", () =>
      script.bitbActions ? resolve(script.bitbActions) : reject(new Error("no action UI")),
    );
    script.addEventListener("error", () => reject(new Error("action UI unreachable")));
    doc.head.append(script);
  }).catch((error: unknown) => {
    loading = null;
    throw error;
  });
  return loading;
}
