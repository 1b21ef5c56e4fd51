// A tenant moves between servers and is erased, through the real HTTP API and the CLI:
// download its export as a platform admin, import it into another data folder, ask there and
// get the same cited answer; erase it and find nothing left. Plus a scheduled backup.
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { createTenant, signIn, uploadFixtures, waitForJobs } from "../support/admin.ts";
import { cli, createAdmin } from "../support/cli.ts";
import { widgetKeyOf } from "../support/keys.ts";
import { startServer, tempDataDir, type TestServer } from "../support/server.ts";

const servers: TestServer[] = [];
afterAll(async () => {
  for (const server of servers) await server.stop();
});

const question = "How often must the Lumen X2 espresso machine be descaled?";

/** Asks as a widget visitor: a session from the tenant's widget key, then the question. */
async function ask(url: string, tenantId: string, key: string) {
  const session = await fetch(`${url}/api/widget/${tenantId}/session`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ key }),
  });
  if (session.status !== 201) return { status: session.status, body: {} };
  const { token } = (await session.json()) as { token: string };
  const res = await fetch(`${url}/api/ask`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify({ tenant_id: tenantId, query: question, key, session_token: token }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe("tenant export, import and erasure", () => {
  it("moves a tenant to another server with the same cited answer, then erases it", async () => {
    const dataDir = tempDataDir();
    const backupDir = path.join(tempDataDir(), "backups");
    await createAdmin(dataDir);
    const a = await startServer({
      dataDir,
      env: { BACKUP_DIR: backupDir, BACKUP_INTERVAL_MS: "60000", BACKUP_KEEP: "2" },
    });
    servers.push(a);
    const admin = await signIn(a.url);
    const tenantId = await createTenant(admin, "Movers");
    await waitForJobs(admin, tenantId, await uploadFixtures(admin, tenantId, ["sample.md"]));
    const key = await widgetKeyOf(admin, tenantId);
    const original = await ask(a.url, tenantId, key);
    expect(original.status).toBe(200);
    expect(original.body.answer).toMatch(/3 weeks/);

    // Only a signed-in platform admin downloads an export.
    expect((await fetch(`${a.url}/api/tenants/${tenantId}/export`)).status).toBe(401);
    const download = await admin.fetch(`/api/tenants/${tenantId}/export`);
    expect(download.status).toBe(200);
    expect(download.headers.get("content-type")).toBe("application/vnd.sqlite3");
    expect(download.headers.get("content-disposition")).toContain(`${tenantId}-`);
    const bytes = Buffer.from(await download.arrayBuffer());
    expect(bytes.subarray(0, 15).toString()).toBe("SQLite format 3");
    const exportFile = path.join(tempDataDir(), "movers.db");
    fs.writeFileSync(exportFile, bytes);

    // Import on a second data folder with the CLI, serve it, ask the same question.
    const otherDir = tempDataDir();
    const imported = await cli(otherDir, ["tenant:import", exportFile]);
    expect(imported.stdout.trim()).toBe(tenantId);
    const b = await startServer({ dataDir: otherDir });
    servers.push(b);
    // The widget key moved with the tenant: its sites' snippets keep working.
    const moved = await ask(b.url, tenantId, key);
    expect(moved.status).toBe(200);
    expect(moved.body.answer).toBe(original.body.answer);
    expect(moved.body.citations).toEqual(original.body.citations);

    // A CLI export of the moved tenant (and a migrate run) works on the running server's data.
    const cliExport = path.join(tempDataDir(), "again.db");
    expect((await cli(otherDir, ["tenant:export", tenantId, cliExport])).stdout).toContain(
      "exported",
    );
    expect((await cli(otherDir, ["migrate"])).stdout).toContain("1 tenant(s)");

    // Erasure: same-origin and platform admin only, then nothing is left.
    const crossSite = await admin.fetch(`/api/tenants/${tenantId}`, {
      method: "DELETE",
      headers: { origin: "https://evil.example" },
    });
    expect(crossSite.status).toBe(403);
    const erased = await admin.fetch(`/api/tenants/${tenantId}`, { method: "DELETE" });
    expect(erased.status).toBe(200);
    expect(
      ((await erased.json()) as { erased: { filesRemoved: string[] } }).erased.filesRemoved,
    ).toContain(`${tenantId}.db`);
    expect(fs.readdirSync(dataDir).filter((f) => f.includes(tenantId))).toEqual([]);
    expect((await ask(a.url, tenantId, key)).status).toBe(404);
    expect((await admin.fetch(`/api/tenants/${tenantId}`)).status).toBe(404);
    expect((await admin.fetch(`/api/tenants/${tenantId}`, { method: "DELETE" })).status).toBe(404);
    // The CLI erases on the other server too (it insists on --yes).
    await expect(cli(otherDir, ["tenant:erase", tenantId])).rejects.toThrow(/--yes/);
    expect((await cli(otherDir, ["tenant:erase", tenantId, "--yes"])).stdout).toContain(
      `erased ${tenantId}`,
    );
    expect(fs.readdirSync(otherDir).filter((f) => f.includes(tenantId))).toEqual([]);
  });

  it("writes backups on demand and rotates them", async () => {
    const dataDir = tempDataDir();
    const backupDir = path.join(tempDataDir(), "backups");
    await cli(dataDir, ["tenant:create", "--name", "Backed up"]);
    for (let run = 0; run < 3; run++) {
      const { stdout } = await cli(dataDir, ["backup", "--dir", backupDir, "--keep", "2"]);
      expect(stdout).toContain("control + 1 tenant(s)");
    }
    const runs = fs.readdirSync(backupDir).sort();
    expect(runs).toHaveLength(2);
    const last = path.join(backupDir, runs[1] as string);
    expect(fs.readdirSync(last).sort()).toEqual(
      expect.arrayContaining(["control.db", "manifest.json"]),
    );
    // A backup run restores by copying it into an empty data folder.
    const restored = tempDataDir();
    for (const file of fs.readdirSync(last))
      fs.copyFileSync(path.join(last, file), path.join(restored, file));
    const { stdout } = await cli(restored, ["tenant:list"]);
    expect(stdout).toContain("Backed up");
  });

  it("stops on SIGTERM with every database closed", async () => {
    const dataDir = tempDataDir();
    await cli(dataDir, ["tenant:create", "--name", "Closed cleanly"]);
    const server = await startServer({ dataDir });
    servers.push(server);
    await server.stop("SIGTERM");
    expect(server.logs()).toContain("every database closed");
    // SQLite removes a database's -wal file when its last connection closes.
    expect(fs.readdirSync(dataDir).filter((f) => f.endsWith("-wal"))).toEqual([]);
  });

  it("the bundled CLI of the image migrates, and leaves that to the primary under LiteFS", async () => {
    const dataDir = tempDataDir();
    const root = path.resolve(import.meta.dirname, "../..");
    const bundled = (args: string[]) =>
      promisify(execFile)(process.execPath, ["build/cli.js", ...args], {
        cwd: root,
        env: { PATH: process.env.PATH, DATA_DIR: dataDir, LITEFS: "true", FLY_APP_NAME: "bitb" },
      });
    await bundled(["tenant:create", "--name", "Bundled"]);
    expect((await bundled(["migrate"])).stdout).toContain("1 tenant(s)");
    fs.writeFileSync(path.join(dataDir, ".primary"), "machine-in-ams\n");
    expect((await bundled(["migrate"])).stdout).toContain("LiteFS replica");
  });
});
