// The README's shell examples run as written: the fenced `sh`/`bash` blocks under the
// headings of POST /api/ask, batch questions, MCP and the OpenAI-compatible API are taken
// from README.md, run with bash and curl against the built server (with the demo tenant
// `trial` the examples name), and what they print is checked. The test fills in only the
// placeholders: the server's address for http://localhost:3000 and a secret key of `trial`
// as $BITB_KEY.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listJobs, signIn } from "../support/admin.ts";
import { createAdmin } from "../support/cli.ts";
import { makeSecretKey } from "../support/keys.ts";
import { startServer, tempDataDir, type TestServer, waitFor } from "../support/server.ts";

const readme = fs.readFileSync(path.resolve(import.meta.dirname, "../../README.md"), "utf8");

/** The shell blocks of the section whose heading starts with `heading` (to the next heading). */
function shellBlocks(markdown: string, heading: string): string[] {
  const lines = markdown.split("\n");
  const start = lines.findIndex((line) => /^#{2,4} /.test(line) && line.startsWith(heading));
  if (start < 0) throw new Error(`no heading "${heading}" in the README`);
  const blocks: string[] = [];
  let fence: string[] | null = null;
  let shell = false;
  for (const line of lines.slice(start + 1)) {
    if (fence === null && /^#{1,6} /.test(line)) break;
    if (line.startsWith("```")) {
      if (fence === null) {
        fence = [];
        shell = /^```(sh|bash|shell)\s*$/.test(line);
      } else {
        if (shell) blocks.push(fence.join("\n"));
        fence = null;
      }
    } else if (fence !== null) fence.push(line);
  }
  return blocks;
}

let server: TestServer;
let key: string;

beforeAll(async () => {
  const dataDir = tempDataDir();
  await createAdmin(dataDir);
  server = await startServer({ dataDir, env: { DEMO_TENANT: "true" } });
  const admin = await signIn(server.url);
  await waitFor(
    async () => {
      const jobs = await listJobs(admin, "trial");
      return jobs.every((job) => job.state === "done" || job.state === "failed") ? true : undefined;
    },
    { what: "the demo tenant's ingestion", timeoutMs: 120_000 },
  );
  key = await makeSecretKey(admin, "trial", "readme");
});
afterAll(async () => {
  await server?.stop();
});

function run(block: string): string {
  const script = block.replaceAll("http://localhost:3000", server.url);
  const result = spawnSync("bash", ["-eo", "pipefail", "-c", script], {
    encoding: "utf8",
    timeout: 60_000,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, BITB_KEY: key },
  });
  expect(result.status, `${block}\n${result.stderr}`).toBe(0);
  return result.stdout;
}

describe("the README's shell examples", () => {
  it("POST /api/ask streams an answer from the demo tenant", () => {
    const blocks = shellBlocks(readme, "### `POST /api/ask`");
    expect(blocks).toHaveLength(1);
    const out = run(blocks[0]!);
    expect(out).toMatch(/^event: sources$/m);
    expect(out).toMatch(/^event: done$/m);
    expect(out).not.toMatch(/^event: error$/m);
    expect(out).toMatch(/fly|litefs/i);
  });

  it("a batch answers every question", () => {
    const blocks = shellBlocks(readme, "#### Batch questions");
    expect(blocks).toHaveLength(1);
    const done = JSON.parse(run(blocks[0]!)) as {
      results: Array<{ answer: string; error: unknown }>;
    };
    expect(done.results).toHaveLength(2);
    expect(done.results.every((r) => r.error === null && r.answer.length > 0)).toBe(true);
  });

  it("MCP searches the knowledge base by hand", () => {
    const blocks = shellBlocks(readme, "### MCP: `POST /api/mcp`");
    expect(blocks).toHaveLength(1);
    const reply = JSON.parse(run(blocks[0]!)) as {
      result?: { isError?: boolean; structuredContent?: { results: unknown[] } };
      error?: unknown;
    };
    expect(reply.error).toBeUndefined();
    expect(reply.result?.isError).toBeFalsy();
    expect(reply.result?.structuredContent?.results.length).toBeGreaterThan(0);
  });

  it("the OpenAI-compatible API lists the tenant and streams a completion", () => {
    const blocks = shellBlocks(readme, "### OpenAI-compatible API: `/v1`");
    expect(blocks).toHaveLength(2);
    const models = JSON.parse(run(blocks[0]!)) as { data: Array<{ id: string }> };
    expect(models.data.map((model) => model.id)).toEqual(["trial"]);
    const lines = run(blocks[1]!).split("\n").filter(Boolean);
    expect(lines.at(-1)).toBe("data: [DONE]");
    const text = lines
      .slice(0, -1)
      .map(
        (line) =>
          JSON.parse(line.slice("data: ".length)) as {
            choices: Array<{ delta: { content?: string } }>;
          },
      )
      .map((chunk) => chunk.choices[0]?.delta.content ?? "")
      .join("");
    expect(text).toMatch(/fly|litefs/i);
  });
});
