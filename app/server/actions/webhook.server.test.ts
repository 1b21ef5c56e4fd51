import { createHmac } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { context, propagation, SpanKind, trace } from "@opentelemetry/api";
import {
  InMemorySpanExporter,
  NodeTracerProvider,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  createWebhookClient,
  signatureHeader,
  verifySignature,
  WebhookError,
} from "./webhook.server.ts";

const SECRET = "whsec_test";

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
}

let server: http.Server;
let url: string;
let received: Received[];
let answer: (count: number) => { status: number; body: string; delayMs?: number };

beforeEach(async () => {
  received = [];
  answer = () => ({ status: 200, body: JSON.stringify({ message: "Shipped.", reference: "R1" }) });
  server = http.createServer(async (req, res) => {
    const parts: Buffer[] = [];
    for await (const part of req) parts.push(part as Buffer);
    received.push({ headers: req.headers, body: Buffer.concat(parts).toString("utf8") });
    const reply = answer(received.length);
    if (reply.delayMs) await new Promise((resolve) => setTimeout(resolve, reply.delayMs));
    if (res.destroyed) return;
    res.writeHead(reply.status, { "content-type": "application/json" });
    res.end(reply.body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
});
afterEach(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const payload = {
  action: "order_tracking",
  tenantId: "tn_x",
  offerId: null,
  args: { order_number: "A-1" },
  contact: null,
  conversationId: "cv_x",
  at: 1,
};
const fast = {
  timeoutMs: 300,
  maxAttempts: 3,
  retryBaseMs: 5,
  breakerFailures: 2,
  halfOpenAfterMs: 60_000,
};

describe("webhook back-end", () => {
  it("traces each delivery as an HTTP CLIENT span and sends its traceparent", async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new NodeTracerProvider({
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    provider.register();
    try {
      const client = createWebhookClient({ allowPrivateNetwork: true, policy: fast });
      await client.call({ url: `${url}?token=secret`, secret: SECRET, payload, key: "t:trace" });
      const [call] = exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.CLIENT);
      expect(call?.attributes).toMatchObject({
        "http.request.method": "POST",
        "server.address": "127.0.0.1",
        "url.path": "/hook",
        "http.response.status_code": 200,
      });
      expect(JSON.stringify(call?.attributes)).not.toContain("secret");
      const { traceId, spanId } = call!.spanContext();
      expect(received[0]?.headers.traceparent).toBe(`00-${traceId}-${spanId}-01`);
    } finally {
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    }
  });

  it("signs the body: t and v1 = HMAC-SHA256 of t.body, verifiable by the receiver", async () => {
    const client = createWebhookClient({ allowPrivateNetwork: true, policy: fast });
    const reply = await client.call({ url, secret: SECRET, payload, key: "t:a" });
    expect(reply).toEqual({ message: "Shipped.", reference: "R1" });
    const [request] = received;
    expect(JSON.parse(request!.body)).toEqual(payload);
    expect(request!.headers["content-type"]).toBe("application/json");
    const header = String(request!.headers["bitb-signature"]);
    const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
    expect(match).not.toBeNull();
    const expected = createHmac("sha256", SECRET)
      .update(`${match![1]}.${request!.body}`)
      .digest("hex");
    expect(match![2]).toBe(expected);
    expect(verifySignature(SECRET, request!.body, header)).toBe(true);
    expect(verifySignature("other", request!.body, header)).toBe(false);
    expect(verifySignature(SECRET, `${request!.body} `, header)).toBe(false);
    const old = signatureHeader(SECRET, request!.body, Math.floor(Date.now() / 1000) - 3600);
    expect(verifySignature(SECRET, request!.body, old)).toBe(false);
  });

  it("retries failures with backoff, then opens the breaker for that tenant and action", async () => {
    const client = createWebhookClient({ allowPrivateNetwork: true, policy: fast });
    answer = () => ({ status: 503, body: "down" });
    await expect(client.call({ url, secret: SECRET, payload, key: "t:a" })).rejects.toMatchObject({
      reason: "http_status",
    });
    expect(received).toHaveLength(3);
    await expect(client.call({ url, secret: SECRET, payload, key: "t:a" })).rejects.toBeInstanceOf(
      WebhookError,
    );
    expect(received).toHaveLength(6);
    // Two failed runs in a row: open, the system is not called.
    await expect(client.call({ url, secret: SECRET, payload, key: "t:a" })).rejects.toMatchObject({
      reason: "breaker_open",
    });
    expect(received).toHaveLength(6);
    // Another action of the tenant has its own breaker.
    answer = () => ({ status: 200, body: "not json" });
    expect(await client.call({ url, secret: SECRET, payload, key: "t:b" })).toEqual({});
  });

  it("recovers when a retry succeeds, and times out slow answers", async () => {
    const client = createWebhookClient({ allowPrivateNetwork: true, policy: fast });
    answer = (count) =>
      count === 1 ? { status: 500, body: "" } : { status: 200, body: '{"details":{"eta":3}}' };
    expect(await client.call({ url, secret: SECRET, payload, key: "t:c" })).toEqual({
      details: { eta: "3" },
    });
    answer = () => ({ status: 200, body: "{}", delayMs: 1000 });
    await expect(client.call({ url, secret: SECRET, payload, key: "t:d" })).rejects.toMatchObject({
      reason: "timeout",
    });
  });

  it("refuses private addresses and plain http unless allowed, without retrying", async () => {
    const client = createWebhookClient({ allowPrivateNetwork: false, policy: fast });
    await expect(client.call({ url, secret: SECRET, payload, key: "t:e" })).rejects.toMatchObject({
      reason: "refused",
    });
    await expect(
      client.call({ url: url.replace("http:", "https:"), secret: SECRET, payload, key: "t:f" }),
    ).rejects.toMatchObject({ reason: "refused" });
    expect(received).toHaveLength(0);
  });
});
