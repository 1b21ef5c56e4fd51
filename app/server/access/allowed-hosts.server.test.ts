import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { hostAllowed, hostNameOf, withAllowedHosts } from "./allowed-hosts.server.ts";

describe("hostAllowed", () => {
  it("matches host names without port or case, and subdomains of a leading-dot entry", () => {
    const allowed = ["chat.example.com", ".example.org"];
    expect(hostAllowed("chat.example.com", allowed)).toBe(true);
    expect(hostAllowed("CHAT.Example.com:443", allowed)).toBe(true);
    expect(hostAllowed("example.org", allowed)).toBe(true);
    expect(hostAllowed("eu.example.org", allowed)).toBe(true);
    expect(hostAllowed("evil.example", allowed)).toBe(false);
    expect(hostAllowed("chat.example.com.evil.example", allowed)).toBe(false);
    expect(hostAllowed("notexample.org", allowed)).toBe(false);
    expect(hostAllowed("127.0.0.1", allowed)).toBe(false);
  });

  it("answers only loopback names when nothing is configured", () => {
    for (const host of ["localhost:3000", "127.0.0.1:3000", "[::1]:3000", "LOCALHOST"]) {
      expect(hostAllowed(host, []), host).toBe(true);
    }
    for (const host of ["evil.example", "10.0.0.5:3000", "localhost.evil.example"]) {
      expect(hostAllowed(host, []), host).toBe(false);
    }
  });

  it("refuses a missing or malformed Host", () => {
    for (const host of [undefined, "", "evil.example/x", "a b", "user@evil.example", "x\\y"]) {
      expect(hostNameOf(host), String(host)).toBeUndefined();
      expect(hostAllowed(host, ["evil.example"]), String(host)).toBe(false);
    }
  });
});

describe("withAllowedHosts", () => {
  let server: http.Server | undefined;
  afterEach(async () => {
    const closing = server;
    server = undefined;
    if (closing) await new Promise((resolve) => closing.close(resolve));
  });

  async function send(target: string, host: string): Promise<{ status: number; body: string }> {
    server ??= await new Promise<http.Server>((resolve) => {
      const s = http.createServer(
        withAllowedHosts({ allowedHosts: ["chat.example.com"] }, (_req, res) => res.end("app")),
      );
      s.listen(0, "127.0.0.1", () => resolve(s));
    });
    const { port } = server.address() as AddressInfo;
    return new Promise((resolve, reject) => {
      const req = http.request({ host: "127.0.0.1", port, path: target, headers: { host } });
      req.on("response", (res) => {
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on("error", reject);
      req.end();
    });
  }

  it("passes this server's Host and answers any other 421 in the one error shape", async () => {
    expect(await send("/admin", "chat.example.com")).toEqual({ status: 200, body: "app" });
    const refused = await send("/admin", "evil.example");
    expect(refused.status).toBe(421);
    expect(JSON.parse(refused.body)).toEqual({
      error: { code: "misdirected", message: "This server does not answer to that host name." },
    });
    expect(refused.body).not.toContain("evil.example");
  });

  it("refuses absolute and scheme-relative targets that would name another host", async () => {
    expect((await send("http://evil.example/admin", "chat.example.com")).status).toBe(421);
    expect((await send("//evil.example/admin", "chat.example.com")).status).toBe(421);
  });

  it("lets health probes and the LiteFS outbox through whatever their Host", async () => {
    expect((await send("/healthz", "10.0.0.7:3000")).status).toBe(200);
    expect((await send("/api/internal/outbox", "primary.vm.bitb.internal")).status).toBe(200);
  });
});
