// Observability overhead: what one ask pays for its metrics and spans (tracing off, i.e. the
// API's no-op spans, and tracing on with an in-memory exporter), the request-context log
// mixin, and what one /metrics scrape costs.
//
//   npm run bench:observability -- [--iterations 20000]
import { parseArgs } from "node:util";
import { trace } from "@opentelemetry/api";
import os from "node:os";
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  InMemorySpanExporter,
} from "@opentelemetry/sdk-trace-node";
import { recordAsk, renderMetrics } from "../../app/server/metrics.server.ts";
import {
  requestLogFields,
  runWithRequestContext,
} from "../../app/server/request-context.server.ts";
import {
  endSpan,
  recordRetrievalSpans,
  recordSpan,
  startSpan,
} from "../../app/server/observability/tracing.server.ts";

const { values } = parseArgs({ options: { iterations: { type: "string", default: "20000" } } });
const iterations = Number(values.iterations);

/** The spans and metrics askStream records for one ask. */
function instrumentOneAsk(): void {
  const t0 = performance.now();
  const span = startSpan("ask", { startTime: t0, attributes: { "bitb.tenant_id": "tn_x" } });
  recordSpan("ask.validate", span, t0, t0 + 0.1);
  recordRetrievalSpans(span, t0 + 0.1, {
    embedMs: 1,
    keywordMs: 0.2,
    vectorMs: 0.3,
    totalMs: 2,
    keywordHits: 5,
    vectorHits: 6,
  });
  recordSpan("ask.prompt", span, t0 + 2.1, t0 + 2.2);
  const llm = startSpan("ask.llm", { parent: span, startTime: t0 + 2.2 });
  endSpan(llm, undefined, t0 + 3);
  const stream = startSpan("ask.stream", { parent: span, startTime: t0 + 3 });
  stream.setAttributes({ "bitb.provider": "groq", "bitb.prompt_tokens": 10 });
  endSpan(stream, undefined, t0 + 4);
  recordAsk({
    embedMs: 1,
    retrievalMs: 2,
    firstTokenMs: 3,
    totalMs: 4,
    abstained: false,
    degradedReason: null,
    provider: "groq",
    promptTokens: 10,
    completionTokens: 20,
  });
  endSpan(span);
}

function perCallMicros(fn: () => void, n: number): number {
  for (let i = 0; i < Math.min(n, 1000); i++) fn();
  const started = performance.now();
  for (let i = 0; i < n; i++) fn();
  return ((performance.now() - started) * 1000) / n;
}

console.log(
  `observability overhead (${iterations} iterations each; load average ${os.loadavg()[0]?.toFixed(1)} on ${os.cpus().length} CPUs)`,
);
console.log(
  `  one ask's spans + metrics, tracing off:  ${perCallMicros(instrumentOneAsk, iterations).toFixed(2)} µs`,
);

const exporter = new InMemorySpanExporter();
// As in production (tracing.server.ts): a batch processor; the exporter keeps nothing.
const provider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(exporter)] });
trace.setGlobalTracerProvider(provider);
const on = perCallMicros(() => {
  instrumentOneAsk();
  exporter.reset();
}, iterations);
console.log(`  one ask's spans + metrics, tracing on:   ${on.toFixed(2)} µs (batch processor)`);
await provider.shutdown();
trace.disable();

const mixin = perCallMicros(
  () => runWithRequestContext({ requestId: "r", tenantId: "t" }, requestLogFields),
  iterations,
);
console.log(`  request context + log mixin:             ${mixin.toFixed(2)} µs`);

const scrapes = 200;
const scrapeStarted = performance.now();
let bytes = 0;
for (let i = 0; i < scrapes; i++) bytes = (await renderMetrics()).body.length;
console.log(
  `  one /metrics render:                     ${((performance.now() - scrapeStarted) / scrapes).toFixed(2)} ms (${bytes} bytes)`,
);
