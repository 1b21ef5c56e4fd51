// Load benchmark: the BUILT server (node server.js) on loopback, one demo tenant of realistic
// size built through the operator CLI, an OpenAI-compatible fake LLM on loopback
// (tests/support/fake-llm.ts). Prints, with the machine's load average:
//
//   1. cached asks: asks/s and p50/p95/p99 at --connections (50) concurrent connections for
//      --duration seconds, repeating --questions (20) first questions that were asked once
//      before (answer-cache hits), with the error rate;
//   2. uncached asks with an instant fake LLM: every question unique (no cache can help),
//      sequential (the per-ask overhead: everything but the LLM's own time, which is ~0) and
//      at --uncached-connections concurrent connections (throughput);
//   3. --streams (500) SSE asks held open at once from a slow fake LLM (a token every
//      --token-delay 50 ms): completions, peak open streams, RSS and memory per stream.
//
// The server's LLM bulkhead is raised for this run (LLM_MAX_CONCURRENT = streams,
// LLM_QUEUE_SIZE = 4 × streams): the defaults (3 and 20) protect a hosted provider's rate
// limit, and would turn most of 500 simultaneous asks into `busy` answers by design.
//
//   npm run build && npm run bench:load -- [--corpus FILE.jsonl|DIR|FILE ...]
//     [--connections 50] [--duration 10] [--questions 20] [--uncached 200]
//     [--uncached-connections 8] [--streams 500] [--token-delay 50] [--words 200]
//     [--phases cached,uncached,streams] [--data DIR]   (DIR keeps the demo tenant for reruns)
//     [--profile DIR]   (writes a --cpu-prof profile of the server to DIR)
//     [--embedder local|instant]   (instant: the fake LLM's OpenAI-compatible /v1/embeddings,
//                                   so the uncached figures are the product's own overhead
//                                   without the embedded encoder's inference; use its own
//                                   --data DIR)
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { parseConfig } from "#app/server/config.server.ts";
import { requireTenant, tenantDb } from "#app/server/tenancy/tenants.server.ts";
import { closeRuntime, createRuntime } from "#app/server/runtime/build.server.ts";
import { usageByDay } from "#tenants/conversations.ts";
import { startFakeLlm } from "../../tests/support/fake-llm.ts";
import { sample, scrapeMetrics } from "../../tests/support/metrics.ts";
import { startServer, tempDataDir, type TestServer } from "../../tests/support/server.ts";
import {
  askOnce,
  cpuMsOf,
  authHeaders,
  BENCH_LIMITS,
  cliSecretKey,
  createDemoTenant,
  machineLine,
  mb,
  ms,
  percentile,
  questionsOf,
  readCorpus,
  rssOf,
  type AskOutcome,
} from "./support.ts";

