import { describe, expect, it } from "vitest";
import { parseRobots } from "./crawl-robots.server.ts";
import {
  extractLinks,
  looksLikeNonPage,
  normaliseCrawlUrl,
  parseSitemap,
  sameOrigin,
} from "./crawl-urls.server.ts";

describe("normaliseCrawlUrl", () => {
  it("gives one form to the ways a page is written", () => {
    const forms = [
      "https://Example.com/help/",
      "https://example.com/help#returns",
      "https://example.com:443/help",
      "https://example.com/help?utm_source=news&utm_medium=mail",
      "https://example.com/help?fbclid=abc&gclid=def",
      "https://user:pw@example.com/help",
    ];
    for (const form of forms) expect(normaliseCrawlUrl(form)).toBe("https://example.com/help");
  });

  it("keeps the root's slash and meaningful parameters, sorted", () => {
    expect(normaliseCrawlUrl("https://example.com")).toBe("https://example.com/");
    expect(normaliseCrawlUrl("https://example.com/?b=2&a=1")).toBe("https://example.com/?a=1&b=2");
    expect(normaliseCrawlUrl("https://example.com/p?page=2&utm_campaign=x")).toBe(
      "https://example.com/p?page=2",
    );
  });

  it("resolves relative links and refuses what is not http(s)", () => {
    expect(normaliseCrawlUrl("../faq", "https://example.com/help/returns")).toBe(
      "https://example.com/faq",
    );
    expect(normaliseCrawlUrl("mailto:hi@example.com")).toBeUndefined();
    expect(normaliseCrawlUrl("javascript:void(0)")).toBeUndefined();
    expect(normaliseCrawlUrl("ftp://example.com/file")).toBeUndefined();
    expect(normaliseCrawlUrl("not a url")).toBeUndefined();
  });

  it("compares origins", () => {
    expect(sameOrigin("https://a.example/x", "https://a.example/y")).toBe(true);
    expect(sameOrigin("https://a.example/x", "http://a.example/x")).toBe(false);
    expect(sameOrigin("https://a.example/x", "https://b.example/x")).toBe(false);
    expect(sameOrigin("nonsense", "https://b.example/x")).toBe(false);
  });

  it("tells files that are not pages by their extension", () => {
    expect(looksLikeNonPage("https://a.example/logo.PNG")).toBe(true);
    expect(looksLikeNonPage("https://a.example/app.js")).toBe(true);
    expect(looksLikeNonPage("https://a.example/guide.pdf")).toBe(false);
    expect(looksLikeNonPage("https://a.example/help")).toBe(false);
  });
});

describe("extractLinks", () => {
  const page = "https://shop.example/help/index";

  it("keeps same-origin page links, normalised, once each, in order", () => {
    const html = `<html><body>
      <a href="/about">About</a>
      <a href="/about/">About again</a>
      <a href="/about#team">Team</a>
      <a href="returns?utm_source=nav">Returns</a>
      <a href="https://other.example/x">Elsewhere</a>
      <a href="mailto:help@shop.example">Mail</a>
      <a href="/logo.png">Logo</a>
      <a href="/ads" rel="nofollow sponsored">Ad</a>
      <a href="/brochure.pdf" download>Download</a>
      <a href="/guide.pdf">Guide</a>
      <map><area href="/map-area" /></map>
    </body></html>`;
    expect(extractLinks(html, page)).toEqual([
      "https://shop.example/about",
      "https://shop.example/help/returns",
      "https://shop.example/guide.pdf",
      "https://shop.example/map-area",
    ]);
  });

  it("honours <base href> and a nofollow robots meta tag", () => {
    expect(
      extractLinks(
        `<head><base href="https://shop.example/docs/"></head><a href="start">Start</a>`,
        page,
      ),
    ).toEqual(["https://shop.example/docs/start"]);
    expect(
      extractLinks(
        `<head><meta name="robots" content="noindex, nofollow"></head><a href="/x">x</a>`,
        page,
      ),
    ).toEqual([]);
  });
});

describe("parseSitemap", () => {
  const at = "https://shop.example/sitemap.xml";

  it("reads a urlset with entities, CDATA and relative locations", () => {
    const xml = `<?xml version="1.0" encoding="UTF-8"?>
      <urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
        <url><loc>https://shop.example/a?x=1&amp;y=2</loc><lastmod>2026-01-01</lastmod></url>
        <url><loc><![CDATA[https://shop.example/b/]]></loc></url>
        <url><loc> /c </loc></url>
        <url><loc>https://shop.example/a?y=2&amp;x=1</loc></url>
        <url><lastmod>2026-01-01</lastmod></url>
      </urlset>`;
    expect(parseSitemap(xml, at)).toEqual({
      pages: ["https://shop.example/a?x=1&y=2", "https://shop.example/b", "https://shop.example/c"],
      sitemaps: [],
    });
  });

  it("reads a sitemap index, namespaced tags included", () => {
    const xml = `<sm:sitemapindex xmlns:sm="http://www.sitemaps.org/schemas/sitemap/0.9">
      <sm:sitemap><sm:loc>https://shop.example/sitemap-pages.xml</sm:loc></sm:sitemap>
      <sm:sitemap><sm:loc>https://shop.example/sitemap-blog.xml.gz</sm:loc></sm:sitemap>
    </sm:sitemapindex>`;
    expect(parseSitemap(xml, at)).toEqual({
      pages: [],
      sitemaps: [
        "https://shop.example/sitemap-pages.xml",
        "https://shop.example/sitemap-blog.xml.gz",
      ],
    });
  });

  it("reads a plain-text sitemap and ignores what is not a URL", () => {
    expect(
      parseSitemap("https://shop.example/a\n\n# comment\nhttps://shop.example/b/\n", at),
    ).toEqual({
      pages: ["https://shop.example/a", "https://shop.example/b"],
      sitemaps: [],
    });
    expect(parseSitemap("<html><body>Not found</body></html>", at).pages).toEqual([]);
  });
});

describe("parseRobots", () => {
  const robotsUrl = "https://shop.example/robots.txt";
  const text = [
    "User-agent: *",
    "Disallow: /",
    "",
    "User-agent: BiTB",
    "Disallow: /private",
    "Allow: /private/open",
    "Crawl-delay: 30",
    "",
    "Sitemap: https://shop.example/sitemap-index.xml",
  ].join("\n");

  it("applies the BiTB group's Allow and Disallow lines", () => {
    const robots = parseRobots(robotsUrl, text, 60_000);
    expect(robots.isAllowed("https://shop.example/help")).toBe(true);
    expect(robots.isAllowed("https://shop.example/private/x")).toBe(false);
    expect(robots.isAllowed("https://shop.example/private/open/y")).toBe(true);
    // Another origin is never allowed by this site's rules.
    expect(robots.isAllowed("https://other.example/help")).toBe(false);
    expect(robots.sitemaps).toEqual(["https://shop.example/sitemap-index.xml"]);
  });

  it("caps the Crawl-delay", () => {
    expect(parseRobots(robotsUrl, text, 60_000).crawlDelayMs).toBe(30_000);
    expect(parseRobots(robotsUrl, text, 2000).crawlDelayMs).toBe(2000);
    expect(parseRobots(robotsUrl, "User-agent: *\nDisallow:\n", 2000).crawlDelayMs).toBe(0);
  });

  it("falls back to the * group", () => {
    const robots = parseRobots(robotsUrl, "User-agent: *\nDisallow: /admin\n", 1000);
    expect(robots.isAllowed("https://shop.example/admin/x")).toBe(false);
    expect(robots.isAllowed("https://shop.example/help")).toBe(true);
  });
});
