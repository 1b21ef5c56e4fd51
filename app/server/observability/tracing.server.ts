// OpenTelemetry tracing: spans for each ask and each ingestion job. Code everywhere uses
// only @opentelemetry/api; with no SDK registered (OTEL_EXPORTER_OTLP_ENDPOINT unset) every
// span is the API's no-op span and costs next to nothing. startTracing() registers the SDK
// (loaded on demand) with an OTLP/HTTP exporter when the endpoint is set.
import { SpanStatusCode, context, trace, type Attributes, type Span } from "@opentelemetry/api";
import type { Config } from "../config.server.ts";
import type { Logger } from "../logger.server.ts";

/** Looked up on each use: a provider registered later (startTracing, tests) takes effect. */
export function tracer() {
  return trace.getTracer("bitb");
}

let active: { shutdown(): Promise<void> } | null = null;

/** Registers the tracing SDK when OTEL_EXPORTER_OTLP_ENDPOINT is set; idempotent. */
export async function startTracing(
  config: Pick<Config, "OTEL_EXPORTER_OTLP_ENDPOINT" | "OTEL_SERVICE_NAME">,
  logger: Logger,
): Promise<void> {
  const endpoint = config.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (!endpoint || active) return;
  const [
    { NodeTracerProvider, BatchSpanProcessor },
    { OTLPTraceExporter },
    { resourceFromAttributes },
  ] = await Promise.all([
    import("@opentelemetry/sdk-trace-node"),
    import("@opentelemetry/exporter-trace-otlp-http"),
    import("@opentelemetry/resources"),
  ]);
  const url = `${endpoint.replace(/\/+$/, "")}/v1/traces`;
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ "service.name": config.OTEL_SERVICE_NAME }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url }))],
  });
  provider.register();
  active = provider;
  logger.info({ url }, "tracing: exporting spans over OTLP/HTTP");
}

/** Flushes and stops the exporter (at shutdown). */
export async function stopTracing(): Promise<void> {
  const provider = active;
  active = null;
  await provider?.shutdown();
}

/**
 * Times in this module are performance.now() values, turned into epoch milliseconds with one
 * fixed origin. (Given raw performance times, the SDK would re-anchor each span on Date.now(),
 * whose millisecond steps can put a child up to 1 ms outside its parent.)
 */
function epochMs(performanceTime: number = performance.now()): number {
  return performance.timeOrigin + performanceTime;
}

/** Starts a span, as a child of `parent` when given (else of the active context). */
export function startSpan(
  name: string,
  options: { parent?: Span; startTime?: number; attributes?: Attributes; root?: boolean } = {},
): Span {
  const parentContext = options.parent
    ? trace.setSpan(context.active(), options.parent)
    : context.active();
  return tracer().startSpan(
    name,
    { startTime: epochMs(options.startTime), attributes: options.attributes, root: options.root },
    parentContext,
  );
}

/** Ends a span, marking it failed when `error` is given. */
export function endSpan(span: Span, error?: unknown, endTime?: number): void {
  if (error !== undefined && error !== null) {
    span.recordException(error instanceof Error ? error : String(error));
    span.setStatus({
      code: SpanStatusCode.ERROR,
      message: error instanceof Error ? error.message : String(error),
    });
  }
  span.end(epochMs(endTime));
}

/** A span covering [start, end] that already happened (times from performance.now()). */
export function recordSpan(
  name: string,
  parent: Span,
  start: number,
  end: number,
  attributes?: Attributes,
): Span {
  const span = startSpan(name, { parent, startTime: start, attributes });
  span.end(epochMs(end));
  return span;
}

/** What retrieval measured (retrieveWithStats's stats). */
export interface RetrievalTimings {
  embedMs: number;
  keywordMs: number;
  vectorMs: number;
  totalMs: number;
  keywordHits: number;
  vectorHits: number;
}

/**
 * The retrieval of an ask as a span with embed / keyword / vector / fuse children, laid out
 * from the stage timings retrieval measured, in the order it runs them (the query embedding,
 * the BM25 stage, the KNN stage, then fusion and loading the winners: the rest of the time).
 * Durations are exact; start offsets ignore the microseconds between stages.
 */
export function recordRetrievalSpans(
  parent: Span,
  startedAt: number,
  stats: RetrievalTimings,
  attributes?: Attributes,
): void {
  if (!parent.isRecording()) return;
  const end = startedAt + stats.totalMs;
  const span = startSpan("ask.retrieve", { parent, startTime: startedAt, attributes });
  let at = startedAt;
  const stage = (name: string, ms: number, extra?: Attributes) => {
    const stop = Math.min(end, at + ms);
    recordSpan(name, span, at, stop, extra);
    at = stop;
  };
  stage("retrieve.embed", stats.embedMs);
  stage("retrieve.keyword", stats.keywordMs, { "bitb.hits": stats.keywordHits });
  stage("retrieve.vector", stats.vectorMs, { "bitb.hits": stats.vectorHits });
  stage("retrieve.fuse", Math.max(0, end - at));
  span.end(epochMs(end));
}

/**
 * A job traced as a root span with one child per stage, in the order the stages are entered
 * (a stage entered again, e.g. progress within "embed", continues its span).
 */
export function traceStages(name: string, attributes: Attributes) {
  const root = startSpan(name, { root: true, attributes });
  let current: { name: string; span: Span } | null = null;
  return {
    stage(stage: string): void {
      if (current?.name === stage) return;
      if (current) endSpan(current.span);
      current = {
        name: stage,
        span: startSpan(`${name.split(".")[0]}.${stage}`, { parent: root }),
      };
    },
    end(error?: unknown, extra?: Attributes): void {
      if (current) endSpan(current.span, error);
      current = null;
      if (extra) root.setAttributes(extra);
      endSpan(root, error);
    },
  };
}
