// Tenant fan-out benchmark: --tenants (10,000) tenants with small knowledge bases on one node,
// and asks spread over random tenants through HTTP to the BUILT server (node server.js).
//
// The tenants are made through the product's own modules, not the HTTP API: the control
// database registry (createTenant → TenantPool.create + insertTenant), replaceDocument and
// createSecretKey, with REAL embeddings from the configured embedder computed once for a few
// passages and reused (every tenant's knowledge base is the same few passages under its own
// name). Creating a tenant mostly waits for the disk (switching a new file to WAL, its first
// migration and its close each sync it), so --creators processes create them side by side,
// each through the same modules on its own handles.
//
// The server then answers with its default (extractive) answerer, so every ask opens the
// tenant's file if it is not among the TENANT_DB_CACHE_SIZE open handles, embeds the
// question and searches. For each concurrency level of --levels it prints asks/s and latency
// (p50/p95/p99), the server's mean embedding time, open tenant handles (from /metrics),
// file descriptors and RSS; before that, the cold-open time of a tenant database.
//
//   npm run build && npm run bench:tenants -- [--tenants 10000] [--asks 400]
//     [--levels 1,2,4,8] [--handles 64] [--creators 4] [--profile DIR]
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { parseConfig } from "#app/server/config.server.ts";
import { openControlDb } from "#app/server/control-db.server.ts";
import { createEmbedder } from "#app/server/embeddings/index.server.ts";
import { createSecretKey } from "#app/server/access/keys.server.ts";
import { createTenant } from "#app/server/tenancy/tenants.server.ts";
import { openTenantDb, TenantPool } from "#tenants/store.ts";
import type { TenantId } from "#tenants/id.ts";
import { replaceDocument, type IndexedChunk } from "#tenants/knowledge-base.ts";
import { sample, scrapeMetrics } from "../../tests/support/metrics.ts";
import { startServer, tempDataDir } from "../../tests/support/server.ts";
import {
  askOnce,
  BENCH_LIMITS,
  rememberSecretKey,
  fdsOf,
  machineLine,
  mb,
  ms,
  percentile,
  rssOf,
  type AskOutcome,
} from "./support.ts";

const { values } = parseArgs({
  options: {
    tenants: { type: "string", default: "10000" },
    asks: { type: "string", default: "400" },
    levels: { type: "string", default: "1,2,4,8" },
    handles: { type: "string", default: "64" },
    creators: { type: "string", default: "4" },
    profile: { type: "string" },
    // Internal: a creator process (DATA_DIR, first index, count, step; chunks as JSON on stdin).
    "create-part": { type: "string" },
  },
});
const tenantCount = Math.max(1, Number(values.tenants));
const askCount = Math.max(1, Number(values.asks));
const levels = values.levels.split(",").map((level) => Math.max(1, Number(level)));
const handles = Math.max(1, Number(values.handles));
const creators = Math.max(1, Math.min(16, Number(values.creators)));
const METRICS_TOKEN = "bench-tenants-metrics-token";
/** Something to Atomics.wait on: a creator's pause between two attempts of a write. */
const pause = new Int32Array(new SharedArrayBuffer(4));

// Each tenant's knowledge base: a small shop's help page, named after the tenant.
const passages = [
  {
    heading: "Opening hours",
    text: "We are open Monday to Friday from 9 am to 6 pm, and on Saturdays from 10 am to 4 pm. We are closed on Sundays and public holidays.",
  },
  {
    heading: "Returns",
    text: "You can return any item within 30 days of delivery for a full refund. Items must be unused and in their original packaging; we email a prepaid return label.",
  },
  {
    heading: "Shipping",
    text: "Orders placed before 2 pm ship the same working day. Standard delivery takes 2 to 4 working days; express delivery arrives the next working day.",
  },
  {
    heading: "Payment",
    text: "We accept credit and debit cards, bank transfers and gift cards. Your card is charged when the order ships, not when you place it.",
  },
  {
    heading: "Contact",
    text: "Write to our support team through the contact form or call us during opening hours. We answer emails within one working day.",
  },
];
const questions = [
  "When are you open?",
  "How do I return an item?",
  "How long does delivery take?",
  "Which payment methods do you accept?",
  "How can I contact support?",
  "Are you open on Sundays?",
  "Can I get a refund?",
  "When is my card charged?",
];
const helpText = passages.map((p) => `## ${p.heading}\n\n${p.text}`).join("\n\n");

