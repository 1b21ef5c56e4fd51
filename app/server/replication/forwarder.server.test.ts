import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { outboxSecret, SIGNATURE_HEADER, verifyBatch } from "./apply.server.ts";
import {
  replicationFixture,
  type ReplicationFixture,
} from "../../../tests/support/replication-fixture.ts";
import { OUTBOX_PATH, OutboxForwarder } from "./forwarder.server.ts";

let f: ReplicationFixture;
let server: http.Server;
let url: string;
let failures: number;
let received: { keys: string[]; verified: boolean }[];

beforeEach(async () => {
  f = replicationFixture();
  failures = 0;
  received = [];
  server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      if (req.url !== OUTBOX_PATH || failures > 0) {
        failures--;
        res.writeHead(503).end();
        return;
      }
      const batch = JSON.parse(body) as { entries: { key: string }[] };
      const keys = batch.entries.map((e) => e.key);
      received.push({
        keys,
        verified: verifyBatch(
          outboxSecret(f.control),
          body,
          req.headers[SIGNATURE_HEADER] as string,
        ),
      });
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ acknowledged: keys }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterEach(async () => {
  await new Promise((resolve) => server.close(resolve));
  f.close();
});

const forwarder = (batchSize = 2) =>
  new OutboxForwarder({
    outbox: f.outbox,
    role: f.role,
    primaryUrl: (host) => (host === "primary-host" ? url : "http://invalid.invalid"),
    runtime: f,
    logger: f.logger,
    intervalMs: 20,
    batchSize,
    maxBackoffMs: 40,
    timeoutMs: 2000,
  });

function queue(n: number) {
  for (let i = 0; i < n; i++) {
    f.outbox.append({
      key: `x:${i + 1}`,
      tenantId: f.tenant.id,
      kind: "exchange",
      conversationId: "cv_forwarded",
      payload: {
        conversationId: "cv_forwarded",
        question: `Q${i}`,
        answer: `A${i}`,
        citations: [],
        provider: "p:m",
        promptTokens: 0,
        completionTokens: 0,
        latencyMs: 1,
        abstained: false,
        now: Date.now(),
      },
    });
  }
}

describe("OutboxForwarder", () => {
  it("sends signed batches to the primary and marks what it acknowledged", async () => {
    f.setReplica(true);
    queue(5);
    await forwarder().flush();
    expect(received.map((r) => r.keys)).toEqual([["x:1", "x:2"], ["x:3", "x:4"], ["x:5"]]);
    expect(received.every((r) => r.verified)).toBe(true);
    expect(f.outbox.pendingCount()).toBe(0);
  });

  it("keeps the entries while the primary fails, and delivers them when it is back", async () => {
    f.setReplica(true);
    queue(3);
    failures = 3;
    const running = forwarder(10);
    await running.flush();
    expect(f.outbox.pendingCount()).toBe(3);
    running.start();
    await expect.poll(() => f.outbox.pendingCount(), { timeout: 5000 }).toBe(0);
    await running.stop();
    expect(received).toHaveLength(1);
  });

  it("applies its own outbox once this machine has become the primary", async () => {
    f.setReplica(true);
    queue(2);
    f.setReplica(false);
    await forwarder().flush();
    expect(received).toHaveLength(0);
    expect(f.outbox.pendingCount()).toBe(0);
    const n = f.tenants.get(f.tenant.id).prepare("SELECT count(*) AS n FROM messages").get() as {
      n: number;
    };
    expect(n.n).toBe(4);
  });
});
