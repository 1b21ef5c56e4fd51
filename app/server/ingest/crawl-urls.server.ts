// The crawler's pure parts: how a page's URL is normalised (so one page is crawled once),
// which links of a page are worth following, and what a sitemap lists. No network, no
// database: the crawl loop (crawl.server.ts) feeds them what it fetched.
import { parseHTML } from "linkedom";

/** Query parameters that only track where a visitor came from; they never change a page. */
const TRACKING_PARAMS = new Set([
  "fbclid",
  "gclid",
  "dclid",
  "gbraid",
  "wbraid",
  "msclkid",
  "mc_cid",
  "mc_eid",
  "igshid",
  "yclid",
  "_ga",
  "_gl",
  "_hsenc",
  "_hsmi",
  "ref_src",
]);

/** Extensions of files that are never pages the ingestion can read. */
const NOT_PAGES =
  /\.(?:png|jpe?g|gif|webp|svg|ico|bmp|tiff?|avif|css|js|mjs|json|xml|rss|atom|zip|gz|tgz|rar|7z|tar|mp3|mp4|m4a|wav|ogg|webm|mov|avi|woff2?|ttf|otf|eot|exe|dmg|apk|iso|csv|xlsx?|pptx?)$/i;

/**
 * The one form of a page's URL: http(s) only, no credentials, lower-case host, no default port,
 * no fragment, no tracking parameters, the other parameters sorted, no trailing slash (but the
 * root's). Returns undefined for anything that is not an http(s) URL.
 */
export function normaliseCrawlUrl(raw: string, base?: string): string | undefined {
  let url: URL;
  try {
    url = new URL(raw.trim(), base);
  } catch {
    return undefined;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
  url.username = "";
  url.password = "";
  url.hash = "";
  // URL already lower-cases the host and drops default ports.
  const kept = [...url.searchParams.entries()].filter(
    ([key]) => !TRACKING_PARAMS.has(key.toLowerCase()) && !key.toLowerCase().startsWith("utm_"),
  );
  kept.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  url.search = new URLSearchParams(kept).toString();
  if (url.pathname.length > 1 && url.pathname.endsWith("/")) {
    url.pathname = url.pathname.replace(/\/+$/, "") || "/";
  }
  return url.href;
}

function resolveHttp(raw: string, base: string): string | undefined {
  try {
    const url = new URL(raw.trim(), base);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : undefined;
  } catch {
    return undefined;
  }
}

export function sameOrigin(a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}

/** Whether a URL's path names a file that is clearly not a page (an image, a script…). */
export function looksLikeNonPage(url: string): boolean {
  try {
    return NOT_PAGES.test(new URL(url).pathname);
  } catch {
    return true;
  }
}

/**
 * The same-origin links of an HTML page worth following, normalised and deduplicated, in
 * document order. Honours `<base href>`, skips rel="nofollow" links and a page whose robots
 * meta tag says nofollow.
 */
export function extractLinks(html: string, pageUrl: string): string[] {
  const { document } = parseHTML(html);
  const robots = document.querySelector('meta[name="robots" i]')?.getAttribute("content") ?? "";
  if (/\bnofollow\b|\bnone\b/i.test(robots)) return [];
  const baseHref = document.querySelector("base[href]")?.getAttribute("href");
  // Not normalised: a base's trailing slash decides how relative links resolve.
  const base = (baseHref && resolveHttp(baseHref, pageUrl)) || pageUrl;
  const links: string[] = [];
  const seen = new Set<string>();
  for (const anchor of document.querySelectorAll("a[href], area[href]")) {
    const rel = anchor.getAttribute("rel") ?? "";
    if (/\bnofollow\b/i.test(rel)) continue;
    if (anchor.hasAttribute("download")) continue;
    const url = normaliseCrawlUrl(anchor.getAttribute("href") ?? "", base);
    if (!url || !sameOrigin(url, pageUrl) || looksLikeNonPage(url) || seen.has(url)) continue;
    seen.add(url);
    links.push(url);
  }
  return links;
}

export interface Sitemap {
  /** Page URLs of a `<urlset>`. */
  pages: string[];
  /** Child sitemaps of a `<sitemapindex>`. */
  sitemaps: string[];
}

const XML_ENTITIES: Record<string, string> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
};

function decodeXmlText(text: string): string {
  return text
    .replace(/<!\[CDATA\[([\s\S]*?)\]\]>/g, "$1")
    .replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (entity, name: string) => {
      if (name.startsWith("#x") || name.startsWith("#X"))
        return String.fromCodePoint(parseInt(name.slice(2), 16));
      if (name.startsWith("#")) return String.fromCodePoint(parseInt(name.slice(1), 10));
      return XML_ENTITIES[name.toLowerCase()] ?? entity;
    })
    .trim();
}

/**
 * Reads a sitemap (sitemaps.org protocol): a `<urlset>` lists pages, a `<sitemapindex>` lists
 * other sitemaps. Namespaced tags (`<sm:loc>`) are accepted. A plain-text sitemap (one URL a
 * line) is read too. URLs are resolved against the sitemap's own URL.
 */
export function parseSitemap(text: string, sitemapUrl: string): Sitemap {
  const pages: string[] = [];
  const sitemaps: string[] = [];
  const isXml = /<(?:[\w-]+:)?(?:urlset|sitemapindex)\b/i.test(text);
  if (!isXml) {
    for (const line of text.split(/\r?\n/)) {
      const url = normaliseCrawlUrl(line, sitemapUrl);
      if (url && /^https?:\/\//i.test(line.trim())) pages.push(url);
    }
    return { pages, sitemaps };
  }
  const entry = /<((?:[\w-]+:)?(url|sitemap))\b[^>]*>([\s\S]*?)<\/\1\s*>/gi;
  for (const match of text.matchAll(entry)) {
    const kind = (match[2] ?? "").toLowerCase();
    const loc = /<(?:[\w-]+:)?loc\b[^>]*>([\s\S]*?)<\/(?:[\w-]+:)?loc\s*>/i.exec(match[3] ?? "");
    if (!loc?.[1]) continue;
    const url = normaliseCrawlUrl(decodeXmlText(loc[1]), sitemapUrl);
    if (!url) continue;
    (kind === "sitemap" ? sitemaps : pages).push(url);
  }
  return { pages: [...new Set(pages)], sitemaps: [...new Set(sitemaps)] };
}
