// The widget styling form shared by the trial's step 3 and the tenant's "Widget" tab: reading
// the posted form into a settings update (with a message per field), and the two plain HTML
// pages around it — the live preview, which runs the real widget bundle with draft settings
// inside an iframe of the admin page, and the test page, which embeds the snippet exactly as a
// customer's site does. Pure functions: the routes do the auth and the database.
import { z } from "zod";
import type { Config } from "../config.server.ts";
import type { ControlDb, TenantRecord } from "../control-db.server.ts";
import { embedSnippet, getWidgetKey, listAllowedOrigins } from "../access/keys.server.ts";
import { settingsKey } from "#app/shared/widget-contract.ts";
import {
  MAX_STARTER_QUESTIONS,
  parseStoredWidgetSettings,
  widgetSettingsUpdateSchema,
  type WidgetSettings,
  type WidgetSettingsUpdate,
} from "./settings.server.ts";

export type WidgetStyleField = keyof WidgetSettings;

export type WidgetStyleParse =
  | { ok: true; update: WidgetSettingsUpdate }
  | { ok: false; fieldErrors: Partial<Record<WidgetStyleField, string>> };

const fieldMessages: Record<WidgetStyleField, string> = {
  title: "Give the chat a title of 1 to 60 characters.",
  greeting: "Write a greeting of 1 to 500 characters.",
  color: "Use a colour like #2546d8 (hex), rgb(37 70 216) or a colour name.",
  position: "Choose one of the four corners.",
  starterQuestions: `Write at most ${MAX_STARTER_QUESTIONS} starter questions, one per line, each under 200 characters.`,
  voiceGreeting: "Turn the voice greeting on or off.",
  language: "Choose a language from the list.",
};

/** The form's fields as the widget settings they stand for (before validation). */
export function widgetStyleDraft(form: FormData): Record<string, unknown> {
  const text = (name: string) => {
    const value = form.get(name);
    return typeof value === "string" ? value : "";
  };
  const language = text("language");
  return {
    title: text("title"),
    greeting: text("greeting"),
    color: text("color"),
    position: text("position"),
    starterQuestions: text("starterQuestions")
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter((line) => line !== ""),
    // An unticked checkbox sends nothing.
    voiceGreeting: form.get("voiceGreeting") === "on",
    language: language === "" || language === "auto" ? null : language,
  };
}

/** Validates the styling form; every field with a problem gets a message saying what to do. */
export function parseWidgetStyleForm(form: FormData): WidgetStyleParse {
  const parsed = widgetSettingsUpdateSchema.safeParse(widgetStyleDraft(form));
  if (parsed.success) return { ok: true, update: parsed.data };
  const fieldErrors: Partial<Record<WidgetStyleField, string>> = {};
  for (const issue of parsed.error.issues) {
    const field = issue.path[0] as WidgetStyleField;
    fieldErrors[field] ??= fieldMessages[field] ?? issue.message;
  }
  return { ok: false, fieldErrors };
}

export const previewQuerySchema = z.strictObject({
  /** The draft settings as JSON (anything unreadable falls back field by field). */
  draft: z
    .string()
    .max(16 * 1024)
    .optional(),
  /** "1": show the chat panel open. */
  open: z.enum(["0", "1"]).optional(),
});

/** A draft from the preview's query string: each field that does not parse takes its default. */
export function previewSettings(draft: string | undefined): WidgetSettings {
  return parseStoredWidgetSettings(draft);
}

const escapeHtml = (value: string) =>
  value.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string,
  );

/** JSON that is safe inside an inline <script> (no `</script>`, no HTML comment openers). */
const scriptJson = (value: unknown) =>
  JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/>/g, "\\u003e")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");

const PAGE_STYLE = `
  body { margin: 0; font: 15px/1.5 system-ui, sans-serif; color: #1b1d21; background: #f3f4f6; }
  main { max-width: 640px; margin: 0 auto; padding: 24px 16px; }
  .line { height: 12px; border-radius: 6px; background: #dfe2e8; margin: 10px 0; }
  .short { width: 60%; }
  h1 { font-size: 20px; margin: 0 0 8px; }
`;

/** The headers of the preview page: scripts by nonce, framed only by the admin (same origin). */
export function previewHeaders(nonce: string): Record<string, string> {
  return {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "Content-Security-Policy": [
      "default-src 'self'",
      `script-src 'self' 'nonce-${nonce}'`,
      "style-src 'self' 'unsafe-inline'",
      "img-src 'self' data:",
      "connect-src 'self'",
      "object-src 'none'",
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'self'",
    ].join("; "),
    "X-Frame-Options": "SAMEORIGIN",
  };
}

