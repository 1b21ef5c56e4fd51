import { describe, expect, it } from "vitest";
import {
  applyDocumentSecurityHeaders,
  contentSecurityPolicy,
  createNonce,
  withBaseSecurityHeaders,
} from "./security-headers.server.ts";

describe("security headers", () => {
  it("makes a fresh, unguessable nonce for each document", () => {
    const nonces = new Set(Array.from({ length: 100 }, createNonce));
    expect(nonces.size).toBe(100);
    for (const nonce of nonces) expect(nonce).toMatch(/^[A-Za-z0-9+/]{22}==$/);
  });

  it("allows only our own scripts and the nonce's inline ones, and no framing", () => {
    const csp = contentSecurityPolicy("abc");
    expect(csp).toContain("script-src 'self' 'nonce-abc'");
    expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("object-src 'none'");
  });

  it("documents get CSP and the baseline; HSTS only over https", () => {
    const plain = new Headers();
    applyDocumentSecurityHeaders(plain, "n1", false);
    expect(plain.get("Content-Security-Policy")).toContain("'nonce-n1'");
    expect(plain.get("X-Frame-Options")).toBe("DENY");
    expect(plain.get("X-Content-Type-Options")).toBe("nosniff");
    expect(plain.get("Referrer-Policy")).toBe("strict-origin-when-cross-origin");
    expect(plain.get("Permissions-Policy")).toContain("camera=()");
    expect(plain.has("Strict-Transport-Security")).toBe(false);
    const secure = new Headers();
    applyDocumentSecurityHeaders(secure, "n2", true);
    expect(secure.get("Strict-Transport-Security")).toMatch(/max-age=31536000/);
  });

  it("adds the baseline to any response, even one with immutable headers", async () => {
    const json = withBaseSecurityHeaders(
      new Request("https://chat.example.com/api/tenants"),
      Response.json({ ok: true }, { status: 201 }),
    );
    expect(json.status).toBe(201);
    expect(json.headers.get("X-Content-Type-Options")).toBe("nosniff");
    expect(json.headers.get("Strict-Transport-Security")).toBeTruthy();
    expect(await json.json()).toEqual({ ok: true });
    const redirect = withBaseSecurityHeaders(
      new Request("http://localhost/x"),
      Response.redirect("http://localhost/login", 302),
    );
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get("Location")).toBe("http://localhost/login");
    expect(redirect.headers.get("X-Content-Type-Options")).toBe("nosniff");
    expect(redirect.headers.has("Strict-Transport-Security")).toBe(false);
  });
});
