// Sign-in lockout through the real form (and across a restart), and the security headers and
// CORS grants of the built server's pages, admin API, public API and widget files.
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTenant, signIn } from "../support/admin.ts";
import { ADMIN, createAdmin } from "../support/cli.ts";
import { allowOrigins } from "../support/keys.ts";
import { Client, startServer, tempDataDir, type TestServer } from "../support/server.ts";

let dataDir: string;
let server: TestServer;

function signInAttempt(password: string, email = ADMIN.email, client = new Client(server.url)) {
  return client.fetch("/login", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ email, password }),
  });
}

beforeAll(async () => {
  dataDir = tempDataDir();
  await createAdmin(dataDir);
  server = await startServer({ dataDir });
  // A tenant that lets https://customer.example embed its widget (before any lockout below).
  const admin = await signIn(server.url);
  await allowOrigins(admin, await createTenant(admin, "Customer"), ["https://customer.example"]);
});
afterAll(async () => {
  await server?.stop();
});

describe("sign-in lockout", () => {
  it("keeps no typed e-mail or client address in the control database after a failed sign-in", async () => {
    expect((await signInAttempt("wrong password", "Frank.PII@example.org")).status).toBe(400);
    const control = new Database(path.join(dataDir, "control.db"), { readonly: true });
    try {
      const tables = control
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .all() as Array<{ name: string }>;
      const stored = tables
        .map(({ name }) => JSON.stringify(control.prepare(`SELECT * FROM "${name}"`).all()))
        .join("\n")
        .toLowerCase();
      expect(control.prepare("SELECT count(*) AS n FROM sign_in_failures").get()).toEqual({
        n: 2,
      });
      expect(stored).not.toContain("frank.pii");
      expect(stored).not.toContain("127.0.0.1");
    } finally {
      control.close();
    }
  });

  it("locks the account after 5 failures with 429 and Retry-After, and a restart keeps the lock", async () => {
    for (let i = 0; i < 4; i++) {
      const res = await signInAttempt("wrong password");
      expect(res.status).toBe(400);
      expect(await res.text()).toContain("Wrong e-mail or password.");
    }
    const fifth = await signInAttempt("wrong password");
    expect(fifth.status).toBe(429);
    expect(Number(fifth.headers.get("retry-after"))).toBeGreaterThan(14 * 60);
    expect(await fifth.text()).toContain("Too many failed sign-ins");

    // The right password does not get in while the lock lasts.
    const right = await signInAttempt(ADMIN.password);
    expect(right.status).toBe(429);
    expect(right.headers.get("set-cookie")).toBeNull();

    await server.stop();
    server = await startServer({ dataDir });
    const afterRestart = await signInAttempt(ADMIN.password);
    expect(afterRestart.status).toBe(429);
    expect(Number(afterRestart.headers.get("retry-after"))).toBeGreaterThan(0);
  });

  it("locks a client that guesses across many accounts (per address)", async () => {
    await server.stop();
    server = await startServer({
      dataDir: tempDataDir(),
      env: { SIGN_IN_MAX_FAILURES_PER_CLIENT: "6", SIGN_IN_MAX_FAILURES: "100" },
    });
    for (let i = 0; i < 5; i++) {
      expect((await signInAttempt("guess", `user${i}@example.com`)).status).toBe(400);
    }
    expect((await signInAttempt("guess", "user9@example.com")).status).toBe(429);
    expect((await signInAttempt("guess", "someone-new@example.com")).status).toBe(429);
  });
});

describe("security headers", () => {
  it("gives pages a nonce-based CSP, a fresh nonce each time, on every inline script", async () => {
    const nonces = new Set<string>();
    for (const path of ["/login", "/", "/setup", "/demo"]) {
      const res = await fetch(`${server.url}${path}`);
      expect(res.status, path).toBe(200);
      const csp = res.headers.get("content-security-policy") ?? "";
      const nonce = /'nonce-([^']+)'/.exec(csp)?.[1];
      expect(nonce, path).toBeTruthy();
      nonces.add(nonce as string);
      expect(csp).not.toMatch(/script-src[^;]*'unsafe-inline'/);
      expect(csp).toContain("frame-ancestors 'none'");
      expect(res.headers.get("x-frame-options")).toBe("DENY");
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect(res.headers.get("referrer-policy")).toBe("strict-origin-when-cross-origin");
      expect(res.headers.get("permissions-policy")).toContain("microphone=()");
      // Plain http here: no HSTS.
      expect(res.headers.has("strict-transport-security")).toBe(false);
      const html = await res.text();
      const inline = [...html.matchAll(/<script(?![^>]*\bsrc=)([^>]*)>/g)];
      expect(inline.length, path).toBeGreaterThan(0);
      for (const [, attributes] of inline) expect(attributes).toContain(`nonce="${nonce}"`);
    }
    expect(nonces.size).toBe(4);
  });

  it("sends HSTS when the public origin is https", async () => {
    const https = await startServer({
      dataDir: tempDataDir(),
      env: { PUBLIC_URL: "https://chat.example.com" },
    });
    try {
      for (const path of ["/login", "/api/tenants", "/widget.js"]) {
        const res = await fetch(`${https.url}${path}`);
        expect(res.headers.get("strict-transport-security"), path).toMatch(/max-age=31536000/);
      }
    } finally {
      await https.stop();
    }
  });

  it("gives JSON responses the baseline and admin APIs no CORS grant", async () => {
    const res = await fetch(`${server.url}/api/tenants`, {
      headers: { origin: "https://evil.example" },
    });
    expect(res.status).toBe(401);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.has("access-control-allow-origin")).toBe(false);
    expect(res.headers.has("access-control-allow-credentials")).toBe(false);
    const preflight = await fetch(`${server.url}/api/tenants`, {
      method: "OPTIONS",
      headers: { origin: "https://evil.example", "access-control-request-method": "POST" },
    });
    expect(preflight.headers.has("access-control-allow-origin")).toBe(false);
  });

  it("lets the public API be used from an allowed origin and widget files from any, without credentials", async () => {
    // The first data folder holds the tenant that allows https://customer.example.
    const first = await startServer({ dataDir });
    const preflight = await fetch(`${first.url}/api/ask`, {
      method: "OPTIONS",
      headers: {
        origin: "https://customer.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type",
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("https://customer.example");
    expect(preflight.headers.get("access-control-allow-methods")).toMatch(/POST/);
    expect(preflight.headers.get("access-control-allow-methods")).not.toMatch(/DELETE|PATCH|PUT/);
    expect(preflight.headers.has("access-control-allow-credentials")).toBe(false);
    const elsewhere = await fetch(`${first.url}/api/ask`, {
      method: "OPTIONS",
      headers: { origin: "https://other.example", "access-control-request-method": "POST" },
    });
    expect(elsewhere.status).toBe(403);
    expect(elsewhere.headers.has("access-control-allow-origin")).toBe(false);
    await first.stop();
    const widget = await fetch(`${server.url}/widget.js`);
    expect(widget.status).toBe(200);
    expect(widget.headers.get("access-control-allow-origin")).toBe("*");
    expect(widget.headers.get("x-content-type-options")).toBe("nosniff");
    expect(widget.headers.get("content-type")).toMatch(/javascript/);
  });
});