const root = path.resolve(import.meta.dirname, "../..");
const { values } = parseArgs({
  options: {
    corpus: { type: "string", multiple: true, default: [] },
    connections: { type: "string", default: "50" },
    duration: { type: "string", default: "10" },
    questions: { type: "string", default: "20" },
    uncached: { type: "string", default: "200" },
    "uncached-connections": { type: "string", default: "8" },
    streams: { type: "string", default: "500" },
    "token-delay": { type: "string", default: "50" },
    words: { type: "string", default: "200" },
    profile: { type: "string" },
    data: { type: "string" },
    phases: { type: "string", default: "cached,uncached,streams" },
    embedder: { type: "string", default: "local" },
  },
});
const num = (name: keyof typeof values) => {
  const value = Number(values[name]);
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} must be a number`);
  return value;
};
const connections = num("connections");
const duration = num("duration");
const streams = num("streams");
const uncachedAsks = num("uncached");
const uncachedConnections = Math.max(1, num("uncached-connections"));
const tokenDelayMs = num("token-delay");
const words = Math.max(1, num("words"));

if (values.embedder !== "local" && values.embedder !== "instant") {
  throw new Error("--embedder must be local or instant");
}
const documents = readCorpus(values.corpus, root);
const questions = questionsOf(documents, num("questions"));
console.log(machineLine());
const llm = await startFakeLlm({ reply: "The answer is in the sources [1].", tokenDelayMs: 0 });
// Every process that opens the demo tenant (CLI, server, the usage read) uses one embedder.
const embedderEnv: Record<string, string> =
  values.embedder === "instant"
    ? { EMBEDDINGS_BASE_URL: `${llm.url}/v1`, EMBEDDINGS_MODEL: "instant" }
    : {};
const { dataDir, tenantId } = await demoTenant();
await cliSecretKey(dataDir, tenantId);

const recordedBefore = await recordedAsks();
const METRICS_TOKEN = "bench-load-metrics-token";
const STAGES = ["embed", "retrieve", "first_token", "answer"] as const;
const serverEnv = (extra: Record<string, string> = {}) => ({
  ...embedderEnv,
  LLM_BASE_URL: `${llm.url}/v1`,
  LLM_MODEL: "fake",
  LLM_MAX_CONCURRENT: String(Math.max(streams, uncachedConnections, 3)),
  LLM_QUEUE_SIZE: String(Math.max(streams * 4, 20)),
  LLM_FIRST_TOKEN_TIMEOUT_MS: "120000",
  LLM_TIMEOUT_MS: "300000",
  LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? "warn",
  METRICS_TOKEN,
  ...BENCH_LIMITS,
  ...extra,
});
const server = await startServer({
  dataDir,
  nodeArgs: values.profile ? ["--cpu-prof", `--cpu-prof-dir=${values.profile}`] : [],
  env: serverEnv(),
});

let failures = 0;
try {
  const phases = new Set(values.phases.split(","));
  const none = { errors: 0, completed: 0 };
  const cached = phases.has("cached") ? await cachedRun(server) : none;
  const uncached = phases.has("uncached") ? await uncachedRun(server) : none;
  await server.stop();
  // The streams run answers every ask with the slow LLM: no answer cache, and questions that
  // repeat so the retrieval cache spares the encoder (which would otherwise pace the streams).
  const held = phases.has("streams")
    ? await startServer({ dataDir, env: serverEnv({ ANSWER_CACHE_SIZE: "0" }) }).then(
        (streamServer) => streamsRun(streamServer).finally(() => streamServer.stop()),
      )
    : null;
  const recorded = await recordedAsks();
  console.log(
    `recorded by the server: ${recorded.asks - recordedBefore.asks} asks ` +
      `(${recorded.hits - recordedBefore.hits} from the answer cache); the benchmark read ` +
      `${cached.completed + uncached.completed + (held?.completed ?? 0)} answers to their end`,
  );
  failures = cached.errors + uncached.errors + (held ? streams - held.completed : 0);
  console.log(machineLine());
} finally {
  await server.stop();
  await llm.close();
}
if (failures > 0) process.exitCode = 1;

/**
 * The demo tenant, built through the CLI; with --data DIR it is built once and reused by
 * later runs (the benchmark's own asks are kept in its usage, which it reports as a delta).
 */
async function demoTenant(): Promise<{ dataDir: string; tenantId: string }> {
  const dir = values.data ? path.resolve(values.data) : tempDataDir();
  const marker = path.join(dir, "bench-tenant-id");
  const builtWith = path.join(dir, "bench-embedder");
  if (fs.existsSync(marker)) {
    const id = fs.readFileSync(marker, "utf8").trim();
    const embedder = fs.existsSync(builtWith) ? fs.readFileSync(builtWith, "utf8").trim() : "local";
    if (embedder !== values.embedder) {
      throw new Error(`${dir} holds a demo tenant built with --embedder ${embedder}`);
    }
    console.log(`reusing the demo tenant ${id} in ${dir}`);
    return { dataDir: dir, tenantId: id };
  }
  console.log(`building the demo tenant: ${documents.length} documents through the CLI…`);
  const started = performance.now();
  const id = await createDemoTenant(dir, documents, "Bench", embedderEnv);
  console.log(`  indexed in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  fs.writeFileSync(marker, id);
  fs.writeFileSync(builtWith, values.embedder);
  return { dataDir: dir, tenantId: id };
}

