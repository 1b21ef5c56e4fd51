import { describe, expect, it } from "vitest";
import { silentLogger } from "../logger.server.ts";
import { bearerMatches, metricsOnMainPort, startMetricsServer } from "./metrics-endpoint.server.ts";

const token = "0123456789abcdef-token";
const off = { METRICS_TOKEN: undefined, METRICS_PORT: undefined, METRICS_HOST: "127.0.0.1" };
const get = (auth?: string) =>
  new Request("http://x/metrics", auth ? { headers: { authorization: auth } } : {});

describe("bearerMatches", () => {
  it("accepts only the exact token in a Bearer header", () => {
    expect(bearerMatches(`Bearer ${token}`, token)).toBe(true);
    expect(bearerMatches(`bearer ${token}`, token)).toBe(true);
    expect(bearerMatches(`Bearer ${token}x`, token)).toBe(false);
    expect(bearerMatches(`Basic ${token}`, token)).toBe(false);
    expect(bearerMatches(token, token)).toBe(false);
    expect(bearerMatches(null, token)).toBe(false);
  });
});

describe("/metrics on the main port", () => {
  it("does not exist without METRICS_TOKEN", async () => {
    expect((await metricsOnMainPort(get(`Bearer ${token}`), off)).status).toBe(404);
  });

  it("asks for the token, then serves the exposition format", async () => {
    const config = { ...off, METRICS_TOKEN: token };
    const refused = await metricsOnMainPort(get(), config);
    expect(refused.status).toBe(401);
    expect(refused.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect((await metricsOnMainPort(get("Bearer wrong-token-0000000"), config)).status).toBe(401);
    const ok = await metricsOnMainPort(get(`Bearer ${token}`), config);
    expect(ok.status).toBe(200);
    expect(ok.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await ok.text()).toContain("# TYPE bitb_http_requests_total counter");
  });
});

describe("the internal metrics listener", () => {
  it("is not started without METRICS_PORT", async () => {
    expect(await startMetricsServer(off, silentLogger)).toBeNull();
  });

  it("serves /metrics on its own port, with the token when one is set", async () => {
    const open = await startMetricsServer({ ...off, METRICS_PORT: 0 }, silentLogger);
    const guarded = await startMetricsServer(
      { ...off, METRICS_PORT: 0, METRICS_TOKEN: token },
      silentLogger,
    );
    try {
      const base = `http://127.0.0.1:${open?.port}`;
      expect((await fetch(`${base}/metrics`)).status).toBe(200);
      expect((await fetch(`${base}/other`)).status).toBe(404);
      expect((await fetch(`${base}/metrics`, { method: "POST" })).status).toBe(404);
      const guardedUrl = `http://127.0.0.1:${guarded?.port}/metrics`;
      expect((await fetch(guardedUrl)).status).toBe(401);
      const ok = await fetch(guardedUrl, { headers: { authorization: `Bearer ${token}` } });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain("process_cpu_user_seconds_total");
    } finally {
      await open?.close();
      await guarded?.close();
    }
  });
});