interface CreatePart {
  dataDir: string;
  first: number;
  count: number;
  step: number;
  spec: { model: string; dimension: number };
  chunks: { ord: number; headingPath: string; text: string; tokenCount: number; v: number[] }[];
}

if (values["create-part"] !== undefined) {
  createPart(JSON.parse(fs.readFileSync(values["create-part"], "utf8")) as CreatePart);
} else {
  await main();
}

/**
 * A creator process: tenants first, first+step, … (count of them) through the product's
 * modules; prints `id secret` per tenant.
 */
function createPart(part: CreatePart): void {
  const config = parseConfig({
    DATA_DIR: part.dataDir,
    DEMO_TENANT: "false",
    LOG_LEVEL: "silent",
    ...BENCH_LIMITS,
  });
  const chunks: IndexedChunk[] = part.chunks.map(({ v, ...chunk }) => ({
    ...chunk,
    embedding: Float32Array.from(v),
  }));
  const control = openControlDb(part.dataDir);
  // One handle at a time: a creator writes each tenant once, then moves on.
  const pool = new TenantPool(part.dataDir, part.spec, 1);
  const contentHash = createHash("sha256").update(helpText).digest("hex");
  const out: string[] = [];
  for (let k = 0; k < part.count; k++) {
    const i = part.first + k * part.step;
    const tenant = retryBusy(() =>
      createTenant({ control, tenants: pool, config }, { name: `Shop ${i}` }),
    );
    replaceDocument(pool.get(tenant.id as TenantId), {
      sourceKey: "text:help",
      sourceType: "text",
      title: `Shop ${i} help`,
      contentHash,
      bytes: helpText.length,
      chunks,
    });
    const { secret } = retryBusy(() =>
      createSecretKey(control, { tenantId: tenant.id, name: "bench", createdBy: "bench" }),
    );
    out.push(`${tenant.id} ${secret}`);
    if (out.length === 100) process.stdout.write(`${out.splice(0).join("\n")}\n`);
  }
  if (out.length > 0) process.stdout.write(`${out.join("\n")}\n`);
  pool.closeAll();
  control.close();
}

/**
 * Runs `write` again when another creator's transaction got in first: a transaction that reads
 * before it writes cannot wait for the lock (SQLITE_BUSY_SNAPSHOT), it has to start over.
 */
function retryBusy<T>(write: () => T): T {
  for (let attempt = 1; ; attempt++) {
    try {
      return write();
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (attempt >= 200 || typeof code !== "string" || !code.startsWith("SQLITE_BUSY"))
        throw error;
      // A short random pause, so the creators do not collide again at once.
      Atomics.wait(pause, 0, 0, 1 + Math.random() * 10);
    }
  }
}

