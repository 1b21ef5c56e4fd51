// Ingestion throughput benchmark: a signed-in admin uploads --mb of Markdown through the HTTP
// API of the BUILT server (node server.js), whose queue parses, chunks and embeds it with the
// configured embedder (the embedded encoder by default: its document workers use every core
// but one, plus one worker kept for visitors' questions). Prints chunks/s and MB of text per
// minute, and the latency of asks to another tenant while the ingestion runs, against the
// same asks on the idle server (the ask path must stay responsive).
//
//   npm run build && npm run bench:ingest -- [--mb 1] [--corpus FILE.jsonl|DIR|FILE ...]
//     [--concurrency 2] [--doc-kb 48] [--ask-every 250]   (ms between a visitor's asks)
import path from "node:path";
import { parseArgs } from "node:util";
import { createAdmin } from "../../tests/support/cli.ts";
import { createTenant, listJobs, signIn, type Job } from "../../tests/support/admin.ts";
import { makeSecretKey } from "../../tests/support/keys.ts";
import { startServer, tempDataDir, type Client } from "../../tests/support/server.ts";
import {
  askOnce,
  BENCH_LIMITS,
  rememberSecretKey,
  machineLine,
  ms,
  percentile,
  questionsOf,
  readCorpus,
  type AskOutcome,
} from "./support.ts";

const root = path.resolve(import.meta.dirname, "../..");
const { values } = parseArgs({
  options: {
    mb: { type: "string", default: "1" },
    corpus: { type: "string", multiple: true, default: [] },
    concurrency: { type: "string", default: "2" },
    "doc-kb": { type: "string", default: "48" },
    "ask-every": { type: "string", default: "250" },
  },
});
const targetBytes = Math.max(1024, Number(values.mb) * 1024 * 1024);
const docBytes = Math.max(1024, Number(values["doc-kb"]) * 1024);
const concurrency = Math.max(1, Number(values.concurrency));
const askEveryMs = Math.max(0, Number(values["ask-every"]));

// The corpus, repeated until --mb, each copy numbered so no two documents are identical.
const corpus = readCorpus(values.corpus, root);
const questions = questionsOf(corpus, 20);
const documents: { name: string; text: string }[] = [];
let total = 0;
let buffer = "";
for (let copy = 0; total < targetBytes; copy++) {
  for (const doc of corpus) {
    if (total >= targetBytes) break;
    const text = `# ${doc.title} (copy ${copy})\n\n${doc.text.replace(/^#\s.*\n/, "")}\n\n`;
    buffer += text;
    total += Buffer.byteLength(text);
    if (Buffer.byteLength(buffer) >= docBytes || total >= targetBytes) {
      documents.push({ name: `doc-${documents.length}.md`, text: buffer });
      buffer = "";
    }
  }
}
const megabytes = total / 1024 / 1024;

console.log(machineLine());
const dataDir = tempDataDir();
await createAdmin(dataDir);
const server = await startServer({
  dataDir,
  env: {
    INGEST_CONCURRENCY: String(concurrency),
    ...BENCH_LIMITS,
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? "warn",
  },
});
try {
  const admin = await signIn(server.url);
  // The visitors' tenant: a small knowledge base, indexed before anything is measured.
  const visitorTenant = await createTenant(admin, "Visitors");
  rememberSecretKey(visitorTenant, await makeSecretKey(admin, visitorTenant));
  await upload(admin, visitorTenant, [
    { name: "small.md", text: documents[0]?.text.slice(0, 8000) ?? "# Empty" },
  ]);
  await waitForIdle(admin, visitorTenant);

  let asked = 0;
  const askLoop = async (until: () => boolean) => {
    const outcomes: AskOutcome[] = [];
    while (!until()) {
      const question = `${questions[asked % questions.length]} (visitor ${asked})`;
      asked++;
      outcomes.push(await askOnce(server.url, visitorTenant, question));
      await new Promise((resolve) => setTimeout(resolve, askEveryMs));
    }
    return outcomes;
  };
  const idleUntil = Date.now() + 5000;
  const idle = await askLoop(() => Date.now() > idleUntil);

  const bulkTenant = await createTenant(admin, "Bulk");
  const started = performance.now();
  for (let i = 0; i < documents.length; i += 10) {
    await upload(admin, bulkTenant, documents.slice(i, i + 10));
  }
  let ingesting = true;
  const during = askLoop(() => !ingesting);
  const jobs = await waitForIdle(admin, bulkTenant);
  const seconds = (performance.now() - started) / 1000;
  ingesting = false;
  const busy = await during;

  const res = await admin.fetch(`/api/tenants/${bulkTenant}/documents`);
  const listed = (await res.json()) as { documents: { chunkCount: number }[] };
  const chunks = listed.documents.reduce((sum, d) => sum + d.chunkCount, 0);
  const failed = jobs.filter((j) => j.state !== "done");
  const line = (name: string, outcomes: AskOutcome[]) => {
    const totals = outcomes.filter((r) => r.ok).map((r) => r.totalMs);
    return (
      `  asks to another tenant ${name}: ${outcomes.length} asks, ` +
      `p50 ${ms(percentile(totals, 50))}, p95 ${ms(percentile(totals, 95))}, ` +
      `errors ${outcomes.length - totals.length}`
    );
  };
  console.log(
    `ingested ${megabytes.toFixed(2)} MB of text in ${documents.length} documents ` +
      `(INGEST_CONCURRENCY=${concurrency}) in ${seconds.toFixed(1)} s:\n` +
      `  ${chunks} chunks, ${(chunks / seconds).toFixed(1)} chunks/s, ` +
      `${((megabytes / seconds) * 60).toFixed(2)} MB of text per minute; ` +
      `failed jobs ${failed.length}\n` +
      `${line("on the idle server", idle)}\n${line("during the ingestion", busy)}`,
  );
  if (failed.length > 0) {
    console.log(`  first failure: ${failed[0]?.title}: ${failed[0]?.error}`);
    process.exitCode = 1;
  }
  console.log(machineLine());
} finally {
  await server.stop();
}

async function upload(admin: Client, tenantId: string, files: { name: string; text: string }[]) {
  const form = new FormData();
  for (const file of files) form.append("file", new Blob([file.text]), file.name);
  const res = await admin.fetch(`/api/tenants/${tenantId}/documents`, {
    method: "POST",
    body: form,
  });
  if (res.status !== 202) throw new Error(`upload failed: ${res.status} ${await res.text()}`);
}

/** Waits until no job of the tenant is queued or running; returns them all. */
async function waitForIdle(admin: Client, tenantId: string): Promise<Job[]> {
  for (;;) {
    const jobs = await listJobs(admin, tenantId);
    if (jobs.every((j) => j.state === "done" || j.state === "failed")) return jobs;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
