// Fetches the tenant's widget settings from GET /api/widget/:tenantId/config once per
// browsing session: the answer is kept in sessionStorage for a few minutes, so the pages a
// visitor walks through draw the launcher at once instead of each waiting for the network.
import { settingsKey } from "../../app/shared/widget-contract.ts";
import type { ServerSettings } from "./config.ts";

export const SETTINGS_TTL_MS = 5 * 60_000;

export type SettingsStorage = Pick<Storage, "getItem" | "setItem">;

/** The bundle's <script> element, carrying the settings request the loader started. */
export type PrefetchingScript = HTMLScriptElement & { bitbSettings?: Promise<Response> };

export function settingsUrl(origin: string, tenantId: string, key: string): string {
  return `${origin}/api/widget/${encodeURIComponent(tenantId)}/config?key=${encodeURIComponent(key)}`;
}

/**
 * A `fetch` that answers with a response already requested (by the loader), and still gives
 * up when `fetchSettings` times out.
 */
export function prefetched(response: Promise<Response>): typeof fetch {
  return (_input, init) =>
    new Promise<Response>((resolve, reject) => {
      init?.signal?.addEventListener("abort", () => reject(new Error("timed out")), {
        once: true,
      });
      response.then(resolve, reject);
    });
}

export { settingsKey };

/** The cached settings, or null when there are none or they are older than the TTL. */
export function cachedSettings(
  storage: SettingsStorage | null,
  tenantId: string,
  now = Date.now(),
): ServerSettings | null {
  try {
    const raw = storage?.getItem(settingsKey(tenantId));
    if (!raw) return null;
    const entry = JSON.parse(raw) as { at?: unknown; settings?: unknown };
    if (typeof entry.at !== "number" || now - entry.at > SETTINGS_TTL_MS || now < entry.at) {
      return null;
    }
    return isRecord(entry.settings) ? (entry.settings as ServerSettings) : null;
  } catch {
    return null;
  }
}

/**
 * Downloads the settings and caches them. Null (and the widget keeps its defaults and
 * attributes) when the server is unreachable, slow or refuses; that is not cached.
 */
export async function fetchSettings(
  origin: string,
  tenantId: string,
  key: string,
  options: { storage: SettingsStorage | null; fetch?: typeof fetch; timeoutMs?: number },
): Promise<ServerSettings | null> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), options.timeoutMs ?? 3000);
  try {
    const response = await (options.fetch ?? fetch)(settingsUrl(origin, tenantId, key), {
      credentials: "omit",
      signal: controller.signal,
    });
    if (!response.ok) return null;
    const settings: unknown = await response.json();
    if (!isRecord(settings)) return null;
    try {
      options.storage?.setItem(settingsKey(tenantId), JSON.stringify({ at: Date.now(), settings }));
    } catch {
      // Storage full or blocked: fetch again on the next page.
    }
    return settings as ServerSettings;
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
