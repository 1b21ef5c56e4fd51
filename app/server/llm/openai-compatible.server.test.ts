// Drives the real `openai` and `groq-sdk` clients against a local fake server speaking their
// streaming protocol; nothing is mocked.
import { context, propagation, SpanKind, trace } from "@opentelemetry/api";
import {
  InMemorySpanExporter,
  NodeTracerProvider,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-node";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startFakeLlm, type FakeLlm } from "../../../tests/support/fake-llm.ts";
import { createGroqAnswerer } from "./groq.server.ts";
import { createAnswerer } from "./index.server.ts";
import { AnswerProviderError, createOpenAICompatibleAnswerer } from "./openai-compatible.server.ts";
import { NO_ANSWER } from "./prompt.server.ts";
import type { AnswerChunk, AnswerProvider, AnswerRequest } from "./provider.server.ts";

let fake: FakeLlm;

beforeAll(async () => {
  fake = await startFakeLlm();
});

afterAll(async () => {
  await fake.close();
});

beforeEach(() => {
  fake.requests.length = 0;
  fake.setBehaviour({
    reply: "Refunds are paid within 14 days [1].",
    tokenDelayMs: 0,
    failStatus: null,
    failCount: Infinity,
    usage: { prompt_tokens: 321, completion_tokens: 9 },
    hangAfterChunks: null,
  });
});

const request = (extra: Partial<AnswerRequest> = {}): AnswerRequest => ({
  question: "How long do refunds take?",
  history: [{ role: "user", content: "Hi there" }],
  sources: [
    {
      n: 1,
      title: "Refund policy",
      headingPath: "Returns",
      text: "Refunds are paid within 14 days.",
      score: 0.03,
    },
  ],
  ...extra,
});

async function collect(stream: AsyncIterable<AnswerChunk>) {
  const tokens: string[] = [];
  let usage: Extract<AnswerChunk, { type: "usage" }>["usage"] | null = null;
  for await (const chunk of stream) {
    if (chunk.type === "token") tokens.push(chunk.text);
    else if (chunk.type === "usage") usage = chunk.usage;
  }
  return { text: tokens.join(""), tokens, usage };
}

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
}

const providers: Array<{
  name: string;
  path: string;
  make: (timeoutMs?: number) => AnswerProvider;
}> = [
  {
    name: "openai",
    path: "/v1/chat/completions",
    make: (timeoutMs = 5_000) =>
      createOpenAICompatibleAnswerer({
        baseUrl: `${fake.url}/v1`,
        apiKey: "sk-test-secret",
        model: "llama3.1:8b",
        maxTokens: 123,
        timeoutMs,
      }),
  },
  {
    name: "groq",
    path: "/openai/v1/chat/completions",
    make: (timeoutMs = 5_000) =>
      createGroqAnswerer({
        apiKey: "gsk-test-secret",
        baseUrl: fake.url,
        model: "llama-3.3-70b-versatile",
        maxTokens: 123,
        timeoutMs,
      }),
  },
];

