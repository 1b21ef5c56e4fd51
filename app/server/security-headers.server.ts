// Security headers. Every response gets the baseline (no MIME sniffing, a strict referrer
// policy, no powerful browser features, HSTS over https); HTML documents (the admin app,
// sign-in, setup, the demo) also get a Content-Security-Policy whose only inline scripts are
// those carrying this request's nonce, and may not be framed. CORS is not set here: the
// widget's files (server.js) and the public API routes grant exactly what they need, and
// admin responses grant nothing.
import { randomBytes } from "node:crypto";
import type { RequestHead } from "./request.server.ts";

/** A fresh CSP nonce: 128 random bits, base64. */
export function createNonce(): string {
  return randomBytes(16).toString("base64");
}

/** One year, the value HSTS preload lists ask for. */
const HSTS = "max-age=31536000; includeSubDomains";

export const PERMISSIONS_POLICY =
  "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), " +
  "payment=(), usb=()";

/** The policy of an HTML document whose inline scripts carry `nonce`. */
export function contentSecurityPolicy(nonce: string): string {
  return [
    "default-src 'self'",
    // React Router's inline hydration data and module loader carry the nonce; the bundles
    // and the demo's widget.js are our own files.
    `script-src 'self' 'nonce-${nonce}'`,
    // Inline style attributes (progress bars) and the widget's constructed stylesheet.
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}

const BASELINE = Object.freeze({
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "strict-origin-when-cross-origin",
  "Permissions-Policy": PERMISSIONS_POLICY,
});
const BASELINE_HTTPS = Object.freeze({ ...BASELINE, "Strict-Transport-Security": HSTS });

/**
 * The baseline every response carries, as plain headers (for a response written straight to
 * node's `res`, like the cached-answer lane's); HSTS only when the request came over https.
 */
export function baseSecurityHeaders(https: boolean): Readonly<Record<string, string>> {
  return https ? BASELINE_HTTPS : BASELINE;
}

/** Adds the baseline to `headers`, keeping a value a response set itself (HSTS excepted). */
export function applyBaseSecurityHeaders(headers: Headers, https: boolean): void {
  for (const [name, value] of Object.entries(baseSecurityHeaders(https))) {
    if (name === "Strict-Transport-Security" || !headers.has(name)) headers.set(name, value);
  }
}

/** The headers of a server-rendered HTML document. */
export function applyDocumentSecurityHeaders(headers: Headers, nonce: string, https: boolean) {
  applyBaseSecurityHeaders(headers, https);
  headers.set("Content-Security-Policy", contentSecurityPolicy(nonce));
  headers.set("X-Frame-Options", "DENY");
  headers.set("Cross-Origin-Opener-Policy", "same-origin");
}

/**
 * The response with the baseline headers added (server.js applies it to every response of the
 * request handler: documents already have theirs, resource routes and data requests get them
 * here). The headers of a few responses (Response.redirect) are immutable: those are copied.
 */
export function withBaseSecurityHeaders(request: RequestHead, response: Response): Response {
  const https = new URL(request.url).protocol === "https:";
  try {
    applyBaseSecurityHeaders(response.headers, https);
    return response;
  } catch {
    const headers = new Headers(response.headers);
    applyBaseSecurityHeaders(headers, https);
    return new Response(response.body, {
      status: response.status,
      statusText: response.statusText,
      headers,
    });
  }
}