/** 1. Repeated first questions: the answer cache answers them. */
async function cachedRun(target: TestServer) {
  for (const question of questions) {
    const first = await askOnce(target.url, tenantId, question);
    if (!first.ok) throw new Error(`warm-up ask failed: ${first.status} ${first.error}`);
  }
  const check = await askOnce(target.url, tenantId, questions[0]!);
  if (!check.cached) throw new Error("a repeated question was not answered from the cache");

  const latencies: number[] = [];
  let next = 0;
  let finished: (result: autocannon.Result) => void = () => {};
  let failed: (error: Error) => void = () => {};
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    finished = resolve;
    failed = reject;
  });
  const instance = autocannon(
    {
      url: `${target.url}/api/ask`,
      connections,
      duration,
      method: "POST",
      headers: { "content-type": "application/json", ...authHeaders(tenantId) },
      requests: [
        {
          setupRequest: (request) => ({
            ...request,
            body: JSON.stringify({
              tenant_id: tenantId,
              query: questions[next++ % questions.length],
            }),
          }),
        },
      ],
    },
    (error, result) => (error ? failed(error) : finished(result)),
  );
  instance.on("response", (_client, _status, _bytes, responseTime) => latencies.push(responseTime));
  const cpuBefore = cpuMsOf(target.pid);
  const result = await done;
  const cpuPerAsk = (cpuMsOf(target.pid) - cpuBefore) / Math.max(1, result.requests.total);
  const errors = result.errors + result.timeouts + result.non2xx;
  const total = result.requests.total;
  console.log(
    `cached asks, ${connections} connections, ${duration} s, ${questions.length} questions:\n` +
      `  ${result.requests.average.toFixed(0)} asks/s (${total} asks), ` +
      `p50 ${ms(percentile(latencies, 50))}, p95 ${ms(percentile(latencies, 95))}, ` +
      `p99 ${ms(percentile(latencies, 99))}, max ${ms(Math.max(...latencies))}\n` +
      `  server CPU ${cpuPerAsk.toFixed(2)} ms per ask (≈ ${(1000 / cpuPerAsk).toFixed(0)} asks/s ` +
      "per free core, whatever else runs on the machine)\n" +
      `  errors ${errors} (${((100 * errors) / Math.max(1, total)).toFixed(2)}%: ` +
      `${result.non2xx} non-2xx, ${result.errors} socket errors, ${result.timeouts} timeouts)`,
  );
  return { errors, completed: total + questions.length + 1 };
}

/** The server's ask stages so far (seconds and count of each), from its /metrics. */
async function stageSums(target: TestServer) {
  const text = await scrapeMetrics(target.url, METRICS_TOKEN);
  const of = (stage: string) => ({
    sum: sample(text, "bitb_rag_stage_duration_seconds_sum", { stage }),
    count: sample(text, "bitb_rag_stage_duration_seconds_count", { stage }),
  });
  return Object.fromEntries(STAGES.map((stage) => [stage, of(stage)])) as Record<
    (typeof STAGES)[number],
    { sum: number; count: number }
  >;
}

/** Each stage's mean between two readings of stageSums, e.g. "embed 22.3 ms, retrieve …". */
function stageMeans(
  before: Awaited<ReturnType<typeof stageSums>>,
  after: Awaited<ReturnType<typeof stageSums>>,
): string {
  return STAGES.map((stage) => {
    const seconds = after[stage].sum - before[stage].sum;
    const count = after[stage].count - before[stage].count;
    return `${stage.replace("_", " ")} ${ms((1000 * seconds) / Math.max(1, count))}`;
  }).join(", ");
}

