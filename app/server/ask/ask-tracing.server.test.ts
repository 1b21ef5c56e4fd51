// The span tree of one ask, caught by the in-memory exporter: the promise of the tracing
// work is that an operator sees each stage of an ask as its own span, in the right place.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { SpanKind, trace } from "@opentelemetry/api";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from "@opentelemetry/sdk-trace-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newTenantId } from "#tenants/id.ts";
import { replaceDocument } from "#tenants/knowledge-base.ts";
import { TenantPool } from "#tenants/store.ts";
import { FakeEmbedder } from "../../../tests/support/fake-embedder.ts";
import { startFakeLlm, type FakeLlm } from "../../../tests/support/fake-llm.ts";
import { parseConfig } from "../config.server.ts";
import type { TenantRecord } from "../control-db.server.ts";
import { createOpenAICompatibleAnswerer } from "../llm/openai-compatible.server.ts";
import { silentLogger } from "../logger.server.ts";
import { createAnswerCache } from "./answer-cache.server.ts";
import { askStream } from "./ask.server.ts";
import { createRetrievalCache } from "./retrieval-cache.server.ts";

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const embedder = new FakeEmbedder({ dimension: 16 });
let llm: FakeLlm;
let dir: string;
let pool: TenantPool;
let tenant: TenantRecord;

beforeAll(async () => {
  trace.setGlobalTracerProvider(provider);
  llm = await startFakeLlm();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-trace-"));
  pool = new TenantPool(dir, { model: embedder.model, dimension: embedder.dimension }, 2);
  const id = newTenantId();
  const text = "The harbour ferry to Kestrel Island leaves every 40 minutes.";
  replaceDocument(pool.create(id), {
    sourceKey: "text:ferry",
    sourceType: "text",
    title: "Ferry",
    contentHash: "h",
    bytes: text.length,
    chunks: [
      { ord: 0, headingPath: "Ferry", text, tokenCount: 12, embedding: embedder.vector(text) },
    ],
  });
  tenant = {
    id,
    name: "T",
    plan: "trial",
    status: "active",
    llmModel: null,
    maskTranscripts: false,
    createdAt: 0,
  };
});

afterAll(async () => {
  trace.disable();
  await provider.shutdown();
  await llm.close();
  pool.closeAll();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("ask tracing", () => {
  it("records one ask as validate, retrieve (embed, keyword, vector, fuse), prompt, llm, stream", async () => {
    const runtime = {
      tenants: pool,
      embedder,
      answerer: createOpenAICompatibleAnswerer({
        baseUrl: `${llm.url}/v1`,
        model: "m",
        maxTokens: 50,
        timeoutMs: 5000,
      }),
      config: parseConfig({ DATA_DIR: dir, LOG_LEVEL: "silent" }),
      logger: silentLogger,
      retrievalCache: createRetrievalCache(parseConfig({ DATA_DIR: dir })),
      answerCache: createAnswerCache(parseConfig({ DATA_DIR: dir })),
    };
    const receivedAt = performance.now();
    for await (const event of askStream(runtime, {
      tenant,
      query: "How often does the ferry to Kestrel Island leave?",
      receivedAt,
    })) {
      expect(event.event).not.toBe("error");
    }

    const spans = exporter.getFinishedSpans();
    const byName = new Map(spans.map((span) => [span.name, span]));
    const root = byName.get("ask") as ReadableSpan;
    expect(root).toBeDefined();
    expect(root.attributes["bitb.tenant_id"]).toBe(tenant.id);
    expect(root.attributes["bitb.abstained"]).toBe(false);
    const parentOf = (name: string) => byName.get(name)?.parentSpanContext?.spanId;
    const childrenOf = (span: ReadableSpan, kind = SpanKind.INTERNAL) =>
      spans
        .filter((s) => s.parentSpanContext?.spanId === span.spanContext().spanId)
        .filter((s) => s.kind === kind)
        .sort((a, b) => hr(a.startTime) - hr(b.startTime))
        .map((s) => s.name);

    expect(childrenOf(root)).toEqual([
      "ask.validate",
      "ask.retrieve",
      "ask.prompt",
      "ask.llm",
      "ask.stream",
    ]);
    const retrieve = byName.get("ask.retrieve") as ReadableSpan;
    expect(childrenOf(retrieve)).toEqual([
      "retrieve.embed",
      "retrieve.keyword",
      "retrieve.vector",
      "retrieve.fuse",
    ]);
    expect(parentOf("ask")).toBeUndefined();
    // The LLM call itself: a CLIENT span under the ask, with the GenAI attributes.
    expect(childrenOf(root, SpanKind.CLIENT)).toEqual(["chat m"]);
    // One trace, and every child inside its parent's time.
    expect(new Set(spans.map((s) => s.spanContext().traceId)).size).toBe(1);
    for (const span of spans) {
      const parent = spans.find((s) => s.spanContext().spanId === span.parentSpanContext?.spanId);
      if (!parent) continue;
      expect(hr(span.startTime)).toBeGreaterThanOrEqual(hr(parent.startTime) - 1e-3);
      expect(hr(span.endTime)).toBeLessThanOrEqual(hr(parent.endTime) + 1e-3);
    }
    expect(byName.get("ask.llm")?.attributes["bitb.provider"]).toBe("openai");
    expect(byName.get("retrieve.keyword")?.attributes["bitb.hits"]).toBe(1);
  });
});

/** HrTime as milliseconds. */
function hr([seconds, nanos]: [number, number]): number {
  return seconds * 1000 + nanos / 1e6;
}
