// The operator's command line against a real data folder: create a tenant, ingest a folder,
// list the jobs, ask a question that streams to the terminal.
import path from "node:path";
import { describe, expect, it } from "vitest";
import { cli } from "../support/cli.ts";
import { tempDataDir } from "../support/server.ts";

const fixtures = path.resolve(import.meta.dirname, "../fixtures");

describe("the bitb command line", () => {
  it("creates a tenant, ingests a folder, lists jobs and answers with citations", async () => {
    const dataDir = tempDataDir();
    const created = await cli(dataDir, ["tenant:create", "--name", "Harbour Co"]);
    const tenantId = created.stdout.trim();
    expect(tenantId).toMatch(/^tn_[0-9a-f]{32}$/);
    const key = await cli(dataDir, ["key:create", tenantId, "--name", "backend"]);
    expect(key.stdout.trim()).toMatch(/^bitb_sk_[A-Za-z0-9_-]{32}$/);

    const listed = await cli(dataDir, ["tenant:list"]);
    expect(listed.stdout).toContain(`${tenantId}\ttrial\tactive\tHarbour Co`);

    const ingested = await cli(dataDir, ["ingest", tenantId, fixtures]);
    expect(ingested.stdout).toContain("queued 6 job(s)");
    // The five samples and the folder's README.
    expect(ingested.stdout.match(/^done /gm)).toHaveLength(6);

    const jobs = await cli(dataDir, ["jobs", tenantId]);
    expect(jobs.stdout.trim().split("\n")).toHaveLength(6);
    expect(jobs.stdout).toMatch(/\tdone\t/);

    const asked = await cli(dataDir, [
      "ask",
      tenantId,
      "How often does the harbour ferry to Kestrel Island leave?",
    ]);
    expect(asked.stdout).toMatch(/40 minutes \[1\]/);
    expect(asked.stdout).toMatch(/^\[1\] /m);
    expect(asked.stdout).toMatch(/extractive:extractive-v1 · \d+ ms/);
  });

  it("explains a mistake instead of failing with a stack trace", async () => {
    const dataDir = tempDataDir();
    const unknown = cli(dataDir, ["ask", `tn_${"0".repeat(32)}`, "hello?"]);
    await expect(unknown).rejects.toMatchObject({ stderr: "No such tenant.\n" });
    const usage = cli(dataDir, ["frobnicate"]);
    await expect(usage).rejects.toMatchObject({ stderr: expect.stringMatching(/^Usage:/) });
    const weak = cli(dataDir, ["admin:create", "--email", "a@b.example", "--password", "short"]);
    await expect(weak).rejects.toMatchObject({ stderr: expect.stringMatching(/password/i) });
  });
});