/** 2. Unique questions: embedding, search, the (instant) LLM and the writes, every time. */
async function uncachedRun(target: TestServer) {
  const unique = (i: number) => `${questions[i % questions.length]} (visitor ${i})`;
  const sequential: AskOutcome[] = [];
  const stagesBefore = await stageSums(target);
  for (let i = 0; i < uncachedAsks; i++) {
    sequential.push(await askOnce(target.url, tenantId, unique(i)));
  }
  const stagesAfter = await stageSums(target);
  const totals = sequential.filter((r) => r.ok).map((r) => r.totalMs);
  const firstBytes = sequential.filter((r) => r.ok).map((r) => r.firstByteMs);
  const sequentialErrors = sequential.filter((r) => !r.ok || r.cached).length;

  const concurrent: AskOutcome[] = [];
  let issued = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: uncachedConnections }, async () => {
      while (issued < uncachedAsks) {
        const i = uncachedAsks + issued++;
        concurrent.push(await askOnce(target.url, tenantId, unique(i)));
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const concurrentErrors = concurrent.filter((r) => !r.ok || r.cached).length;
  const loaded = concurrent.filter((r) => r.ok).map((r) => r.totalMs);
  console.log(
    `uncached asks (unique questions, instant fake LLM, ${values.embedder} embedder), ` +
      `${uncachedAsks} sequential:\n` +
      `  whole ask p50 ${ms(percentile(totals, 50))}, p95 ${ms(percentile(totals, 95))} ` +
      `(first byte p95 ${ms(percentile(firstBytes, 95))}); errors ${sequentialErrors}\n` +
      `  server's mean per ask: ${stageMeans(stagesBefore, stagesAfter)} ` +
      "(first token and answer from the ask's start)\n" +
      `uncached asks, ${uncachedConnections} connections: ${(concurrent.length / seconds).toFixed(0)} ` +
      `asks/s, p50 ${ms(percentile(loaded, 50))}, p95 ${ms(percentile(loaded, 95))}; ` +
      `errors ${concurrentErrors}`,
  );
  const failed = [...sequential, ...concurrent].find((r) => !r.ok);
  if (failed) console.log(`  first failure: ${failed.status} ${failed.error}`);
  return {
    errors: sequentialErrors + concurrentErrors,
    completed: sequential.length + concurrent.length,
  };
}

/** 3. Hundreds of slow answers streaming at once. */
async function streamsRun(target: TestServer) {
  // Fills the retrieval cache with the instant LLM, then slows the LLM down.
  for (const question of questions) await askOnce(target.url, tenantId, question);
  llm.setBehaviour({
    reply: `${Array.from({ length: words - 1 }, (_, i) => `word${i}`).join(" ")} [1].`,
    tokenDelayMs,
  });
  const idleRss = rssOf(target.pid);
  let peakUpstream = 0;
  let peakRss = idleRss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, rssOf(target.pid));
    peakUpstream = Math.max(peakUpstream, llm.open);
  }, 50);
  const started = performance.now();
  const outcomes = await Promise.all(
    Array.from({ length: streams }, (_, i) =>
      askOnce(target.url, tenantId, questions[i % questions.length] as string),
    ),
  );
  clearInterval(sampler);
  const seconds = (performance.now() - started) / 1000;
  const completed = outcomes.filter((r) => r.ok).length;
  const totals = outcomes.filter((r) => r.ok).map((r) => r.totalMs);
  const perStream = (peakRss - idleRss) / Math.max(1, streams);
  console.log(
    `${streams} SSE streams at once, a token every ${tokenDelayMs} ms (${words} tokens each):\n` +
      `  completed ${completed}/${streams} in ${seconds.toFixed(1)} s ` +
      `(stream p50 ${ms(percentile(totals, 50))}, p95 ${ms(percentile(totals, 95))}); ` +
      `peak streaming at once ${peakUpstream}; errors ${streams - completed}\n` +
      `  server RSS idle ${mb(idleRss)}, peak ${mb(peakRss)}: ` +
      `${(perStream / 1024).toFixed(0)} KB per stream`,
  );
  const failed = outcomes.find((r) => !r.ok);
  if (failed) console.log(`  first failure: ${failed.status} ${failed.error}`);
  return { completed, peakUpstream, perStream, peakRss };
}

/** The asks in the tenant's usage counters (every answered ask is recorded). */
async function recordedAsks(): Promise<{ asks: number; hits: number }> {
  const runtime = await createRuntime({
    config: parseConfig({
      ...embedderEnv,
      DATA_DIR: dataDir,
      DEMO_TENANT: "false",
      LOG_LEVEL: "silent",
    }),
  });
  try {
    const usage = usageByDay(tenantDb(runtime, requireTenant(runtime, tenantId)), 3660);
    return {
      asks: usage.reduce((sum, day) => sum + day.asks, 0),
      hits: usage.reduce((sum, day) => sum + day.cacheHits, 0),
    };
  } finally {
    await closeRuntime(runtime);
  }
}
