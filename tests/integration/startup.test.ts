// Start-up: a bad configuration stops the server with a message naming the variable; the
// demo tenant is loaded and answers from this project's README.
import { spawnSync } from "node:child_process";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startServer, tempDataDir, type TestServer } from "../support/server.ts";

const root = path.resolve(import.meta.dirname, "../..");
let server: TestServer | undefined;
afterAll(async () => {
  await server?.stop();
});

describe("start-up", () => {
  it("refuses a bad configuration and names the variable", () => {
    const result = spawnSync(process.execPath, ["server.js"], {
      cwd: root,
      env: { PATH: process.env.PATH, DATA_DIR: tempDataDir(), PORT: "not-a-port" },
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/PORT/);
  });

  it("serves the demo tenant, which answers from the README, and prints a setup link", async () => {
    server = await startServer({ env: { DEMO_TENANT: "true" } });
    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: "ok" });
    expect(server.logs()).toMatch(/setup\?token=/);

    const res = await fetch(`${server.url}/api/ask`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ tenant_id: "trial", query: "How do I deploy on Fly?" }),
    });
    expect(res.status).toBe(200);
    const done = (await res.json()) as {
      abstained: boolean;
      answer: string;
      citations: { title: string; fileName: string | null }[];
    };
    expect(done.abstained).toBe(false);
    expect(done.answer).toMatch(/fly|litefs/i);
    expect(done.citations.some((c) => c.fileName === "README.md")).toBe(true);
  });
});
