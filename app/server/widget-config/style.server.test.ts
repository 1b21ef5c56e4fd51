import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { newTenantId } from "#tenants/id.ts";
import { insertTenant, openControlDb } from "../control-db.server.ts";
import { getWidgetKey, setAllowedOrigins } from "../access/keys.server.ts";
import { DEFAULT_WIDGET_SETTINGS } from "./settings.server.ts";
import {
  appOriginOf,
  embedData,
  parseWidgetStyleForm,
  previewHeaders,
  previewPageHtml,
  previewSettings,
  testPageHeaders,
  testPageHtml,
} from "./style.server.ts";

function form(fields: Record<string, string>): FormData {
  const data = new FormData();
  for (const [name, value] of Object.entries(fields)) data.append(name, value);
  return data;
}

const good = {
  title: " Ask Lumen ",
  color: "#aa3300",
  position: "top-left",
  greeting: "Hello!",
  starterQuestions: "When are you open?\r\n\n  Do you deliver?  \n",
  language: "fr",
  voiceGreeting: "on",
};

describe("parseWidgetStyleForm", () => {
  it("reads every field of the form into a settings update", () => {
    expect(parseWidgetStyleForm(form(good))).toEqual({
      ok: true,
      update: {
        title: "Ask Lumen",
        color: "#aa3300",
        position: "top-left",
        greeting: "Hello!",
        starterQuestions: ["When are you open?", "Do you deliver?"],
        language: "fr",
        voiceGreeting: true,
      },
    });
  });

  it("reads an unticked checkbox as off and an empty language as the browser's", () => {
    const { voiceGreeting: _, ...rest } = good;
    const parsed = parseWidgetStyleForm(form({ ...rest, language: "" }));
    expect(parsed).toMatchObject({ ok: true, update: { voiceGreeting: false, language: null } });
  });

  it("says what to do about each bad field", () => {
    const parsed = parseWidgetStyleForm(
      form({
        ...good,
        title: "",
        color: "red; background: url(x)",
        position: "middle",
        starterQuestions: "1\n2\n3\n4\n5\n6\n7",
        language: "xx",
      }),
    );
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(Object.keys(parsed.fieldErrors).sort()).toEqual([
      "color",
      "language",
      "position",
      "starterQuestions",
      "title",
    ]);
    expect(parsed.fieldErrors.color).toMatch(/#2546d8/);
    expect(parsed.fieldErrors.starterQuestions).toMatch(/at most 6/);
  });
});

describe("the preview page", () => {
  it("falls back field by field for a draft that does not parse", () => {
    expect(previewSettings(undefined)).toEqual(DEFAULT_WIDGET_SETTINGS);
    expect(previewSettings("{not json")).toEqual(DEFAULT_WIDGET_SETTINGS);
    expect(previewSettings(JSON.stringify({ title: "Hi", color: "url(x)" }))).toEqual({
      ...DEFAULT_WIDGET_SETTINGS,
      title: "Hi",
    });
  });

  it("runs the real loader with the draft, which cannot break out of its script", () => {
    const html = previewPageHtml({
      tenantId: "tn_0123",
      widgetKey: "pk_abc",
      settings: { ...DEFAULT_WIDGET_SETTINGS, greeting: "</script><script>alert(1)</script>" },
      open: true,
      nonce: "n0nce",
    });
    expect(html).toContain(
      '<script src="/widget.js" data-tenant="tn_0123" data-key="pk_abc" async>',
    );
    expect(html).toContain('"bitb:settings:tn_0123"');
    expect(html).not.toContain("</script><script>alert(1)");
    expect(html).toContain("\\u003c/script\\u003e");
    // Inline scripts carry the nonce the policy names.
    expect(html.match(/<script nonce="n0nce">/g)).toHaveLength(1);
    expect(previewHeaders("n0nce")["Content-Security-Policy"]).toContain("'nonce-n0nce'");
    expect(previewHeaders("n0nce")["Content-Security-Policy"]).toContain("frame-ancestors 'self'");
    expect(html).toContain("if (!true");
    expect(
      previewPageHtml({
        tenantId: "tn_0123",
        widgetKey: "pk_abc",
        settings: DEFAULT_WIDGET_SETTINGS,
        open: false,
        nonce: "n",
      }),
    ).toContain("if (!false");
  });
});

describe("the test page", () => {
  it("holds the snippet and says whether it tests the allowed domains", () => {
    const snippet = '<script src="http://localhost:3000/widget.js" async></script>';
    const same = testPageHtml({
      snippet,
      pageOrigin: "http://localhost:3000",
      appOrigin: "http://localhost:3000",
    });
    expect(same).toContain(snippet);
    expect(same).toMatch(/always\s+works/);
    const other = testPageHtml({
      snippet,
      pageOrigin: "http://127.0.0.1:3000",
      appOrigin: "http://localhost:3000",
    });
    expect(other).toMatch(/answers here only if\s+<code>http:\/\/127.0.0.1:3000<\/code>/);
    const csp = testPageHeaders("http://localhost:3000")["Content-Security-Policy"];
    expect(csp).toContain("script-src 'self' http://localhost:3000");
    expect(csp).toContain("frame-ancestors 'none'");
  });
});

describe("embedData", () => {
  it("gives the snippet for PUBLIC_URL (else the request's origin), the domains and the test page", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-widget-style-"));
    const control = openControlDb(dir);
    try {
      const id = newTenantId();
      insertTenant(control, { id, name: "Shop" });
      setAllowedOrigins(control, id, ["https://shop.example"]);
      const key = getWidgetKey(control, id);
      const request = new Request("http://127.0.0.1:3000/signup/embed");
      expect(appOriginOf(request, { PUBLIC_URL: undefined })).toBe("http://127.0.0.1:3000");
      const data = embedData(
        { control, config: { PUBLIC_URL: "https://chat.example.com/" } },
        { id },
        request,
      );
      expect(data).toEqual({
        snippet: `<script src="https://chat.example.com/widget.js" data-tenant="${id}" data-key="${key}" async></script>`,
        appOrigin: "https://chat.example.com",
        allowedOrigins: ["https://shop.example"],
        testPageUrl: `/embed-test/${id}?key=${key}`,
      });
    } finally {
      control.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
