// A second server started on a port that is already taken exits at once with a message naming
// the address, before it touches its data folder: no control database, no ingestion queue,
// no demo tenant.
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, startServer, tempDataDir, type TestServer } from "../support/server.ts";

const root = path.resolve(import.meta.dirname, "../..");
let first: TestServer;

beforeAll(async () => {
  first = await startServer({ port: await freePort() });
});
afterAll(async () => {
  await first?.stop();
});

function runServer(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["server.js"], {
      cwd: root,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        NODE_ENV: "production",
        ALLOWED_HOSTS: "127.0.0.1",
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const kill = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.once("exit", (code) => {
      clearTimeout(kill);
      resolve({ code, output });
    });
  });
}

describe("a port that is taken", () => {
  it("makes a second server exit non-zero before it starts anything", async () => {
    const dataDir = tempDataDir();
    const { code, output } = await runServer({
      HOST: "127.0.0.1",
      PORT: String(first.port),
      DATA_DIR: dataDir,
      DEMO_TENANT: "true",
      INGEST_POLL_MS: "100",
    });
    expect(code).toBe(1);
    expect(output).toContain(`cannot listen on 127.0.0.1:${first.port}`);
    expect(output).toContain("EADDRINUSE");
    // Nothing was opened, queued or seeded: the data folder is as it was given, empty.
    expect(fs.readdirSync(dataDir)).toEqual([]);
    expect(output).not.toMatch(/runtime created|demo tenant|ingest/i);

    // The first server is untouched and still answers.
    const res = await fetch(`${first.url}/healthz`);
    expect(res.status).toBe(200);
  });

  it("also when the metrics port is taken", async () => {
    const dataDir = tempDataDir();
    const { code, output } = await runServer({
      HOST: "127.0.0.1",
      PORT: String(await freePort()),
      METRICS_HOST: "127.0.0.1",
      METRICS_PORT: String(first.port),
      DATA_DIR: dataDir,
      DEMO_TENANT: "true",
    });
    expect(code).toBe(1);
    expect(output).toContain(`cannot listen on 127.0.0.1:${first.port} for metrics`);
    expect(fs.readdirSync(dataDir)).toEqual([]);
  });
});
