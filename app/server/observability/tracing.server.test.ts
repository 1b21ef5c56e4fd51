import http from "node:http";
import type { AddressInfo } from "node:net";
import { trace } from "@opentelemetry/api";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-node";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../logger.server.ts";
import { startSpan, startTracing, stopTracing, traceStages } from "./tracing.server.ts";

afterEach(() => {
  trace.disable();
});

describe("tracing off", () => {
  it("makes spans that record nothing when no endpoint is configured", async () => {
    await startTracing(
      { OTEL_EXPORTER_OTLP_ENDPOINT: undefined, OTEL_SERVICE_NAME: "t" },
      silentLogger,
    );
    const span = startSpan("ask");
    expect(span.isRecording()).toBe(false);
    span.end();
  });
});

describe("traceStages", () => {
  it("traces a job as a root span with one child per stage, in order", async () => {
    const exporter = new InMemorySpanExporter();
    trace.setGlobalTracerProvider(
      new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
    );
    const outer = startSpan("request");
    const job = traceStages("ingest.job", { "bitb.job_id": 7 });
    for (const stage of ["fetch", "parse", "chunk", "embed", "embed", "embed", "index"]) {
      job.stage(stage);
    }
    job.end(new Error("disk full"), { "bitb.outcome": "failed" });
    outer.end();

    const spans = exporter.getFinishedSpans();
    const root = spans.find((s) => s.name === "ingest.job");
    expect(root?.parentSpanContext).toBeUndefined();
    expect(root?.status.code).toBe(2);
    expect(root?.attributes).toMatchObject({ "bitb.job_id": 7, "bitb.outcome": "failed" });
    const children = spans.filter(
      (s) => s.parentSpanContext?.spanId === root?.spanContext().spanId,
    );
    expect(children.map((s) => s.name)).toEqual([
      "ingest.fetch",
      "ingest.parse",
      "ingest.chunk",
      "ingest.embed",
      "ingest.index",
    ]);
    // The stage that was running when the job failed carries the error too.
    expect(children.at(-1)?.status.code).toBe(2);
    expect(children[0]?.status.code).toBe(0);
  });
});

describe("startTracing", () => {
  it("exports spans over OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT/v1/traces", async () => {
    const received: { url: string; type: string; bytes: number }[] = [];
    const collector = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        received.push({
          url: req.url ?? "",
          type: req.headers["content-type"] ?? "",
          bytes: Buffer.concat(chunks).length,
        });
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, "127.0.0.1", resolve));
    const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}/`;
    try {
      await startTracing(
        { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_SERVICE_NAME: "bitb-test" },
        silentLogger,
      );
      const span = startSpan("ask", { attributes: { "bitb.tenant_id": "tn_x" } });
      expect(span.isRecording()).toBe(true);
      span.end();
      await stopTracing();
    } finally {
      await new Promise<void>((resolve) => collector.close(() => resolve()));
    }
    expect(received.length).toBeGreaterThan(0);
    expect(received[0]?.url).toBe("/v1/traces");
    expect(received[0]?.bytes).toBeGreaterThan(0);
  });
});