describe.each(providers)("$name answerer", ({ name, path, make }) => {
  it("streams the answer token by token and reports the provider's usage", async () => {
    const answerer = make();
    expect(answerer.name).toBe(name);
    const { text, tokens, usage } = await collect(answerer.stream(request()));
    expect(text).toBe("Refunds are paid within 14 days [1].");
    expect(tokens.length).toBeGreaterThan(1);
    expect(usage).toEqual({ promptTokens: 321, completionTokens: 9, estimated: false });
  });

  it("is traced as a CLIENT span with gen_ai attributes, its traceparent sent upstream", async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new NodeTracerProvider({
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    provider.register();
    try {
      const parent = trace.getTracer("test").startSpan("ask");
      await context.with(trace.setSpan(context.active(), parent), () =>
        collect(make().stream(request())),
      );
      parent.end();
      const call = exporter.getFinishedSpans().find((s) => s.kind === SpanKind.CLIENT);
      const model = name === "openai" ? "llama3.1:8b" : "llama-3.3-70b-versatile";
      expect(call?.name).toBe(`chat ${model}`);
      expect(call?.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
      expect(call?.attributes).toMatchObject({
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": name,
        "gen_ai.request.model": model,
        "gen_ai.usage.input_tokens": 321,
        "gen_ai.usage.output_tokens": 9,
      });
      const { traceId, spanId } = call!.spanContext();
      expect(fake.requests[0]?.headers.traceparent).toBe(`00-${traceId}-${spanId}-01`);
    } finally {
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    }
  });

  it("sends the grounded prompt, history and question to the configured model", async () => {
    const answerer = make();
    await collect(answerer.stream(request()));
    expect(fake.requests).toHaveLength(1);
    const sent = fake.requests[0]!;
    expect(sent.path).toBe(path);
    expect(sent.headers.authorization).toMatch(/^Bearer (sk|gsk)-test-secret$/);
    const body = sent.body as {
      model: string;
      stream: boolean;
      messages: { role: string; content: string }[];
    };
    expect(body.model).toBe(answerer.model);
    expect(body.stream).toBe(true);
    expect(body.messages.map((m) => m.role)).toEqual(["system", "user", "user"]);
    expect(body.messages[0]!.content).toContain(
      "[1] Refund policy — Returns\nRefunds are paid within 14 days.",
    );
    expect(body.messages[0]!.content).toContain(NO_ANSWER);
    expect(body.messages[1]!.content).toBe("Hi there");
    expect(body.messages[2]!.content).toBe("How long do refunds take?");
  });

  it("estimates usage when the server reports none", async () => {
    fake.setBehaviour({ usage: null });
    const { text, usage } = await collect(make().stream(request()));
    expect(usage?.estimated).toBe(true);
    expect(usage?.completionTokens).toBe(Math.ceil(text.length / 4));
    expect(usage?.promptTokens).toBeGreaterThan(20);
  });

  it("turns an HTTP 500 into an AnswerProviderError without retrying or leaking the key", async () => {
    fake.setBehaviour({ failStatus: 500 });
    const error = await collect(make().stream(request())).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AnswerProviderError);
    expect(error).toMatchObject({ provider: name, kind: "http", status: 500 });
    expect((error as Error).message).toMatch(/HTTP 500/);
    expect((error as Error).message).not.toMatch(/test-secret/);
    expect(fake.requests).toHaveLength(1);
  });

  it("aborts the upstream request when the ask is aborted mid-answer", async () => {
    fake.setBehaviour({ hangAfterChunks: 2 });
    const abortedBefore = fake.aborted;
    const controller = new AbortController();
    const tokens: string[] = [];
    const error = await (async () => {
      for await (const chunk of make().stream(request({ signal: controller.signal }))) {
        if (chunk.type === "token") tokens.push(chunk.text);
        if (tokens.length === 2) controller.abort();
      }
    })().catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: "aborted" });
    expect(tokens).toHaveLength(2);
    await waitFor(() => fake.aborted > abortedBefore);
    expect(fake.aborted).toBe(abortedBefore + 1);
  });

  it("gives up when the whole answer takes longer than the timeout", async () => {
    fake.setBehaviour({ hangAfterChunks: 1 });
    const error = await collect(make(300).stream(request())).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AnswerProviderError);
    expect(error).toMatchObject({ kind: "timeout" });
    expect((error as Error).message).toMatch(/300 ms/);
  });

  it("reports an unreachable server as a connection error", async () => {
    const closed = await startFakeLlm();
    const url = closed.url;
    await closed.close();
    const answerer =
      name === "openai"
        ? createOpenAICompatibleAnswerer({
            baseUrl: `${url}/v1`,
            model: "m",
            maxTokens: 10,
            timeoutMs: 5_000,
          })
        : createGroqAnswerer({
            apiKey: "k",
            baseUrl: url,
            model: "m",
            maxTokens: 10,
            timeoutMs: 5_000,
          });
    const error = await collect(answerer.stream(request())).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: "connection", status: null });
  });
});

describe("openai answerer without a key", () => {
  it("sends no Authorization header (local servers need none)", async () => {
    const answerer = createOpenAICompatibleAnswerer({
      baseUrl: `${fake.url}/v1`,
      model: "m",
      maxTokens: 10,
      timeoutMs: 5_000,
    });
    await collect(answerer.stream(request()));
    expect(fake.requests[0]?.headers.authorization).toBeUndefined();
    expect(fake.requests[0]?.body).toMatchObject({
      max_tokens: 10,
      stream_options: { include_usage: true },
    });
  });
});

describe("createAnswerer", () => {
  const opts = { maxTokens: 50, timeoutMs: 5_000 };

  it("builds each configured provider", async () => {
    expect(createAnswerer({ kind: "extractive" }, opts)).toMatchObject({
      name: "extractive",
      model: "extractive-v1",
    });
    const groq = createAnswerer({ kind: "groq", apiKey: "k", baseUrl: fake.url, model: "g" }, opts);
    expect(groq).toMatchObject({ name: "groq", model: "g" });
    const openai = createAnswerer({ kind: "openai", baseUrl: `${fake.url}/v1`, model: "o" }, opts);
    expect(openai).toMatchObject({ name: "openai", model: "o" });
    await collect(groq.stream(request()));
    expect(fake.requests[0]?.body).toMatchObject({ model: "g", max_completion_tokens: 50 });
  });
});
