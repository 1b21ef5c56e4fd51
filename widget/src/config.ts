// The widget's configuration: the tenant's server-side settings (settings.ts), overridden by
// the widget's own <script> tag's attributes:
//   data-tenant and data-key (required: the tenant's publishable key), data-title, data-greeting, data-position, data-color, data-language.
// The API origin is the origin the script was loaded from, so one snippet works on any page.
import { type Language, pickLanguage } from "./i18n.ts";

export type Position = "bottom-right" | "bottom-left" | "top-right" | "top-left";
const POSITIONS: readonly string[] = ["bottom-right", "bottom-left", "top-right", "top-left"];

/** The tenant's settings as GET /api/widget/:tenantId/config returns them. */
export interface ServerSettings {
  title?: string;
  greeting?: string;
  color?: string;
  position?: string;
  starterQuestions?: string[];
  voiceGreeting?: boolean;
  language?: string | null;
}

export interface WidgetConfig {
  tenantId: string;
  /** The tenant's publishable widget key (`pk_…`). */
  key: string;
  /** Where /api/ask lives: the origin of the widget script's URL. */
  origin: string;
  title: string;
  greeting: string;
  position: Position;
  /** The accent colour (validated, so it is safe to put into a style sheet). */
  color: string;
  /** Black or white, whichever reads better on the accent colour. */
  colorText: string;
  starterQuestions: string[];
  voiceGreeting: boolean;
  language: Language;
}

export interface ScriptAttributes {
  src: string | null;
  tenant: string | null;
  key?: string | null;
  title?: string | null;
  greeting?: string | null;
  position?: string | null;
  color?: string | null;
  language?: string | null;
}

export const DEFAULT_COLOR = "#2546d8";

export class WidgetConfigError extends Error {}

/**
 * `baseUrl` resolves a relative src (a browser's `script.src` is already absolute). Attributes
 * win over the server's settings; anything missing or invalid takes its default.
 */
export function readConfig(
  attributes: ScriptAttributes,
  baseUrl?: string,
  server: ServerSettings | null = null,
  browserLanguage?: string,
): WidgetConfig {
  const tenantId = attributes.tenant?.trim();
  if (!tenantId) throw new WidgetConfigError("the script tag needs a data-tenant attribute");
  const key = attributes.key?.trim();
  if (!key) throw new WidgetConfigError("the script tag needs a data-key attribute");
  if (!attributes.src) throw new WidgetConfigError("the script tag has no src");
  const pick = (attribute: string | null | undefined, setting: unknown) =>
    attribute?.trim() || (typeof setting === "string" ? setting.trim() : "");
  const colorChoice = [attributes.color, server?.color].find(isSafeColor);
  const color = colorChoice ? colorChoice.trim() : DEFAULT_COLOR;
  const position = pick(attributes.position, server?.position);
  const starters = Array.isArray(server?.starterQuestions) ? server.starterQuestions : [];
  return {
    tenantId,
    key,
    origin: new URL(attributes.src, baseUrl).origin,
    title: pick(attributes.title, server?.title) || "Chat",
    greeting:
      pick(attributes.greeting, server?.greeting) ||
      "Hi! Ask me a question and I'll answer from our documentation.",
    position: POSITIONS.includes(position) ? (position as Position) : "bottom-right",
    color,
    colorText: textColorOn(color),
    starterQuestions: starters
      .filter((q): q is string => typeof q === "string" && q.trim() !== "")
      .slice(0, 6),
    voiceGreeting: server?.voiceGreeting === true,
    language: pickLanguage(pick(attributes.language, server?.language), browserLanguage),
  };
}

// Hex, rgb()/hsl() and named colours; nothing that could end a declaration or a rule.
const SAFE_COLOR =
  /^(#[0-9a-f]{3,4}|#[0-9a-f]{6}|#[0-9a-f]{8}|(rgb|hsl)a?\([\d\s.,%/a-z-]+\)|[a-z]{3,30})$/i;

export function isSafeColor(value: string | null | undefined): value is string {
  return typeof value === "string" && SAFE_COLOR.test(value.trim());
}

/** `#111827` or `#ffffff`, whichever contrasts more with a hex colour; white otherwise. */
export function textColorOn(color: string): string {
  const rgb = hexToRgb(color);
  if (!rgb) return "#ffffff";
  const luminance = (channel: number) => {
    const c = channel / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  const l = 0.2126 * luminance(rgb[0]) + 0.7152 * luminance(rgb[1]) + 0.0722 * luminance(rgb[2]);
  // Contrast with white is 1.05 / (l + 0.05); with near-black (#111827, l ≈ 0.011) it is
  // (l + 0.05) / 0.061. They are equal at l ≈ 0.2.
  return 1.05 / (l + 0.05) >= (l + 0.05) / 0.061 ? "#ffffff" : "#111827";
}

function hexToRgb(color: string): [number, number, number] | null {
  const match = /^#([0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})$/i.exec(color.trim());
  if (!match) return null;
  let hex = match[1] as string;
  if (hex.length <= 4) hex = [...hex].map((digit) => digit + digit).join("");
  return [0, 2, 4].map((at) => parseInt(hex.slice(at, at + 2), 16)) as [number, number, number];
}
