// Hostile documents cannot hurt other tenants (issue 22 items 1–2, decision 043): a DOCX and a
// PDF that inflate to hundreds of MB, a 50 MB page, a page nested 100,000 deep and a PDF of
// 10,000 empty pages each fail their job with the limit they broke, named with its value,
// while another tenant's asks and /healthz keep answering, and the server's memory comes
// back. And a tenant with 20,000 chunks queued does not keep another's one page waiting.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listJobs } from "../support/admin.ts";
import { createAdmin } from "../support/cli.ts";
import { type FakeLlm, startFakeLlm } from "../support/fake-llm.ts";
import { hostileFiles } from "../support/hostile-files.ts";
import {
  ingestWhileProbing,
  percentile,
  rssBytes,
  settledJob,
  setUpTenants,
  type Tenants,
  upload,
} from "../support/hostile-load.ts";
import { createTenant } from "../support/admin.ts";
import { startServer, tempDataDir, type TestServer, waitFor } from "../support/server.ts";

const MB = 1024 * 1024;
let llm: FakeLlm;
let server: TestServer;
let tenants: Tenants;

beforeAll(async () => {
  llm = await startFakeLlm();
  const dataDir = tempDataDir();
  await createAdmin(dataDir);
  server = await startServer({
    dataDir,
    env: {
      // The fake server's instant embeddings, so the fairness test measures scheduling.
      EMBEDDINGS_BASE_URL: `${llm.url}/v1`,
      EMBEDDINGS_MODEL: "instant",
      // Big enough to let the 50 MB page reach the parser.
      MAX_UPLOAD_BYTES: String(64 * MB),
      CHUNK_MAX_TOKENS: "32",
      CHUNK_OVERLAP_TOKENS: "0",
      RATE_LIMIT_TENANT_PER_MINUTE: "0",
      RATE_LIMIT_IP_PER_MINUTE: "0",
      RATE_LIMIT_SESSION_PER_MINUTE: "0",
      LOG_LEVEL: "warn",
    },
  });
  tenants = await setUpTenants(server);
}, 120_000);
afterAll(async () => {
  await server?.stop();
  await llm?.close();
});

describe("hostile documents", () => {
  it("each fails with its limit's message while another tenant asks and /healthz answers", async () => {
    const before = rssBytes(server.pid);
    for (const file of hostileFiles()) {
      const { job, figures } = await ingestWhileProbing(server, tenants, file);
      console.log(
        `${file.name} (${Math.round(file.bytes.length / 1024)} KB): ${job.error}; ` +
          `ask p95 ${percentile(figures.ask, 95).toFixed(0)} ms, /healthz p95 ` +
          `${percentile(figures.healthz, 95).toFixed(0)} ms over ${figures.ask.length} rounds, ` +
          `RSS peak ${Math.round(figures.rssPeak / MB)} MB`,
      );
      expect(job.state).toBe("failed");
      expect(job.error).toMatch(file.limit);
      // Permanent: not retried, and nothing of it indexed.
      expect(job.attempts).toBe(1);
      expect(job.documentId).toBeNull();
      expect(figures.errors).toBe(0);
      expect(Math.max(...figures.healthz)).toBeLessThan(2000);
    }
    const docs = await tenants.admin.fetch(`/api/tenants/${tenants.hostile}/documents`);
    expect(((await docs.json()) as { documents: unknown[] }).documents).toHaveLength(0);
    // The workers that held the documents are gone (terminated, or idle for 5 s).
    const settled = await waitFor(
      async () => {
        const now = rssBytes(server.pid);
        return now <= before + 100 * MB ? now : undefined;
      },
      { what: "RSS back within 100 MB", timeoutMs: 30_000, intervalMs: 500 },
    );
    console.log(`RSS ${Math.round(before / MB)} MB before, ${Math.round(settled / MB)} MB after`);
  }, 600_000);
});

