// Tenant fan-out benchmark: --tenants (10,000) tenants with small knowledge bases on one node,
// and asks spread over random tenants through HTTP to the BUILT server (node server.js).
//
// The tenants are made fast through the product's own modules, not the HTTP API: the control
// database registry (createTenant → TenantPool.create + insertTenant) and replaceDocument,
// with REAL embeddings from the configured embedder computed once for a few passages and
// reused (every tenant's knowledge base is the same few passages under its own name).
// The server then answers with its default (extractive) answerer, so every ask opens the
// tenant's file if it is not among the TENANT_DB_CACHE_SIZE open handles, embeds the
// question and searches. Prints asks/s, latency, the cold-open time of a tenant database,
// open handles, the server's file descriptors and RSS.
//
//   npm run build && npm run bench:tenants -- [--tenants 10000] [--asks 2000]
//     [--connections 8] [--handles 64]
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { createHash } from "node:crypto";
import { parseConfig } from "#app/server/config.server.ts";
import { openControlDb } from "#app/server/control-db.server.ts";
import { createEmbedder } from "#app/server/embeddings/index.server.ts";
import { createSecretKey } from "#app/server/keys.server.ts";
import { createTenant } from "#app/server/tenants.server.ts";
import { openTenantDb, TenantPool } from "#tenants/store.ts";
import type { TenantId } from "#tenants/id.ts";
import { replaceDocument, type IndexedChunk } from "#tenants/knowledge-base.ts";
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
    asks: { type: "string", default: "2000" },
    connections: { type: "string", default: "8" },
    handles: { type: "string", default: "64" },
  },
});
const tenantCount = Math.max(1, Number(values.tenants));
const askCount = Math.max(1, Number(values.asks));
const connections = Math.max(1, Number(values.connections));
const handles = Math.max(1, Number(values.handles));

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

const control = openControlDb(dataDir);
const pool = new TenantPool(dataDir, spec, handles);
const ids: TenantId[] = [];
const createStarted = performance.now();
const text = passages.map((p) => `## ${p.heading}\n\n${p.text}`).join("\n\n");
const contentHash = createHash("sha256").update(text).digest("hex");
for (let i = 0; i < tenantCount; i++) {
  const tenant = createTenant({ control, tenants: pool, config }, { name: `Shop ${i}` });
  replaceDocument(pool.get(tenant.id as TenantId), {
    sourceKey: "text:help",
    sourceType: "text",
    title: `Shop ${i} help`,
    contentHash,
    bytes: text.length,
    chunks,
  });
  ids.push(tenant.id as TenantId);
  const { secret } = createSecretKey(control, {
    tenantId: tenant.id,
    name: "bench",
    createdBy: "bench",
  });
  rememberSecretKey(tenant.id, secret);
  if ((i + 1) % 1000 === 0) {
    process.stdout.write(
      `  ${i + 1} tenants (${((performance.now() - createStarted) / 1000).toFixed(0)} s)\n`,
    );
  }
}
pool.closeAll();
const createSeconds = (performance.now() - createStarted) / 1000;
const bytesOnDisk = fs
  .readdirSync(dataDir)
  .reduce((sum, name) => sum + fs.statSync(path.join(dataDir, name)).size, 0);
console.log(
  `created ${tenantCount} tenants (${chunks.length} chunks each) in ${createSeconds.toFixed(1)} s ` +
    `(${(tenantCount / createSeconds).toFixed(0)} tenants/s); ${mb(bytesOnDisk)} on disk, ` +
    `${(bytesOnDisk / tenantCount / 1024).toFixed(0)} KB per tenant`,
);

// Cold open: opening a tenant's file that no handle holds (what a request for a tenant
// outside the handle cache pays), through the one function that opens tenant files.
const coldOpens: number[] = [];
for (let i = 0; i < Math.min(200, tenantCount); i++) {
  const id = ids[Math.floor(Math.random() * ids.length)] as TenantId;
  const started = performance.now();
  const db = openTenantDb(dataDir, id, spec);
  coldOpens.push(performance.now() - started);
  db.close();
}
control.close();
console.log(
  `cold open of a tenant database (${coldOpens.length} opens): ` +
    `p50 ${ms(percentile(coldOpens, 50))}, p95 ${ms(percentile(coldOpens, 95))}`,
);

const server = await startServer({
  dataDir,
  env: {
    TENANT_DB_CACHE_SIZE: String(handles),
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? "warn",
    ...BENCH_LIMITS,
  },
});
try {
  const idleRss = rssOf(server.pid);
  const idleFds = fdsOf(server.pid);
  let peakFds = idleFds;
  let peakRss = idleRss;
  const sampler = setInterval(() => {
    peakFds = Math.max(peakFds, fdsOf(server.pid));
    peakRss = Math.max(peakRss, rssOf(server.pid));
  }, 100);
  const outcomes: AskOutcome[] = [];
  let issued = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (issued++ < askCount) {
        const id = ids[Math.floor(Math.random() * ids.length)] as string;
        const question = questions[Math.floor(Math.random() * questions.length)] as string;
        outcomes.push(await askOnce(server.url, id, question));
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  const ok = outcomes.filter((r) => r.ok);
  const errors = outcomes.length - ok.length;
  const totals = ok.map((r) => r.totalMs);
  console.log(
    `${outcomes.length} asks over random tenants of ${tenantCount}, ${connections} connections, ` +
      `${handles} open handles at most:\n` +
      `  ${(outcomes.length / seconds).toFixed(0)} asks/s, p50 ${ms(percentile(totals, 50))}, ` +
      `p95 ${ms(percentile(totals, 95))}, p99 ${ms(percentile(totals, 99))}; errors ${errors}\n` +
      `  server file descriptors: idle ${idleFds}, peak ${peakFds} (limit ${fdLimit(server.pid)}); ` +
      `RSS idle ${mb(idleRss)}, peak ${mb(peakRss)}`,
  );
  const failed = outcomes.find((r) => !r.ok);
  if (failed) {
    console.log(`  first failure: ${failed.status} ${failed.error}`);
    const logged = server
      .logs()
      .split("\n")
      .filter((line) => /"level":(40|50|60)/.test(line));
    console.log(logged.slice(0, 3).join("\n"));
  }
  if (errors > 0) process.exitCode = 1;
  console.log(machineLine());
} finally {
  await server.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
}

function fdLimit(pid: number): string {
  try {
    const limits = fs.readFileSync(`/proc/${pid}/limits`, "utf8");
    return /Max open files\s+(\d+)/.exec(limits)?.[1] ?? "?";
  } catch {
    return "?";
  }
}
