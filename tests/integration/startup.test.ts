// Start-up: a bad configuration stops the server with a message naming the variable; the
// demo tenant is loaded and answers from this project's README.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startServer, tempDataDir, waitFor, type TestServer } from "../support/server.ts";
import { visitorSession } from "../support/keys.ts";
import { startFakeLlm, type FakeLlm } from "../support/fake-llm.ts";

const root = path.resolve(import.meta.dirname, "../..");
let server: TestServer | undefined;
let llm: FakeLlm | undefined;
afterAll(async () => {
  await server?.stop();
  await llm?.close();
});

describe("start-up", () => {
  it("refuses a bad configuration and names the variable", () => {
    const result = spawnSync(process.execPath, ["server.js"], {
      cwd: root,
      env: { PATH: process.env.PATH, DATA_DIR: tempDataDir(), PORT: "not-a-port", ENV_FILE: "" },
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/PORT/);
  });

  it("is alive at once, ready when the demo load is over even when it failed, and says why not before", async () => {
    // Slow embeddings of the wrong size (all but the dimension probe's): every demo document
    // fails after a while.
    llm = await startFakeLlm();
    llm.setBehaviour({
      embedDelayMs: 300,
      embed: (text) => (text === "dimension probe" ? [1, 2, 3] : [1, 2]),
    });
    const failing = await startServer({
      waitForReady: false,
      env: {
        DEMO_TENANT: "true",
        EMBEDDINGS_BASE_URL: `${llm.url}/v1`,
        EMBEDDINGS_MODEL: "fake-embed",
        INGEST_MAX_ATTEMPTS: "1",
      },
    });
    try {
      expect((await fetch(`${failing.url}/healthz`)).status).toBe(200);
      const starting = await fetch(`${failing.url}/readyz`);
      expect(starting.status).toBe(503);
      expect(await starting.json()).toMatchObject({
        status: "not_ready",
        reason: expect.stringMatching(/^loading the demo tenant/),
      });
      const ready = await waitFor(
        async () => {
          const res = await fetch(`${failing.url}/readyz`);
          return res.status === 200 ? ((await res.json()) as Record<string, unknown>) : undefined;
        },
        { timeoutMs: 90_000, what: "/readyz to answer 200" },
      );
      expect(ready).toMatchObject({
        status: "ready",
        demo: { state: "failed", error: expect.stringMatching(/dimensions/) },
      });
      expect(failing.logs()).toMatch(/demo tenant failed to load/);
      expect((await fetch(`${failing.url}/healthz`)).status).toBe(200);
    } finally {
      await failing.stop();
    }
  });

  it("reads its settings from an env file under the environment's own", async () => {
    const dir = tempDataDir();
    const file = path.join(dir, "bitb.env");
    fs.writeFileSync(file, `METRICS_TOKEN=${"t".repeat(24)}\nLOG_LEVEL=silent\n`);
    const withFile = await startServer({ env: { ENV_FILE: file, LOG_LEVEL: "info" } });
    try {
      const metrics = await fetch(`${withFile.url}/metrics`, {
        headers: { authorization: `Bearer ${"t".repeat(24)}` },
      });
      expect(metrics.status).toBe(200);
      // LOG_LEVEL=info from the environment won over the file's silent.
      expect(withFile.logs()).toContain(`settings read from the environment and an env file`);
    } finally {
      await withFile.stop();
    }
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
