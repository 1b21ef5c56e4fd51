// Traces as a collector receives them over OTLP/HTTP: each request is an HTTP SERVER span
// with OpenTelemetry's HTTP attributes, continuing the caller's W3C traceparent, and the
// request's log lines carry its trace and span ids.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "../support/server.ts";

interface OtlpValue {
  stringValue?: string;
  intValue?: number | string;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: OtlpValue }[];
}

let collector: http.Server;
const exports: unknown[] = [];
let server: TestServer | undefined;

beforeAll(async () => {
  collector = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.url === "/v1/traces") exports.push(JSON.parse(Buffer.concat(chunks).toString()));
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, "127.0.0.1", resolve));
});
afterAll(async () => {
  await server?.stop();
  await new Promise<void>((resolve) => collector.close(() => resolve()));
});

function spansOf(payloads: unknown[]): OtlpSpan[] {
  return payloads.flatMap((p) =>
    (p as { resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[] }).resourceSpans.flatMap((r) =>
      r.scopeSpans.flatMap((s) => s.spans),
    ),
  );
}

const attribute = (span: OtlpSpan, key: string) => {
  const value = span.attributes.find((a) => a.key === key)?.value;
  return value?.stringValue ?? (value?.intValue === undefined ? undefined : Number(value.intValue));
};

describe("tracing", () => {
  it("makes each request an HTTP SERVER span in the caller's trace, and logs its ids", async () => {
    const port = (collector.address() as AddressInfo).port;
    server = await startServer({
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`, OTEL_SERVICE_NAME: "t" },
    });
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const parentId = "00f067aa0ba902b7";
    const res = await fetch(`${server.url}/demo?x=1`, {
      headers: { traceparent: `00-${traceId}-${parentId}-01` },
    });
    expect(res.status).toBe(200);
    await res.text();
    // Stopping flushes the exporter.
    await server.stop();
    const logs = server.logs();
    server = undefined;

    const spans = spansOf(exports);
    const request = spans.find((s) => s.kind === 2 && s.traceId === traceId);
    expect(request, JSON.stringify(spans.map((s) => s.name))).toBeDefined();
    expect(request?.parentSpanId).toBe(parentId);
    expect(request?.name).toBe("GET /demo");
    expect(attribute(request!, "http.request.method")).toBe("GET");
    expect(attribute(request!, "http.route")).toBe("/demo");
    expect(attribute(request!, "url.path")).toBe("/demo");
    expect(attribute(request!, "http.response.status_code")).toBe(200);

    const line = logs
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.msg === "request completed" && l.route === "/demo");
    expect(line).toMatchObject({ trace_id: traceId, span_id: request?.spanId });
  });
});
