import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { listDocuments } from "#tenants/knowledge-base.ts";
import type { TenantId } from "#tenants/id.ts";
import pino from "pino";
import { hashEmbedding, startFakeLlm, type FakeLlm } from "../../../tests/support/fake-llm.ts";
import { parseConfig } from "../config.server.ts";
import { countAdmins, getTenant } from "../control-db.server.ts";
import { silentLogger } from "../logger.server.ts";
import { demoDocumentFiles } from "../tenancy/demo.server.ts";
import { closeRuntime, createRuntime } from "./build.server.ts";
import type { Runtime } from "./runtime.server.ts";

let llm: FakeLlm;
let dir: string;
let root: string;
let runtime: Runtime | undefined;

beforeAll(async () => {
  llm = await startFakeLlm();
});
afterAll(async () => {
  await llm.close();
});
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-runtime-"));
  root = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-demo-"));
  fs.writeFileSync(path.join(root, "README.md"), "# Demo\n\nDeploy on Fly with LiteFS.\n");
  fs.mkdirSync(path.join(root, "docs/decisions"), { recursive: true });
  fs.writeFileSync(path.join(root, "docs/decisions/001-x.md"), "# One\n\nA decision.\n");
  fs.writeFileSync(path.join(root, "docs/notes.txt"), "not markdown");
});
afterEach(async () => {
  if (runtime) await closeRuntime(runtime);
  runtime = undefined;
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(root, { recursive: true, force: true });
});

const config = (extra: Record<string, string> = {}) =>
  parseConfig({
    DATA_DIR: dir,
    EMBEDDINGS_BASE_URL: `${llm.url}/v1`,
    EMBEDDINGS_MODEL: "fake-embed",
    INGEST_POLL_MS: "50",
    ...extra,
  });

async function waitUntilReady(rt: Runtime) {
  for (let i = 0; i < 200 && !rt.ready; i++) await new Promise((r) => setTimeout(r, 50));
  expect(rt.ready).toBe(true);
}

describe("runtime", () => {
  it("lists the demo documents: README and markdown under docs/", () => {
    expect(demoDocumentFiles(root)).toEqual([
      "README.md",
      path.join("docs", "decisions", "001-x.md"),
    ]);
  });

  it("boots the demo tenant once and re-queues only changed files", async () => {
    runtime = await createRuntime({
      config: config(),
      logger: silentLogger,
      runQueue: true,
      bootstrap: true,
      demoRoot: root,
    });
    expect(runtime.embedder.model).toBe("openai:fake-embed");
    await waitUntilReady(runtime);
    const demo = "trial" as TenantId;
    expect(getTenant(runtime.control, demo)?.name).toBe("BiTB demo");
    expect(listDocuments(runtime.tenants.get(demo))).toHaveLength(2);
    expect(countAdmins(runtime.control)).toBe(0);
    await closeRuntime(runtime);

    fs.appendFileSync(path.join(root, "README.md"), "\nBackups go to S3.\n");
    runtime = await createRuntime({
      config: config(),
      logger: silentLogger,
      runQueue: true,
      bootstrap: true,
      demoRoot: root,
    });
    await waitUntilReady(runtime);
    const docs = listDocuments(runtime.tenants.get(demo));
    expect(docs).toHaveLength(2);
    const jobs = runtime.tenants
      .get(demo)
      .prepare("SELECT count(*) AS n FROM ingest_jobs")
      .get() as { n: number };
    expect(jobs.n).toBe(3);
  });

  it("becomes ready when the demo load fails, with the failure in its start-up state", async () => {
    // Every vector but the dimension probe's has the wrong length: each demo document fails.
    llm.setBehaviour({ embed: (text) => (text === "dimension probe" ? [1, 2, 3] : [1, 2]) });
    try {
      const logged: string[] = [];
      const logger = pino({ level: "error" }, { write: (line: string) => logged.push(line) });
      runtime = await createRuntime({
        config: config({ INGEST_MAX_ATTEMPTS: "1" }),
        logger,
        runQueue: true,
        bootstrap: true,
        demoRoot: root,
      });
      expect(runtime.startup.demo?.state).toBe("loading");
      await waitUntilReady(runtime);
      expect(runtime.startup.demo).toMatchObject({ state: "failed", queued: 2, failed: 2 });
      expect(runtime.startup.demo?.error).toMatch(/dimensions/);
      expect(logged.join("\n")).toMatch(/demo tenant failed to load/);
    } finally {
      llm.setBehaviour({ embed: (text) => hashEmbedding(text) });
    }
  });

  it("is ready at once without the demo tenant", async () => {
    runtime = await createRuntime({
      config: config({ DEMO_TENANT: "false" }),
      logger: silentLogger,
      bootstrap: true,
    });
    expect(runtime.ready).toBe(true);
    expect(getTenant(runtime.control, "trial")).toBeUndefined();
  });

  it("on a LiteFS replica, writes nothing at start: no demo tenant, setup token, queue or backups", async () => {
    fs.writeFileSync(path.join(dir, ".primary"), "primary-machine\n");
    runtime = await createRuntime({
      config: config({
        BACKUP_DIR: path.join(dir, "backups"),
        LITEFS: "true",
        PRIMARY_URL: "http://{primary}:3000",
      }),
      logger: silentLogger,
      runQueue: true,
      bootstrap: true,
      demoRoot: root,
    });
    expect(runtime.ready).toBe(true);
    expect(getTenant(runtime.control, "trial")).toBeUndefined();
    expect(runtime.control.prepare("SELECT count(*) AS n FROM setup_tokens").get()).toEqual({
      n: 0,
    });
    expect(runtime.backups).toBeUndefined();
    expect(runtime.crawler.isStarted).toBe(false);
    expect(runtime.replication.role.isPrimary()).toBe(false);
    expect(runtime.replication.outbox).toBeDefined();
  });

  it("takes up the primary's duties when LiteFS promotes it, and drops them when demoted", async () => {
    fs.writeFileSync(path.join(dir, ".primary"), "primary-machine\n");
    runtime = await createRuntime({
      config: config({
        BACKUP_DIR: path.join(dir, "backups"),
        DEMO_TENANT: "false",
        LITEFS: "true",
        PRIMARY_URL: "http://{primary}:3000",
        OUTBOX_FLUSH_MS: "50",
      }),
      logger: silentLogger,
      runQueue: true,
      bootstrap: true,
    });
    expect(runtime.backups).toBeUndefined();
    fs.rmSync(path.join(dir, ".primary"));
    await vi.waitFor(() => expect(runtime?.backups).toBeDefined(), { timeout: 5000 });
    expect(runtime.replication.role.isPrimary()).toBe(true);
    // Website crawls and their re-crawl schedule run on the primary only (decision 029).
    expect(runtime.crawler.isStarted).toBe(true);
    fs.writeFileSync(path.join(dir, ".primary"), "another-machine\n");
    await vi.waitFor(() => expect(runtime?.backups).toBeUndefined(), { timeout: 5000 });
    expect(runtime.crawler.isStarted).toBe(false);
  });

  it("schedules backups on the primary when BACKUP_DIR is set", async () => {
    runtime = await createRuntime({
      config: config({ BACKUP_DIR: path.join(dir, "backups"), DEMO_TENANT: "false" }),
      logger: silentLogger,
      bootstrap: true,
    });
    expect(runtime.backups).toBeDefined();
    expect(runtime.config.backupDir).toBe(path.join(dir, "backups"));
  });
});
