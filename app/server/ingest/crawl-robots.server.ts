// A site's robots.txt as the crawler obeys it: Allow/Disallow for the BiTB user agent (or `*`),
// its Crawl-delay (capped), and the sitemaps it names. Parsing is robots-parser's.
import robotsParser from "robots-parser";

/** The product token sites name in robots.txt to address this crawler (`User-agent: BiTB`). */
export const CRAWLER_USER_AGENT = "BiTB";

export interface RobotsRules {
  isAllowed(url: string): boolean;
  /** The delay between two requests the site asks for, in ms, at most the cap. */
  crawlDelayMs: number;
  sitemaps: string[];
}

/** No robots.txt (4xx): everything is allowed, as the robots exclusion protocol says. */
export const ALLOW_ALL: RobotsRules = { isAllowed: () => true, crawlDelayMs: 0, sitemaps: [] };

export function parseRobots(robotsUrl: string, text: string, delayCapMs: number): RobotsRules {
  const robots = robotsParser(robotsUrl, text);
  const delaySeconds = Number(robots.getCrawlDelay(CRAWLER_USER_AGENT) ?? 0);
  const crawlDelayMs =
    Number.isFinite(delaySeconds) && delaySeconds > 0
      ? Math.min(delayCapMs, Math.round(delaySeconds * 1000))
      : 0;
  return {
    // robots-parser answers undefined for a URL of another origin: never crawled anyway.
    isAllowed: (url) => robots.isAllowed(url, CRAWLER_USER_AGENT) ?? false,
    crawlDelayMs,
    sitemaps: robots.getSitemaps(),
  };
}
