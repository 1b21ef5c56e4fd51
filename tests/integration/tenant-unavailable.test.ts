// One tenant's damaged database file takes down that tenant only: its visitors get 503
// tenant_unavailable, a metric and one log line record it, every other tenant keeps answering,
// and restoring the file brings it back without a restart. Damaged while open (overwritten
// under the server's handle) and while closed (truncated while the server was stopped).
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTenant, signIn } from "../support/admin.ts";
import { createAdmin } from "../support/cli.ts";
import { bearer, makeSecretKey } from "../support/keys.ts";
import { scrapeMetrics, sample } from "../support/metrics.ts";
import { startServer, tempDataDir, type TestServer } from "../support/server.ts";

const METRICS_TOKEN = "metrics-token-0123456789";
const env = { METRICS_TOKEN, RATE_LIMIT_KEY_PER_MINUTE: "0" };

let dataDir: string;
let server: TestServer;
const tenants: Array<{ id: string; key: string }> = [];

beforeAll(async () => {
  dataDir = tempDataDir();
  await createAdmin(dataDir);
  server = await startServer({ dataDir, env });
  const admin = await signIn(server.url);
  for (const name of ["Damaged", "Healthy"]) {
    const id = await createTenant(admin, name);
    tenants.push({ id, key: await makeSecretKey(admin, id) });
  }
});
afterAll(async () => {
  await server?.stop();
});

async function ask(tenant: { id: string; key: string }): Promise<Response> {
  return fetch(`${server.url}/api/ask`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json",
      ...bearer(tenant.key),
    },
    body: JSON.stringify({ tenant_id: tenant.id, query: "What are the opening hours?" }),
  });
}

async function expectAnswers(tenant: { id: string; key: string }) {
  const res = await ask(tenant);
  expect(res.status, tenant.id).toBe(200);
  await res.arrayBuffer();
}

async function expectUnavailable(tenant: { id: string; key: string }) {
  const res = await ask(tenant);
  expect(res.status).toBe(503);
  expect(await res.json()).toMatchObject({ error: { code: "tenant_unavailable" } });
}

const fileOf = (id: string) => path.join(dataDir, `${id}.db`);
const downLines = () =>
  server
    .logs()
    .split("\n")
    .filter((l) => l.includes("tenant database unavailable"));
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A consistent copy of a tenant's database, taken with SQLite's online backup. */
async function backupOf(id: string): Promise<Buffer> {
  const copy = path.join(dataDir, `backup-${id}.db`);
  const db = new Database(fileOf(id), { readonly: true, fileMustExist: true });
  try {
    await db.backup(copy);
  } finally {
    db.close();
  }
  return fs.readFileSync(copy);
}

function restore(id: string, bytes: Buffer) {
  for (const suffix of ["-wal", "-shm"]) fs.rmSync(fileOf(id) + suffix, { force: true });
  fs.writeFileSync(fileOf(id), bytes);
}

describe("a tenant whose database file is damaged", () => {
  it("while open: 503 for it alone, one log line, a metric, and back once restored", async () => {
    const [damaged, healthy] = tenants as [(typeof tenants)[0], (typeof tenants)[0]];
    await expectAnswers(damaged);
    await expectAnswers(healthy);
    const backup = await backupOf(damaged.id);

    // Overwritten under the server's open handle (its page cache still holds the pages).
    const size = fs.statSync(fileOf(damaged.id)).size;
    const fd = fs.openSync(fileOf(damaged.id), "r+");
    fs.writeSync(fd, Buffer.alloc(size, 0x5a), 0, size, 0);
    fs.closeSync(fd);
    await pause(1200);

    await expectUnavailable(damaged);
    await expectUnavailable(damaged);
    await expectAnswers(healthy);
    expect(downLines()).toHaveLength(1);
    expect(downLines()[0]).toContain(damaged.id);
    const metrics = await scrapeMetrics(server.url, METRICS_TOKEN);
    expect(sample(metrics, "bitb_tenants_unavailable")).toBe(1);
    expect(sample(metrics, "bitb_tenant_unavailable_total")).toBe(1);

    restore(damaged.id, backup);
    await pause(1200);
    await expectAnswers(damaged);
    expect(server.logs()).toContain("tenant database available again");
    const after = await scrapeMetrics(server.url, METRICS_TOKEN);
    expect(sample(after, "bitb_tenants_unavailable")).toBe(0);
  });

  it("while closed: truncated while the server was stopped, it is unavailable after start", async () => {
    const [damaged, healthy] = tenants as [(typeof tenants)[0], (typeof tenants)[0]];
    const backup = await backupOf(healthy.id);
    await server.stop();
    fs.truncateSync(fileOf(healthy.id), 0);
    for (const suffix of ["-wal", "-shm"]) fs.rmSync(fileOf(healthy.id) + suffix, { force: true });
    server = await startServer({ dataDir, env, port: server.port });

    // An emptied file is not taken for a new, empty tenant.
    await expectUnavailable(healthy);
    await expectAnswers(damaged);
    expect(fs.statSync(fileOf(healthy.id)).size).toBe(0);

    restore(healthy.id, backup);
    await pause(1200);
    await expectAnswers(healthy);
  });
});
