// Starts the built server (node server.js) on a free loopback port with its own temporary
// data folder, and speaks to it over HTTP like any client would.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "../..");

export interface TestServer {
  url: string;
  port: number;
  dataDir: string;
  /** The server process's id (benchmarks read its memory and descriptors from /proc). */
  pid: number;
  logs: () => string;
  /** Stops the process (SIGTERM, or SIGKILL to simulate a crash). */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export function tempDataDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "bitb-test-"));
}

export async function startServer(
  options: {
    env?: Record<string, string>;
    dataDir?: string;
    waitForReady?: boolean;
    /** Extra node flags, e.g. `--cpu-prof` for profiling under a benchmark. */
    nodeArgs?: string[];
    /** A given port (a restart on the same address); default: a free one. */
    port?: number;
  } = {},
): Promise<TestServer> {
  const port = options.port ?? (await freePort());
  const dataDir = options.dataDir ?? tempDataDir();
  let output = "";
  const child: ChildProcess = spawn(process.execPath, [...(options.nodeArgs ?? []), "server.js"], {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: "production",
      HOST: "127.0.0.1",
      PORT: String(port),
      DATA_DIR: dataDir,
      DEMO_TENANT: "false",
      // The names tests reach the server by (NODE_ENV=production needs them, or PUBLIC_URL).
      ALLOWED_HOSTS: "127.0.0.1,localhost",
      LOG_LEVEL: "info",
      INGEST_POLL_MS: "100",
      INGEST_ALLOW_PRIVATE_URLS: "true",
      // A developer's own .env in the checkout stays out of the tests.
      ENV_FILE: "",
      ...options.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.on("data", (d) => (output += d));
  child.stderr?.on("data", (d) => (output += d));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const server: TestServer = {
    url,
    port,
    dataDir,
    pid: child.pid ?? 0,
    logs: () => output,
    async stop(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
  const level = options.env?.LOG_LEVEL ?? "info";
  const quiet = !["info", "debug", "trace"].includes(level);
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited early:\n${output}`);
    try {
      // Alive (/healthz) is enough when the test does not wait for readiness (/readyz).
      const probe = options.waitForReady === false ? "healthz" : "readyz";
      const res = await fetch(`${url}/${probe}`);
      // The port is bound before the runtime starts (server.js): wait for its start-up lines
      // too (the setup link, "listening"), which reach us on another pipe than the answer.
      const started = quiet || output.includes("BiTB listening");
      if (started && res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await server.stop("SIGKILL");
      throw new Error(`server did not become ready:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return server;
}

/** The one-time setup link the server prints while it has no admin. */
export function setupTokenFromLogs(logs: string): string {
  const match = /setup\?token=([A-Za-z0-9_-]+)/.exec(logs);
  if (!match?.[1]) throw new Error(`no setup link in the logs:\n${logs}`);
  return match[1];
}

/** A small cookie jar: the admin session (and, under LiteFS, the write position). */
export class Client {
  private readonly jar = new Map<string, string>();
  constructor(readonly base: string) {}

  /** The Cookie header this client sends ("" when it has none). */
  get cookie(): string {
    return [...this.jar].map(([name, value]) => `${name}=${value}`).join("; ");
  }

  set cookie(header: string) {
    this.jar.clear();
    for (const pair of header.split(";")) {
      const at = pair.indexOf("=");
      if (at > 0) this.jar.set(pair.slice(0, at).trim(), pair.slice(at + 1).trim());
    }
  }

  async fetch(pathname: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookie) headers.set("cookie", this.cookie);
    const method = (init.method ?? "GET").toUpperCase();
    if (method !== "GET" && method !== "HEAD" && !headers.has("origin")) {
      headers.set("origin", this.base);
    }
    const res = await fetch(`${this.base}${pathname}`, { ...init, headers, redirect: "manual" });
    const setCookie = res.headers.getSetCookie();
    for (const line of setCookie) {
      const pair = line.split(";")[0] ?? "";
      const at = pair.indexOf("=");
      if (at <= 0) continue;
      const name = pair.slice(0, at).trim();
      if (/max-age=0|expires=thu, 01 jan 1970/i.test(line)) this.jar.delete(name);
      else this.jar.set(name, pair.slice(at + 1).trim());
    }
    return res;
  }

  json(pathname: string, body: unknown, method = "POST"): Promise<Response> {
    return this.fetch(pathname, {
      method,
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify(body),
    });
  }
}

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  what?: string;
  /** Describes the last state seen, for the time-out message. */
  describe?: () => string;
}

export async function waitFor<T>(
  probe: () => Promise<T | undefined>,
  {
    timeoutMs = 60_000,
    intervalMs = 200,
    what = "condition",
    describe = () => "",
  }: WaitOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} ${describe()}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
