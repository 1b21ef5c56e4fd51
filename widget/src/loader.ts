// The tiny script customers embed as /widget.js. It adds the versioned, immutable bundle
// (widget/bitb.<contenthash>.js, cached for a year) next to itself, copying the tag's data-*
// attributes so the bundle reads its configuration from its own tag. The loader is cached
// for minutes, so a new release reaches every site within minutes of a deploy.
//
// The launcher needs both the bundle and the tenant's settings. Fetched one after the other
// they cost two round trips before anything shows, so the loader starts the settings request
// at the same time as the bundle's and hands the pending response to the bundle on its own
// <script> element (`bitbSettings`; no global). The bundle reads it (fetchSettings, with its
// timeout and session cache) instead of fetching again; settings already cached for this
// browsing session are not fetched at all.
import { cachedSettings, settingsUrl, type PrefetchingScript } from "./settings.ts";

declare const __BITB_BUNDLE__: string;

const loader = document.currentScript as HTMLScriptElement | null;
if (loader?.src) {
  const bundle: PrefetchingScript = document.createElement("script");
  for (const { name, value } of Array.from(loader.attributes)) {
    if (name.startsWith("data-")) bundle.setAttribute(name, value);
  }
  if (loader.nonce) bundle.nonce = loader.nonce;
  bundle.src = new URL(__BITB_BUNDLE__, loader.src).href;
  bundle.async = true;
  const { tenant, key } = loader.dataset;
  if (tenant && key) {
    let session: Storage | null = null;
    try {
      session = sessionStorage;
    } catch {
      // Storage blocked: fetch every time.
    }
    if (!cachedSettings(session, tenant)) {
      const request = fetch(settingsUrl(new URL(loader.src).origin, tenant, key), {
        credentials: "omit",
      });
      // The bundle reads the answer (settings.ts); a failure it handles too.
      request.catch(() => {});
      bundle.bitbSettings = request;
    }
  }
  // An HTML document always has a <head> (the parser makes one).
  document.head.append(bundle);
} else {
  console.error("[BiTB] load widget.js with a <script src> tag");
}
