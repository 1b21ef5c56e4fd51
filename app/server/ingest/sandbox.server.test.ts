// The parsing sandbox runs the TypeScript worker through tsx here; the server and the CLI
// run build/parse-worker.js (tests/integration/hostile-files.test.ts drives those).
import { afterAll, describe, expect, it } from "vitest";
import { deepHtml, hugeHtml } from "../../../tests/support/hostile-files.ts";
import { UNLIMITED } from "./document-limits.server.ts";
import { createParseSandbox } from "./sandbox.server.ts";

const chunking = { maxTokens: 220, overlapTokens: 30 };
const sandboxes: Array<{ close(): Promise<void> }> = [];
afterAll(() => Promise.all(sandboxes.map((sandbox) => sandbox.close())));

const page = (html: string) => ({
  bytes: new TextEncoder().encode(html),
  kind: "file" as const,
  fileName: "page.html",
});

describe("the parsing sandbox", () => {
  it("parses and chunks in a worker, and fails a document over a limit by its setting", async () => {
    const sandbox = createParseSandbox({
      workers: 1,
      timeoutMs: 20_000,
      memoryMb: 128,
      chunking,
      limits: { ...UNLIMITED, maxHtmlDepth: 500, maxChunks: 1 },
    });
    sandboxes.push(sandbox);
    const done = await sandbox.prepare(page("<h1>Ferries</h1><p>Every 40 minutes.</p>"), "Mine");
    expect(done).toMatchObject({ title: "Mine", chunks: [{ text: "Every 40 minutes." }] });
    await expect(
      sandbox.prepare(page(new TextDecoder().decode(deepHtml().bytes)), undefined),
    ).rejects.toThrow("The page nests elements more than 500 deep (INGEST_MAX_HTML_DEPTH).");
    const long = `${"<h2>Part</h2><p>Some words in a paragraph.</p>".repeat(50)}`;
    await expect(sandbox.prepare(page(long), undefined)).rejects.toThrow(
      "The document makes more than 1 chunks (INGEST_MAX_CHUNKS).",
    );
  });

  it("terminates a worker over its time or memory limit and parses the next document in a new one", async () => {
    const workerErrors: unknown[] = [];
    const sandbox = createParseSandbox({
      onWorkerError: (error) => workerErrors.push(error),
      workers: 1,
      timeoutMs: 8000,
      memoryMb: 48,
      chunking,
      limits: UNLIMITED,
    });
    sandboxes.push(sandbox);
    // With no size limits, 30 MB of paragraphs makes a tree larger than the worker's heap
    // (or takes longer than its time): either way the document fails by that setting.
    await expect(
      sandbox.prepare({ ...page(""), bytes: hugeHtml(30 * 1024 * 1024).bytes }, undefined),
    ).rejects.toThrow(/\((INGEST_PARSE_MEMORY_MB|INGEST_PARSE_TIMEOUT_MS)\)/);
    const next = await sandbox.prepare(page("<p>Still here.</p>"), undefined);
    expect(next.chunks[0]?.text).toBe("Still here.");
  }, 30_000);
});