describe("fair ingestion", () => {
  it("indexes another tenant's one page within 10 s while a tenant has 20,000 chunks queued", async () => {
    const busy = await createTenant(tenants.admin, "Busy");
    // 4 documents × 5,000 chunks of one short paragraph each (CHUNK_MAX_TOKENS=32).
    const paragraphs = Array.from(
      { length: 5000 },
      (_, i) => `## Section ${i}\n\nParagraph ${i} says the tide turns at ${i % 24} o'clock.`,
    ).join("\n\n");
    const big: number[] = [];
    for (let n = 0; n < 4; n++) {
      big.push(
        await upload(tenants.admin, busy, {
          name: `big-${n}.md`,
          mimeType: "text/markdown",
          bytes: new TextEncoder().encode(paragraphs),
        }),
      );
    }
    await waitFor(
      async () =>
        (await listJobs(tenants.admin, busy)).some((j) => j.stage === "embed") || undefined,
      { what: "the busy tenant embedding" },
    );
    const started = Date.now();
    const small = await upload(tenants.admin, tenants.quiet.id, {
      name: "one-page.md",
      mimeType: "text/markdown",
      bytes: new TextEncoder().encode("# Opening hours\n\nThe kiosk opens at seven."),
    });
    const job = await settledJob(tenants.admin, tenants.quiet.id, small, 30_000);
    const seconds = (Date.now() - started) / 1000;
    const busyJobs = await listJobs(tenants.admin, busy);
    const waiting = busyJobs.filter((j) => big.includes(j.id) && j.state !== "done").length;
    console.log(
      `one page indexed in ${seconds.toFixed(1)} s with ${waiting} of the busy tenant's 4 documents unfinished`,
    );
    expect(job.state).toBe("done");
    expect(seconds).toBeLessThan(10);
    expect(waiting).toBeGreaterThan(0);
    const total = busyJobs
      .filter((j) => big.includes(j.id))
      .reduce((sum, j) => sum + (j.progressTotal || 0), 0);
    expect(total === 0 || total >= 5000).toBe(true);
  }, 300_000);
});

describe("storage quotas per plan", () => {
  it("refuses uploads, pasted text, URLs and crawls past a quota with 413 quota_exceeded, and shows usage against each", async () => {
    const { admin } = tenants;
    const id = await createTenant(admin, "Quota");
    const plan = async (patch?: Record<string, unknown>) => {
      const res = patch
        ? await admin.json(`/api/tenants/${id}/plan`, patch, "PATCH")
        : await admin.fetch(`/api/tenants/${id}/plan`);
      expect(res.status).toBe(200);
      return (await res.json()) as { storage: Record<string, number | null> };
    };
    // A new trial tenant starts with the configured quotas (TRIAL_MAX_*).
    expect((await plan()).storage).toMatchObject({
      maxDocuments: 200,
      maxChunks: 20_000,
      maxTextBytes: 20 * MB,
      documents: 0,
    });
    await plan({ max_documents: 1 });
    const first = await upload(admin, id, {
      name: "hours.md",
      mimeType: "text/markdown",
      bytes: new TextEncoder().encode("# Hours\n\nOpen from nine to five."),
    });
    expect((await settledJob(admin, id, first)).state).toBe("done");

    const form = new FormData();
    form.append("file", new Blob(["# More\n\nAnother page."]), "more.md");
    const refused = [
      await admin.fetch(`/api/tenants/${id}/documents`, { method: "POST", body: form }),
      await admin.json(`/api/tenants/${id}/documents`, {
        type: "text",
        title: "Pasted",
        text: "Pasted words.",
      }),
      await admin.json(`/api/tenants/${id}/documents`, {
        type: "url",
        url: "http://127.0.0.1:9/page.html",
      }),
      await admin.json(`/api/tenants/${id}/crawls`, { url: "http://127.0.0.1:9/" }),
    ];
    for (const res of refused) {
      expect(res.status).toBe(413);
      expect(await res.json()).toEqual({
        error: {
          code: "quota_exceeded",
          message: "This knowledge base is at its plan's quota of 1 documents.",
        },
      });
    }

    // A document that would pass the chunk quota fails its job with the quota's message.
    await plan({ max_documents: null, max_chunks: 3 });
    const sections = Array.from({ length: 10 }, (_, i) => `## Part ${i}\n\nWords of part ${i}.`);
    const big = await upload(admin, id, {
      name: "parts.md",
      mimeType: "text/markdown",
      bytes: new TextEncoder().encode(sections.join("\n\n")),
    });
    expect(await settledJob(admin, id, big)).toMatchObject({
      state: "failed",
      attempts: 1,
      error: "This knowledge base is at its plan's quota of 3 chunks.",
    });
    expect((await plan()).storage).toMatchObject({
      documents: 1,
      chunks: 1,
      maxDocuments: null,
      maxChunks: 3,
    });

    const page = await admin.fetch(`/admin/tenants/${id}/usage`);
    // React separates adjacent text with empty comments.
    const html = (await page.text()).replaceAll("<!-- -->", "");
    expect(html).toContain("Storage against the plan");
    expect(html).toMatch(/1 of 3 \(33%\)/);
    expect(html).toContain("(no quota)");
  }, 120_000);
});
