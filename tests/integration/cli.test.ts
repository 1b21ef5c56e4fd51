// The operator's command line against a real data folder: create a tenant, ingest a folder,
// list the jobs, ask a question that streams to the terminal.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { cli } from "../support/cli.ts";
import { tempDataDir } from "../support/server.ts";

const fixtures = path.resolve(import.meta.dirname, "../fixtures");
const root = path.resolve(import.meta.dirname, "../..");

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
    // Not a terminal: progress as plain lines on stderr, the last one a summary.
    expect(ingested.stderr).toMatch(/^progress: \d\/6 files/m);
    expect(ingested.stderr).toMatch(/^finished: 6\/6 files in \d/m);
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

  it("helps on stdout with exit 0: the commands, one command, the version", async () => {
    const dataDir = tempDataDir();
    const help = await cli(dataDir, ["--help"]);
    expect(help.stdout).toMatch(/^Usage: bitb <command>/);
    expect(help.stdout).toMatch(/^ {2}ingest <tenant> <file-or-folder>\.\.\. +queues/m);
    expect(help.stderr).toBe("");
    const one = await cli(dataDir, ["help", "tenant:erase"]);
    expect(one.stdout).toMatch(/^Usage: bitb tenant:erase <tenant> --yes\n/);
    expect((await cli(dataDir, ["backup", "--help"])).stdout).toMatch(/^Usage: bitb backup /);
    const { version } = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
    expect((await cli(dataDir, ["--version"])).stdout).toBe(`${version}\n`);
  });

  it("explains a mistake instead of failing with a stack trace", async () => {
    const dataDir = tempDataDir();
    const unknown = cli(dataDir, ["ask", `tn_${"0".repeat(32)}`, "hello?"]);
    await expect(unknown).rejects.toMatchObject({ stderr: "No such tenant.\n" });
    const usage = cli(dataDir, ["frobnicate"]);
    await expect(usage).rejects.toMatchObject({
      code: 2,
      stderr: "bitb: unknown command 'frobnicate' (see 'bitb --help')\n",
    });
    const option = cli(dataDir, ["ingest", "--recursive", "trial", "."]);
    await expect(option).rejects.toMatchObject({
      code: 2,
      stderr: "bitb ingest: unknown option '--recursive' (see 'bitb help ingest')\n",
    });
    const missing = cli(dataDir, ["tenant:create"]);
    await expect(missing).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/^bitb tenant:create: /),
    });
    const weak = cli(dataDir, ["admin:create", "--email", "a@b.example", "--password", "short"]);
    await expect(weak).rejects.toMatchObject({ stderr: expect.stringMatching(/password/i) });
  });
});
