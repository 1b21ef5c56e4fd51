// Slow and greedy clients cannot take the server from everyone else: 50 connections from one
// address that send their headers a byte at a time are cut to the per-address cap on arrival
// and dropped at the headers timeout, while other clients are answered throughout.
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "../support/server.ts";

const HEADERS_TIMEOUT_MS = 2000;
const CAP = 20;
const SLOW = 50;

let server: TestServer;

beforeAll(async () => {
  server = await startServer({
    env: {
      HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
      HTTP_REQUEST_TIMEOUT_MS: "5000",
      HTTP_MAX_CONNECTIONS_PER_ADDRESS: String(CAP),
    },
  });
});
afterAll(async () => {
  await server?.stop();
});

interface SlowClient {
  /** When the server closed the connection (ms after it was opened), or null while open. */
  closedAfter: () => number | null;
  stop: () => void;
}

/** A connection from 127.0.0.2 (still loopback) that sends a request's headers byte by byte. */
function slowClient(port: number): SlowClient {
  const opened = performance.now();
  let closedAt: number | null = null;
  const socket = net.connect({ port, host: "127.0.0.1", localAddress: "127.0.0.2" });
  const head = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + "a".repeat(10_000);
  let sent = 0;
  const drip = setInterval(() => {
    if (sent < head.length && !socket.destroyed) socket.write(head[sent++] as string);
  }, 100);
  socket.on("error", () => {});
  socket.on("close", () => {
    closedAt = performance.now() - opened;
    clearInterval(drip);
  });
  return {
    closedAfter: () => closedAt,
    stop: () => {
      clearInterval(drip);
      socket.destroy();
    },
  };
}

describe("slow clients", () => {
  it("cuts one address's connections to the cap, drops slow ones at the headers timeout, and answers others meanwhile", async () => {
    const clients = Array.from({ length: SLOW }, () => slowClient(server.port));
    try {
      await new Promise((r) => setTimeout(r, 500));
      const closedEarly = clients.filter((c) => c.closedAfter() !== null).length;
      expect(closedEarly).toBe(SLOW - CAP);

      // Another client (127.0.0.1) is answered at once while the slow ones hold their slots.
      for (let i = 0; i < 5; i++) {
        const started = performance.now();
        const res = await fetch(`${server.url}/healthz`);
        expect(res.status).toBe(200);
        await res.arrayBuffer();
        expect(performance.now() - started).toBeLessThan(1000);
      }

      // The rest are dropped at the headers timeout (checked each second), not kept for good.
      const deadline = performance.now() + HEADERS_TIMEOUT_MS + 3000;
      while (clients.some((c) => c.closedAfter() === null) && performance.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
      const lasted = clients.map((c) => c.closedAfter());
      expect(lasted.every((ms) => ms !== null)).toBe(true);
      const held = lasted.filter((ms) => (ms as number) >= 500);
      expect(held).toHaveLength(CAP);
      expect(held.every((ms) => (ms as number) >= HEADERS_TIMEOUT_MS - 100)).toBe(true);

      // Once they are gone, the address may connect again.
      const again = await new Promise<string>((resolve, reject) => {
        const socket = net.connect({
          port: server.port,
          host: "127.0.0.1",
          localAddress: "127.0.0.2",
        });
        let reply = "";
        socket.on("data", (d) => (reply += d));
        socket.on("end", () => resolve(reply));
        socket.on("error", reject);
        socket.end("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
      });
      expect(again).toMatch(/^HTTP\/1\.1 200/);
    } finally {
      for (const c of clients) c.stop();
    }
  });
});
