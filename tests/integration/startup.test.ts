// Start-up: a bad configuration stops the server with a message naming the variable; the
// demo tenant is loaded and answers from this project's README.
import { spawnSync } from "node:child_process";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startServer, tempDataDir, type TestServer } from "../support/server.ts";
import { visitorSession } from "../support/keys.ts";

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

    // As the /demo page's widget does: its key from the page, a visitor session, then ask.
    const demo = await (await fetch(`${server.url}/demo`)).text();
    const key = /data-key="(pk_[A-Za-z0-9_-]+)"/.exec(demo)?.[1] ?? "";
    const token = await visitorSession(server.url, "trial", key, server.url);
    const res = await fetch(`${server.url}/api/ask`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json",
        origin: server.url,
      },
      body: JSON.stringify({
        tenant_id: "trial",
        query: "How do I deploy on Fly?",
        key,
        session_token: token,
      }),
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
