// Ask overhead: the built server answering through an instant local fake LLM, so what is
// measured is everything but the LLM's own time (validation, retrieval, prompt, streaming).
// Also measures the time from a provider outage to the first degraded (extractive) answer.
//
//   npm run build && npm run bench:ask -- [--asks 200]
import { parseArgs } from "node:util";
import { readAskEvents } from "#app/shared/ask-events.ts";
import { openControlDb } from "#app/server/control-db.server.ts";
import { createSecretKey } from "#app/server/access/keys.server.ts";
import type { TenantId } from "#tenants/id.ts";
import { cli } from "../../tests/support/cli.ts";
import { startFakeLlm } from "../../tests/support/fake-llm.ts";
import { startServer, tempDataDir } from "../../tests/support/server.ts";

const { values } = parseArgs({ options: { asks: { type: "string", default: "200" } } });
const asks = Number(values.asks);
const questions = [
  "How do I deploy on Fly?",
  "What does the extractive answerer do?",
  "How are tenant ids validated?",
  "How does ingestion survive a crash?",
  "Which embedding model is the default?",
];

const percentile = (xs: number[], p: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
};

async function askOnce(url: string, tenantId: string, query: string) {
  const started = performance.now();
  const res = await fetch(`${url}/api/ask`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${apiKey}` },
    body: JSON.stringify({ tenant_id: tenantId, query }),
  });
  let firstToken: number | null = null;
  let degraded: string | null = null;
  let server: { retrievalMs: number; totalMs: number } | null = null;
  for await (const event of readAskEvents(res.body!)) {
    if (event.event === "token") firstToken ??= performance.now() - started;
    if (event.event === "done") {
      degraded = event.data.degraded ? event.data.degradedReason : null;
      server = event.data.latency;
    }
  }
  return { totalMs: performance.now() - started, firstToken, degraded, server };
}

const llm = await startFakeLlm({ reply: "The answer is in the docs [1].", tokenDelayMs: 0 });
const dataDir = tempDataDir();
const tenantId = (await cli(dataDir, ["tenant:create", "--name", "Bench"])).stdout.trim();
await cli(dataDir, ["ingest", tenantId, "README.md", "docs"]);
// A server-to-server caller: a secret key made straight in the control database.
const control = openControlDb(dataDir);
const apiKey = createSecretKey(control, {
  tenantId: tenantId as TenantId,
  name: "bench",
  createdBy: "bench",
}).secret;
control.close();
const server = await startServer({
  dataDir,
  env: {
    LLM_BASE_URL: `${llm.url}/v1`,
    LLM_MODEL: "instant",
    // The uncached path: every ask embeds, searches and calls the LLM.
    ANSWER_CACHE_SIZE: "0",
    RETRIEVAL_CACHE_SIZE: "0",
    // Measure the pipeline, not the rate limiter's refusals.
    RATE_LIMIT_TENANT_PER_MINUTE: "0",
    RATE_LIMIT_SESSION_PER_MINUTE: "0",
    RATE_LIMIT_IP_PER_MINUTE: "0",
    RATE_LIMIT_KEY_PER_MINUTE: "0",
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? "warn",
  },
});
try {
  for (let i = 0; i < 10; i++)
    await askOnce(server.url, tenantId, questions[i % questions.length]!);
  const total: number[] = [];
  const firstToken: number[] = [];
  const retrieval: number[] = [];
  for (let i = 0; i < asks; i++) {
    const r = await askOnce(server.url, tenantId, questions[i % questions.length]!);
    total.push(r.totalMs);
    if (r.firstToken !== null) firstToken.push(r.firstToken);
    if (r.server) retrieval.push(r.server.retrievalMs);
  }
  const fmt = (xs: number[]) =>
    `p50 ${percentile(xs, 50).toFixed(1)} ms, p95 ${percentile(xs, 95).toFixed(1)} ms`;
  console.log(`asks through HTTP with an instant fake LLM (${asks} sequential SSE asks)`);
  console.log(`  whole ask (client-side):  ${fmt(total)}`);
  console.log(`  first token (client-side): ${fmt(firstToken)}`);
  console.log(`  retrieval (server-side):   ${fmt(retrieval)}`);

  llm.setBehaviour({ failStatus: 503, failCount: Infinity });
  const requestsBefore = llm.requests.length;
  const outage = performance.now();
  let tries = 0;
  for (;;) {
    tries++;
    const r = await askOnce(server.url, tenantId, questions[0]!);
    if (r.degraded) {
      console.log(
        `provider outage → first degraded answer: ${(performance.now() - outage).toFixed(0)} ms ` +
          `(ask ${tries}, ${r.degraded} after ${llm.requests.length - requestsBefore} upstream ` +
          "requests, default retry policy)",
      );
      if (process.env.BENCH_LOG_LEVEL) {
        console.log(
          server
            .logs()
            .split("\n")
            .filter((l) => l.includes('"llm"'))
            .slice(-6)
            .join("\n"),
        );
      }
      break;
    }
  }
} finally {
  await server.stop();
  await llm.close();
}