/** Runs `creators` creator processes; returns the tenants' ids (their keys are remembered). */
async function createTenants(
  dataDir: string,
  spec: CreatePart["spec"],
  chunks: IndexedChunk[],
): Promise<TenantId[]> {
  // The control database (and its migrations) exists before the creators share it.
  openControlDb(dataDir).close();
  const ids: TenantId[] = [];
  const started = performance.now();
  let reported = 0;
  const parts = Array.from({ length: Math.min(creators, tenantCount) }, (_, first) => {
    const step = Math.min(creators, tenantCount);
    const part: CreatePart = {
      dataDir,
      first,
      count: Math.ceil((tenantCount - first) / step),
      step,
      spec,
      chunks: chunks.map(({ embedding, ...chunk }) => ({ ...chunk, v: [...embedding] })),
    };
    const file = path.join(dataDir, `.bench-part-${first}.json`);
    fs.writeFileSync(file, JSON.stringify(part));
    return new Promise<void>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        [...process.execArgv, process.argv[1] as string, "--create-part", file],
        { stdio: ["ignore", "pipe", "inherit"] },
      );
      let rest = "";
      child.stdout.setEncoding("utf8");
      child.stdout.on("data", (data: string) => {
        const lines = (rest + data).split("\n");
        rest = lines.pop() ?? "";
        for (const line of lines) {
          const [id, secret] = line.split(" ");
          if (!id || !secret) continue;
          ids.push(id as TenantId);
          rememberSecretKey(id, secret);
        }
        if (ids.length - reported >= 1000) {
          reported = ids.length;
          const seconds = (performance.now() - started) / 1000;
          process.stdout.write(`  ${ids.length} tenants (${seconds.toFixed(0)} s)\n`);
        }
      });
      child.on("error", reject);
      child.on("exit", (code) => {
        fs.rmSync(file, { force: true });
        if (code === 0) resolve();
        else reject(new Error(`a tenant creator exited with code ${code}`));
      });
    });
  });
  await Promise.all(parts);
  return ids;
}

