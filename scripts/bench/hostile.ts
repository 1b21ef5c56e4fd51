// Hostile-files benchmark (decision 043): another tenant's ask and /healthz latency while the
// hostile documents of tests/support/hostile-files.ts ingest one after another, beside the
// same figures on the idle server, in one run against the BUILT server (node server.js) on
// loopback; plus the server's RSS peak. Embeddings come from the fake LLM server (instant),
// answers from the extractive default, so the figures measure the server, not a model.
// Bounded: --idle-rounds ask+/healthz pairs idle, then at most 2,000 pairs per file.
//
//   npm run build && npm run bench:hostile -- [--idle-rounds 60]
//
// Goals (issue 22): ask p95 within 2× idle, /healthz p95 ≤ 50 ms, RSS peak ≤ idle + 512 MB,
// 0 errors.
import { parseArgs } from "node:util";
import { createAdmin } from "../../tests/support/cli.ts";
import { startFakeLlm } from "../../tests/support/fake-llm.ts";
import { hostileFiles } from "../../tests/support/hostile-files.ts";
import {
  ingestWhileProbing,
  probe,
  type ProbeFigures,
  setUpTenants,
} from "../../tests/support/hostile-load.ts";
import { startServer, tempDataDir } from "../../tests/support/server.ts";
import { BENCH_LIMITS, machineLine, mb, ms, percentile, rssOf } from "./support.ts";

const { values } = parseArgs({ options: { "idle-rounds": { type: "string", default: "60" } } });
const idleRounds = Math.max(5, Math.min(1000, Number(values["idle-rounds"]) || 60));
const MB = 1024 * 1024;

const llm = await startFakeLlm();
const dataDir = tempDataDir();
await createAdmin(dataDir);
const server = await startServer({
  dataDir,
  env: {
    ...BENCH_LIMITS,
    EMBEDDINGS_BASE_URL: `${llm.url}/v1`,
    EMBEDDINGS_MODEL: "instant",
    MAX_UPLOAD_BYTES: String(64 * MB),
    LOG_LEVEL: "warn",
  },
});
try {
  console.log(machineLine());
  const tenants = await setUpTenants(server);
  const idle = await probe(server, tenants, async () => true, { minRounds: idleRounds });
  const idleRss = rssOf(server.pid);
  const line = (label: string, figures: ProbeFigures) =>
    console.log(
      `${label.padEnd(26)} ask p50 ${ms(percentile(figures.ask, 50)).padStart(9)} p95 ` +
        `${ms(percentile(figures.ask, 95)).padStart(9)}   /healthz p50 ` +
        `${ms(percentile(figures.healthz, 50)).padStart(8)} p95 ${ms(percentile(figures.healthz, 95)).padStart(8)}` +
        `   rounds ${String(figures.ask.length).padStart(4)}   errors ${figures.errors}   RSS peak ${mb(figures.rssPeak)}`,
    );
  line("idle", idle);
  const all: ProbeFigures = { ask: [], healthz: [], errors: 0, rssPeak: 0 };
  for (const file of hostileFiles()) {
    const started = Date.now();
    const { job, figures } = await ingestWhileProbing(server, tenants, file);
    line(`${file.name} (${Math.round(file.bytes.length / 1024)} KB)`, figures);
    console.log(`  ${job.state} in ${((Date.now() - started) / 1000).toFixed(1)} s: ${job.error}`);
    all.ask.push(...figures.ask);
    all.healthz.push(...figures.healthz);
    all.errors += figures.errors;
    all.rssPeak = Math.max(all.rssPeak, figures.rssPeak);
  }
  line("all hostile files", all);
  const goals = [
    [
      "ask p95 within 2× idle",
      percentile(all.ask, 95) <= 2 * percentile(idle.ask, 95),
      `${ms(percentile(all.ask, 95))} vs ${ms(2 * percentile(idle.ask, 95))}`,
    ],
    ["/healthz p95 ≤ 50 ms", percentile(all.healthz, 95) <= 50, ms(percentile(all.healthz, 95))],
    [
      "RSS peak ≤ idle + 512 MB",
      all.rssPeak <= idleRss + 512 * MB,
      `${mb(all.rssPeak)} vs ${mb(idleRss + 512 * MB)}`,
    ],
    ["0 errors", all.errors === 0, String(all.errors)],
  ] as const;
  for (const [goal, met, figure] of goals)
    console.log(`goal ${met ? "met   " : "MISSED"} ${goal}: ${figure}`);
  console.log(`RSS idle ${mb(idleRss)}, after ${mb(rssOf(server.pid))}`);
  console.log(machineLine());
} finally {
  await server.stop();
  await llm.close();
}
