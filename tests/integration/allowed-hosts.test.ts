// The app's own origin never comes from a request's Host: a request naming a foreign Host
// (or an absolute target on another host) gets 421 before any embed snippet, redirect, CSRF
// decision or link is built from it; the snippet names PUBLIC_URL; and a production server
// without PUBLIC_URL or ALLOWED_HOSTS refuses to start.
import { spawnSync } from "node:child_process";
import http from "node:http";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTenant, signIn } from "../support/admin.ts";
import { createAdmin } from "../support/cli.ts";
import { type Client, startServer, tempDataDir, type TestServer } from "../support/server.ts";

const root = path.resolve(import.meta.dirname, "../..");
// http: the test speaks plain HTTP, and request URLs take PUBLIC_URL's protocol.
const PUBLIC_URL = "http://chat.example.com";

let server: TestServer;
let admin: Client;
let tenantId: string;

beforeAll(async () => {
  const dataDir = tempDataDir();
  await createAdmin(dataDir);
  // The test reaches the server as 127.0.0.1 (ALLOWED_HOSTS of tests/support/server.ts).
  server = await startServer({ dataDir, env: { PUBLIC_URL } });
  admin = await signIn(server.url);
  tenantId = await createTenant(admin, "Hosts");
});
afterAll(async () => {
  await server?.stop();
});

/** A raw request, so the Host header (and the request target) say what the test wants. */
function raw(
  target: string,
  headers: Record<string, string>,
  method = "GET",
  body?: string,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: "127.0.0.1",
      port: server.port,
      method,
      path: target,
      headers: {
        ...(body ? { "content-length": String(Buffer.byteLength(body)) } : {}),
        ...headers,
      },
    });
    req.on("response", (res) => {
      let text = "";
      res.on("data", (d) => (text += d));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }),
      );
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe("a foreign Host", () => {
  it("never reaches the embed snippet", async () => {
    const evil = await raw(`/api/tenants/${tenantId}/embed`, {
      host: "evil.example",
      cookie: admin.cookie,
    });
    expect(evil.status).toBe(421);
    expect(JSON.parse(evil.body)).toMatchObject({ error: { code: "misdirected" } });
    expect(evil.body).not.toContain("evil.example");

    // An absolute request target naming another host is refused the same way.
    const absolute = await raw(`http://evil.example/api/tenants/${tenantId}/embed`, {
      host: "127.0.0.1",
      cookie: admin.cookie,
    });
    expect(absolute.status).toBe(421);
    expect(absolute.body).not.toContain("evil.example");

    // This server's own name gets the snippet, which names PUBLIC_URL (not the Host used).
    const own = await raw(`/api/tenants/${tenantId}/embed`, {
      host: `127.0.0.1:${server.port}`,
      cookie: admin.cookie,
    });
    expect(own.status).toBe(200);
    expect(own.body).toContain(PUBLIC_URL);
    expect(own.body).not.toContain("127.0.0.1");
  });

  it("never reaches a redirect or a page", async () => {
    const res = await raw("/admin", { host: "evil.example" });
    expect(res.status).toBe(421);
    expect(res.headers.location).toBeUndefined();
    expect(res.body).not.toContain("evil.example");
    const page = await raw("/login", { host: "evil.example" });
    expect(page.status).toBe(421);
  });

  it("never reaches the CSRF check: an Origin matching the forged Host is not this server", async () => {
    const body = JSON.stringify({ name: "Forged" });
    const forged = await raw(
      "/api/tenants",
      {
        host: "evil.example",
        origin: "http://evil.example",
        cookie: admin.cookie,
        "content-type": "application/json",
      },
      "POST",
      body,
    );
    expect(forged.status).toBe(421);
    const tenants = (await (await admin.fetch("/api/tenants")).json()) as {
      tenants: Array<{ name: string }>;
    };
    expect(tenants.tenants.map((t) => t.name)).not.toContain("Forged");
  });

  it("still lets health probes through, whatever Host they name", async () => {
    expect((await raw("/healthz", { host: "10.1.2.3:3000" })).status).toBe(200);
  });
});

describe("start-up", () => {
  it("refuses NODE_ENV=production without PUBLIC_URL or ALLOWED_HOSTS, naming PUBLIC_URL", () => {
    const result = spawnSync(process.execPath, ["server.js"], {
      cwd: root,
      env: { PATH: process.env.PATH, NODE_ENV: "production", DATA_DIR: tempDataDir(), PORT: "0" },
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("PUBLIC_URL: required with NODE_ENV=production");
  });
});