/**
 * The live preview: a stand-in page with the real widget (the /widget.js loader and bundle),
 * drawn with `settings` instead of the saved ones. The widget reads settings cached for the
 * browsing session before it fetches them, so the page puts the draft there first and takes
 * it away once the widget has drawn itself. Opening the panel for the preview must not take
 * the keyboard focus from the form the admin is typing in, nor speak the voice greeting on
 * every change: both are held back during that one programmatic open.
 */
export function previewPageHtml(input: {
  tenantId: string;
  widgetKey: string;
  settings: WidgetSettings;
  open: boolean;
  nonce: string;
}): string {
  const nonce = escapeHtml(input.nonce);
  const key = scriptJson(settingsKey(input.tenantId));
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Widget preview</title>
<style>${PAGE_STYLE}</style>
</head>
<body>
<main aria-hidden="true">
<h1>Your website</h1>
<div class="line"></div><div class="line short"></div><div class="line"></div>
<div class="line short"></div><div class="line"></div><div class="line short"></div>
</main>
<script nonce="${nonce}">
try { sessionStorage.setItem(${key}, JSON.stringify({ at: Date.now(), settings: ${scriptJson(input.settings)} })); } catch (e) {}
window.addEventListener("bitb:ready", function () {
  try { sessionStorage.removeItem(${key}); } catch (e) {}
  if (!${input.open ? "true" : "false"} || !window.BiTB) return;
  var focus = HTMLElement.prototype.focus;
  HTMLElement.prototype.focus = function () {};
  Object.defineProperty(window, "speechSynthesis", { value: undefined, configurable: true });
  try { window.BiTB.open(); } finally {
    HTMLElement.prototype.focus = focus;
    delete window.speechSynthesis;
  }
});
</script>
<script src="/widget.js" data-tenant="${escapeHtml(input.tenantId)}" data-key="${escapeHtml(input.widgetKey)}" async></script>
</body>
</html>`;
}

/** The headers of the test page: the widget's scripts and API from the BiTB origin only. */
export function testPageHeaders(appOrigin: string): Record<string, string> {
  return {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex",
    "Content-Security-Policy": [
      "default-src 'self'",
      `script-src 'self' ${appOrigin}`,
      "style-src 'self' 'unsafe-inline'",
      "img-src 'self' data:",
      `connect-src 'self' ${appOrigin}`,
      "object-src 'none'",
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ].join("; "),
    "X-Frame-Options": "DENY",
  };
}

/**
 * A plain page with nothing but the embed snippet, as a customer's site would have it. It says
 * whether it is a real test of the allowed domains: only when it was opened under another
 * address than the widget's server (`appOrigin`), which is always allowed.
 */
export function testPageHtml(input: {
  snippet: string;
  pageOrigin: string;
  appOrigin: string;
}): string {
  const page = escapeHtml(input.pageOrigin);
  const explanation =
    input.pageOrigin === input.appOrigin
      ? `This page is served from <code>${page}</code>, BiTB's own address, where the widget always
works. It shows that the snippet works; whether your site may use it depends on the allowed
domains, which this page cannot test.`
      : `This page is served from <code>${page}</code>, another address than the widget's server
(<code>${escapeHtml(input.appOrigin)}</code>): the widget answers here only if
<code>${page}</code> is in the allowed domains, exactly as on your own site.`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Widget test page</title>
<style>${PAGE_STYLE}</style>
</head>
<body>
<main>
<h1>Widget test page</h1>
<p>This page contains only your embed snippet, as your own site would. Open the chat in the
corner and ask a question.</p>
<p>${explanation}</p>
</main>
${input.snippet}
</body>
</html>`;
}

/** The origin the widget is served from: PUBLIC_URL's, else the one the admin is using. */
export function appOriginOf(request: Request, config: Pick<Config, "PUBLIC_URL">): string {
  return config.PUBLIC_URL ? new URL(config.PUBLIC_URL).origin : new URL(request.url).origin;
}

/** What the embed panel shows: the snippet, the allowed domains and the test page's address. */
export function embedData(
  runtime: { control: ControlDb; config: Pick<Config, "PUBLIC_URL"> },
  tenant: Pick<TenantRecord, "id">,
  request: Request,
) {
  const appOrigin = appOriginOf(request, runtime.config);
  const widgetKey = getWidgetKey(runtime.control, tenant.id);
  return {
    snippet: embedSnippet(appOrigin, tenant.id, widgetKey),
    appOrigin,
    allowedOrigins: listAllowedOrigins(runtime.control, tenant.id),
    testPageUrl: `/embed-test/${tenant.id}?${new URLSearchParams({ key: widgetKey })}`,
  };
}
