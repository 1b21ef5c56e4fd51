import http from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHttpHandler, createRoutePatternMatcher } from "./http-observer.server.ts";
import { metrics } from "../metrics.server.ts";
import { requestLogFields, setRequestTenant } from "../request-context.server.ts";

// The shape of React Router's build.routes for a few of app/routes.ts's routes.
const manifest = {
  root: { id: "root", path: "" },
  "routes/home": { id: "routes/home", parentId: "root", index: true },
  "routes/healthz": { id: "routes/healthz", parentId: "root", path: "healthz" },
  "routes/api.tenant": { id: "routes/api.tenant", parentId: "root", path: "api/tenants/:tenantId" },
  "routes/admin": { id: "routes/admin", parentId: "root", path: "admin" },
  "routes/admin._index": { id: "routes/admin._index", parentId: "routes/admin", index: true },
  "routes/admin.tenant": {
    id: "routes/admin.tenant",
    parentId: "routes/admin",
    path: "tenants/:tenantId",
  },
};

describe("createRoutePatternMatcher", () => {
  const routeOf = createRoutePatternMatcher(manifest);
  it("names the route pattern, never the raw URL", () => {
    expect(routeOf("/")).toBe("/");
    expect(routeOf("/healthz")).toBe("/healthz");
    expect(routeOf("/api/tenants/tn_0123")).toBe("/api/tenants/:tenantId");
    expect(routeOf("/admin")).toBe("/admin");
    expect(routeOf("/admin/tenants/tn_0123")).toBe("/admin/tenants/:tenantId");
    expect(routeOf("/admin/tenants/tn_0123.data")).toBe("/admin/tenants/:tenantId");
    expect(routeOf("/_root.data")).toBe("/");
    expect(routeOf("/wp-login.php")).toBeNull();
  });
});

describe("createHttpHandler", () => {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  const logger = pino({ level: "debug", mixin: requestLogFields }, sink);
  let server: http.Server;
  let base: string;

  beforeAll(async () => {
    server = http.createServer(
      createHttpHandler({
        routes: manifest,
        logger,
        assets(req, res, next) {
          if (req.url === "/app.css") res.end("body{}");
          else next();
        },
        app(req, res) {
          // Work done later in the request still knows which request it belongs to.
          setTimeout(() => {
            if (req.url?.startsWith("/api/tenants/")) setRequestTenant("tn_acme");
            logger.info("inside the app");
            res.statusCode = req.url === "/wp-login.php" ? 404 : 200;
            res.end("ok");
          }, 5);
        },
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const count = async (labels: Record<string, string>) => {
    const metric = (await metrics.registry.getMetricsAsJSON()).find(
      (m) => m.name === "bitb_http_requests_total",
    );
    return (
      metric?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))
        ?.value ?? 0
    );
  };

  it("echoes a sane incoming request id and puts it on every log line of the request", async () => {
    const res = await fetch(`${base}/api/tenants/tn_acme`, {
      headers: { "x-request-id": "req-42.abc" },
    });
    expect(res.headers.get("x-request-id")).toBe("req-42.abc");
    await res.text();
    await new Promise((r) => setTimeout(r, 20));
    const mine = lines.filter((l) => l.requestId === "req-42.abc");
    expect(mine.map((l) => l.msg)).toEqual(["inside the app", "request completed"]);
    expect(mine.every((l) => l.tenantId === "tn_acme")).toBe(true);
    expect(mine[1]).toMatchObject({ route: "/api/tenants/:tenantId", status: 200, method: "GET" });
  });

  it("replaces a missing or unsafe request id with a new one", async () => {
    const plain = await fetch(`${base}/healthz`);
    expect(plain.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const unsafe = await fetch(`${base}/healthz`, {
      headers: { "x-request-id": "bad id\twith spaces" },
    });
    expect(unsafe.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const long = await fetch(`${base}/healthz`, { headers: { "x-request-id": "a".repeat(200) } });
    expect(long.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("counts requests by route pattern and status, static files and unknown paths apart", async () => {
    const before = {
      tenant: await count({ route: "/api/tenants/:tenantId", status: "200" }),
      css: await count({ route: "static", status: "200" }),
      scan: await count({ route: "unmatched", status: "404" }),
    };
    await (await fetch(`${base}/api/tenants/tn_one`)).text();
    await (await fetch(`${base}/api/tenants/tn_two`)).text();
    await (await fetch(`${base}/app.css`)).text();
    await (await fetch(`${base}/wp-login.php`)).text();
    await new Promise((r) => setTimeout(r, 20));
    expect(await count({ route: "/api/tenants/:tenantId", status: "200" })).toBe(before.tenant + 2);
    expect(await count({ route: "static", status: "200" })).toBe(before.css + 1);
    expect(await count({ route: "unmatched", status: "404" })).toBe(before.scan + 1);
    const text = await metrics.registry.metrics();
    expect(text).not.toContain("tn_one");
  });
});
