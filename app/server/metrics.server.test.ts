// The metric catalogue, and the promise that the dashboard and alert rules only query
// metrics this server exports (a renamed metric would silently empty a panel or an alert).
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it, vi } from "vitest";
import { metrics, recordAsk, recordBreakerState, renderMetrics } from "./metrics.server.ts";

const root = path.resolve(import.meta.dirname, "../..");

async function value(name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  const sample = metric?.values.find((v) =>
    Object.entries(labels).every(([k, l]) => String(v.labels[k]) === l),
  );
  return sample?.value ?? 0;
}

describe("metrics", () => {
  it("is one registry per process", async () => {
    vi.resetModules();
    const again = await import("./metrics.server.ts");
    expect(again.metrics).toBe(metrics);
  });

  it("records an ask's stages, outcome, degradation and tokens", async () => {
    const tokens = await value("bitb_llm_tokens_total", { provider: "extractive", kind: "prompt" });
    recordAsk({
      embedMs: 5,
      retrievalMs: 9,
      firstTokenMs: 20,
      totalMs: 40,
      abstained: false,
      degradedReason: "breaker_open",
      provider: "extractive",
      promptTokens: 100,
      completionTokens: 0,
    });
    const text = (await renderMetrics()).body;
    expect(text).toMatch(/bitb_rag_stage_duration_seconds_count\{stage="embed"\} [1-9]/);
    expect(text).toMatch(/bitb_degraded_answers_total\{reason="breaker_open"\} [1-9]/);
    expect(await value("bitb_llm_tokens_total", { provider: "extractive", kind: "prompt" })).toBe(
      tokens + 100,
    );
    // A zero count adds no series.
    expect(text).not.toMatch(/bitb_llm_tokens_total\{provider="extractive",kind="completion"\}/);
  });

  it("shows exactly one breaker state per provider and counts transitions", async () => {
    recordBreakerState("test-llm", "closed", true);
    recordBreakerState("test-llm", "open");
    expect(await value("bitb_llm_breaker_state", { provider: "test-llm", state: "open" })).toBe(1);
    expect(await value("bitb_llm_breaker_state", { provider: "test-llm", state: "closed" })).toBe(
      0,
    );
    recordBreakerState("test-llm", "half_open");
    recordBreakerState("test-llm", "closed");
    expect(await value("bitb_llm_breaker_state", { provider: "test-llm", state: "closed" })).toBe(
      1,
    );
    expect(await value("bitb_llm_breaker_transitions_total", { provider: "test-llm" })).toBe(1);
  });

  it("reads the gauges of the running server at scrape time", async () => {
    metrics.sources.openTenantHandles = () => 7;
    expect(await value("bitb_tenant_db_open_handles")).toBe(7);
    delete metrics.sources.openTenantHandles;
    expect(await value("bitb_tenant_db_open_handles")).toBe(0);
  });

  it("leaves out the default gauges promtool rejects", async () => {
    const text = (await renderMetrics()).body;
    expect(text).toContain("process_cpu_user_seconds_total");
    expect(text).not.toContain("nodejs_active_handles_total");
  });

  it("has every bitb_ metric the dashboard and the alert rules query", async () => {
    const exported = new Set<string>();
    for (const metric of await metrics.registry.getMetricsAsJSON()) {
      exported.add(metric.name);
      if (String(metric.type) === "histogram") {
        for (const suffix of ["_bucket", "_count", "_sum"]) exported.add(metric.name + suffix);
      }
    }
    for (const file of ["ops/grafana/bitb-dashboard.json", "ops/prometheus/alerts.yml"]) {
      const used = new Set(fs.readFileSync(path.join(root, file), "utf8").match(/bitb_[a-z_]+/g));
      expect(used.size, file).toBeGreaterThan(3);
      for (const name of used) expect(exported.has(name), `${file}: ${name}`).toBe(true);
    }
  });
});