async function main(): Promise<void> {
  console.log(machineLine());
  const dataDir = tempDataDir();
  const config = parseConfig({
    DATA_DIR: dataDir,
    DEMO_TENANT: "false",
    LOG_LEVEL: "silent",
    ...BENCH_LIMITS,
  });
  const embedder = await createEmbedder(config.embeddings, { timeoutMs: config.FETCH_TIMEOUT_MS });
  const vectors = await embedder.embed(
    passages.map((p) => `${p.heading}\n${p.text}`),
    "document",
  );
  const chunks: IndexedChunk[] = passages.map((p, ord) => ({
    ord,
    headingPath: p.heading,
    text: p.text,
    tokenCount: p.text.split(/\s+/).length,
    embedding: vectors[ord] as Float32Array,
  }));
  const spec = { model: embedder.model, dimension: embedder.dimension };
  await embedder.close?.();

  const createStarted = performance.now();
  const ids = await createTenants(dataDir, spec, chunks);
  const createSeconds = (performance.now() - createStarted) / 1000;
  const bytesOnDisk = fs
    .readdirSync(dataDir)
    .reduce((sum, name) => sum + fs.statSync(path.join(dataDir, name)).size, 0);
  console.log(
    `created ${ids.length} tenants (${chunks.length} chunks each) in ${createSeconds.toFixed(1)} s ` +
      `(${(ids.length / createSeconds).toFixed(0)} tenants/s, ${creators} creator processes); ` +
      `${mb(bytesOnDisk)} on disk, ${(bytesOnDisk / ids.length / 1024).toFixed(0)} KB per tenant`,
  );

  // Cold open: opening a tenant's file that no handle holds (what a request for a tenant
  // outside the handle cache pays), through the one function that opens tenant files.
  const coldOpens: number[] = [];
  for (let i = 0; i < Math.min(200, ids.length); i++) {
    const id = ids[Math.floor(Math.random() * ids.length)] as TenantId;
    const started = performance.now();
    const db = openTenantDb(dataDir, id, spec);
    coldOpens.push(performance.now() - started);
    db.close();
  }
  console.log(
    `cold open of a tenant database (${coldOpens.length} opens): ` +
      `p50 ${ms(percentile(coldOpens, 50))}, p95 ${ms(percentile(coldOpens, 95))}`,
  );

  const server = await startServer({
    dataDir,
    nodeArgs: values.profile ? ["--cpu-prof", `--cpu-prof-dir=${values.profile}`] : [],
    env: {
      TENANT_DB_CACHE_SIZE: String(handles),
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? "warn",
      METRICS_TOKEN,
      ...BENCH_LIMITS,
    },
  });
  let errors = 0;
  try {
    const idleRss = rssOf(server.pid);
    const idleFds = fdsOf(server.pid);
    console.log(
      `${askCount} asks per level over random tenants of ${ids.length}, ` +
        `${handles} open handles at most; server idle: ${idleFds} descriptors ` +
        `(limit ${fdLimit(server.pid)}), RSS ${mb(idleRss)}`,
    );
    // A few asks first, not counted: the server's first embeddings and queries are slow
    // (JIT, the model's first calls) and would count against the first level only.
    for (let i = 0; i < 10; i++) {
      const id = ids[Math.floor(Math.random() * ids.length)] as string;
      await askOnce(server.url, id, questions[i % questions.length] as string);
    }
    console.log(
      "  connections  asks/s   p50       p95       p99       embed mean  handles  fds  RSS peak",
    );
    for (const level of levels) {
      const result = await askLevel(server.url, server.pid, ids, level);
      errors += result.errors;
      console.log(
        `  ${String(level).padStart(11)}  ${result.rate.toFixed(1).padStart(6)}   ` +
          `${ms(result.p50).padEnd(9)} ${ms(result.p95).padEnd(9)} ${ms(result.p99).padEnd(9)} ` +
          `${ms(result.embedMean).padEnd(11)} ${String(result.handles).padStart(7)}  ` +
          `${String(result.peakFds).padStart(3)}  ${mb(result.peakRss)}` +
          (result.errors > 0 ? `  errors ${result.errors}` : ""),
      );
      if (result.failure) console.log(`    first failure: ${result.failure}`);
    }
    console.log(`errors ${errors}`);
    if (errors > 0) {
      const logged = server
        .logs()
        .split("\n")
        .filter((line) => /"level":(40|50|60)/.test(line));
      console.log(logged.slice(0, 3).join("\n"));
      process.exitCode = 1;
    }
    console.log(machineLine());
  } finally {
    await server.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/** `askCount` asks over random tenants at `connections` at once, with the server's readings. */
async function askLevel(url: string, pid: number, ids: readonly TenantId[], connections: number) {
  const before = await embedStage(url);
  let peakFds = fdsOf(pid);
  let peakRss = rssOf(pid);
  const sampler = setInterval(() => {
    peakFds = Math.max(peakFds, fdsOf(pid));
    peakRss = Math.max(peakRss, rssOf(pid));
  }, 100);
  const outcomes: AskOutcome[] = [];
  let issued = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (issued++ < askCount) {
        const id = ids[Math.floor(Math.random() * ids.length)] as string;
        const question = questions[Math.floor(Math.random() * questions.length)] as string;
        outcomes.push(await askOnce(url, id, question));
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  const after = await embedStage(url);
  const ok = outcomes.filter((r) => r.ok);
  const totals = ok.map((r) => r.totalMs);
  return {
    rate: outcomes.length / seconds,
    p50: percentile(totals, 50),
    p95: percentile(totals, 95),
    p99: percentile(totals, 99),
    embedMean: ((after.sum - before.sum) * 1000) / Math.max(1, after.count - before.count),
    handles: after.handles,
    peakFds,
    peakRss,
    errors: outcomes.length - ok.length,
    failure: outcomes.find((r) => !r.ok)?.error,
  };
}

/** The server's embedding stage (seconds, count) and open tenant handles, from /metrics. */
async function embedStage(url: string): Promise<{ sum: number; count: number; handles: number }> {
  const text = await scrapeMetrics(url, METRICS_TOKEN);
  return {
    sum: sample(text, "bitb_rag_stage_duration_seconds_sum", { stage: "embed" }),
    count: sample(text, "bitb_rag_stage_duration_seconds_count", { stage: "embed" }),
    handles: sample(text, "bitb_tenant_db_open_handles"),
  };
}

function fdLimit(pid: number): string {
  try {
    const limits = fs.readFileSync(`/proc/${pid}/limits`, "utf8");
    return /Max open files\s+(\d+)/.exec(limits)?.[1] ?? "?";
  } catch {
    return "?";
  }
}
