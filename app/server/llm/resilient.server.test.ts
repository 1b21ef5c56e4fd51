// Drives the resilient wrapper around the REAL `openai` and `groq-sdk` clients against the
// local fake server (tests/support/fake-llm.ts): nothing is mocked, timings are in ms.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startFakeLlm, type FakeLlm } from "../../../tests/support/fake-llm.ts";
import { createExtractiveAnswerer } from "./extractive.server.ts";
import { createGroqAnswerer } from "./groq.server.ts";
import { createAnswerer } from "./index.server.ts";
import {
  AnswerProviderError,
  createOpenAICompatibleAnswerer,
  retryAfterFromHeaders,
} from "./openai-compatible.server.ts";
import type {
  AnswerChunk,
  AnswerProvider,
  AnswerRequest,
  DegradeReason,
} from "./provider.server.ts";
import {
  createResilientAnswerer,
  policyFromConfig,
  samplingBreakerOptions,
  type ResilienceLogger,
  type ResiliencePolicy,
  type ResilientAnswerer,
} from "./resilient.server.ts";
import { metrics } from "../metrics.server.ts";

let fake: FakeLlm;

beforeAll(async () => {
  fake = await startFakeLlm();
});

afterAll(async () => {
  await fake.close();
});

const REPLY = "Refunds are paid within 14 days [1].";

beforeEach(() => {
  fake.requests.length = 0;
  fake.setBehaviour({
    reply: REPLY,
    tokenDelayMs: 0,
    failStatus: null,
    failCount: Infinity,
    usage: { prompt_tokens: 321, completion_tokens: 9 },
    hangAfterChunks: null,
    firstTokenDelayMs: 0,
    retryAfter: null,
    malformedAfterChunks: null,
    cutAfterChunks: null,
  });
  logs.length = 0;
});

const logs: { level: string; obj: object; msg: string }[] = [];
const logger: ResilienceLogger = {
  warn: (obj, msg) => logs.push({ level: "warn", obj, msg }),
  info: (obj, msg) => logs.push({ level: "info", obj, msg }),
  debug: (obj, msg) => logs.push({ level: "debug", obj, msg }),
};

const request = (extra: Partial<AnswerRequest> = {}): AnswerRequest => ({
  question: "How long do refunds take?",
  history: [],
  sources: [
    {
      n: 1,
      title: "Refund policy",
      headingPath: "Returns",
      text: "Refunds are paid within 14 days of the return.",
      score: 0.03,
    },
  ],
  ...extra,
});

const POLICY: ResiliencePolicy = {
  firstTokenTimeoutMs: 1_000,
  totalTimeoutMs: 5_000,
  maxRetries: 2,
  retryBaseMs: 5,
  breaker: { threshold: 0.5, windowMs: 5_000, minCalls: 3, halfOpenAfterMs: 300 },
  maxConcurrent: 3,
  queueSize: 5,
};

type Overrides = Partial<Omit<ResiliencePolicy, "breaker">> & {
  breaker?: Partial<ResiliencePolicy["breaker"]>;
};

function openai(totalTimeoutMs: number): AnswerProvider {
  return createOpenAICompatibleAnswerer({
    baseUrl: `${fake.url}/v1`,
    apiKey: "sk-test-secret",
    model: "llama3.1:8b",
    maxTokens: 100,
    timeoutMs: totalTimeoutMs,
  });
}

function groq(totalTimeoutMs: number): AnswerProvider {
  return createGroqAnswerer({
    apiKey: "gsk-test-secret",
    baseUrl: fake.url,
    model: "llama-3.3-70b-versatile",
    maxTokens: 100,
    timeoutMs: totalTimeoutMs,
  });
}

function make(
  overrides: Overrides = {},
  primary: (totalTimeoutMs: number) => AnswerProvider = openai,
): ResilientAnswerer {
  const policy = {
    ...POLICY,
    ...overrides,
    breaker: { ...POLICY.breaker, ...overrides.breaker },
  };
  return createResilientAnswerer({
    primary: primary(policy.totalTimeoutMs),
    fallback: createExtractiveAnswerer(),
    policy,
    logger,
  });
}

interface Collected {
  text: string;
  tokens: string[];
  chunks: AnswerChunk[];
  degraded: Extract<AnswerChunk, { type: "degraded" }> | null;
  usage: Extract<AnswerChunk, { type: "usage" }>["usage"] | null;
}

async function collect(stream: AsyncIterable<AnswerChunk>): Promise<Collected> {
  const chunks: AnswerChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return summarise(chunks);
}

function summarise(chunks: AnswerChunk[]): Collected {
  const tokens = chunks.flatMap((c) => (c.type === "token" ? [c.text] : []));
  return {
    text: tokens.join(""),
    tokens,
    chunks,
    degraded: chunks.find((c) => c.type === "degraded") ?? null,
    usage: chunks.flatMap((c) => (c.type === "usage" ? [c.usage] : []))[0] ?? null,
  };
}

/** Reads a stream, keeping what arrived before it failed. */
async function collectUntilError(stream: AsyncIterable<AnswerChunk>) {
  const chunks: AnswerChunk[] = [];
  let error: unknown = null;
  try {
    for await (const chunk of stream) chunks.push(chunk);
  } catch (e) {
    error = e;
  }
  return { ...summarise(chunks), error };
}

async function degradedBy(answerer: AnswerProvider, reason: DegradeReason, extra = {}) {
  const result = await collect(answerer.stream(request(extra)));
  expect(result.degraded).toEqual({
    type: "degraded",
    reason,
    provider: "extractive",
    model: "extractive-v1",
  });
  // The fallback's own answer follows: the visitor never gets a blank failure.
  expect(result.chunks[0]).toBe(result.degraded);
  expect(result.text).toContain("14 days");
  expect(result.usage?.estimated).toBe(true);
  return result;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 300 && !condition(); i++) await sleep(10);
}

describe.each([
  { name: "openai", primary: openai },
  { name: "groq", primary: groq },
])("resilient $name answerer", ({ name, primary }) => {
  it("passes a normal stream through with the provider's usage", async () => {
    const answerer = make({}, primary);
    expect(answerer).toMatchObject({ name, model: primary(1).model });
    const result = await collect(answerer.stream(request()));
    expect(result.degraded).toBeNull();
    expect(result.text).toBe(REPLY);
    expect(result.tokens.length).toBeGreaterThan(1);
    expect(result.usage).toEqual({ promptTokens: 321, completionTokens: 9, estimated: false });
    expect(fake.requests).toHaveLength(1);
    await waitFor(() => answerer.health().inFlight === 0);
    expect(answerer.health()).toEqual({
      provider: name,
      model: answerer.model,
      breaker: "closed",
      recentFailureRate: 0,
      recentCalls: 1,
      inFlight: 0,
      queued: 0,
    });
  });

  it("sends the tenant's model override to the server", async () => {
    const answerer = make({}, primary);
    await collect(answerer.stream(request({ model: "tenant-model-x" })));
    await collect(answerer.stream(request()));
    expect((fake.requests[0]?.body as { model: string }).model).toBe("tenant-model-x");
    expect((fake.requests[1]?.body as { model: string }).model).toBe(answerer.model);
  });
});

describe("retries, breaker and fallback", () => {
  it("retries a storm of 503s, degrades, opens the breaker, then closes it after a good probe", async () => {
    fake.setBehaviour({ failStatus: 503 });
    const answerer = make();
    for (let ask = 1; ask <= 3; ask++) {
      await degradedBy(answerer, "retries_exhausted");
      // One first attempt and maxRetries (2) retries per ask.
      expect(fake.requests).toHaveLength(3 * ask);
    }
    expect(answerer.health()).toMatchObject({
      breaker: "open",
      recentFailureRate: 1,
      recentCalls: 3,
    });
    const warned = logs.filter((l) => l.level === "warn");
    expect(
      warned.find((l) => l.msg === "LLM circuit breaker opened: answering from the fallback")?.obj,
    ).toMatchObject({ provider: "openai", failureRate: 1, halfOpenAfterMs: 300 });
    expect(warned.find((l) => l.msg === "LLM answer degraded")?.obj).toMatchObject({
      reason: "retries_exhausted",
      kind: "http",
      status: 503,
    });
    expect(JSON.stringify(logs)).not.toMatch(/test-secret/);
    expect(await breakerGauge("openai")).toEqual({ closed: 0, open: 1, half_open: 0 });

    // Open: later asks degrade at once, without reaching the server.
    const started = performance.now();
    await degradedBy(answerer, "breaker_open");
    expect(performance.now() - started).toBeLessThan(200);
    expect(fake.requests).toHaveLength(9);

    // The server recovers; after halfOpenAfterMs one probe goes through.
    fake.setBehaviour({ failStatus: null, tokenDelayMs: 20 });
    await sleep(320);
    expect(answerer.health().breaker).toBe("half-open");
    const probe = answerer.stream(request())[Symbol.asyncIterator]();
    const firstChunk = await probe.next();
    expect(firstChunk.value).toMatchObject({ type: "token" });
    // While the probe runs, other asks do not wait for it.
    await degradedBy(answerer, "breaker_open");
    expect(answerer.health().breaker).toBe("half-open");
    const rest: AnswerChunk[] = [firstChunk.value as AnswerChunk];
    for (let next = await probe.next(); !next.done; next = await probe.next())
      rest.push(next.value);
    expect(summarise(rest).text).toBe(REPLY);
    expect(fake.requests).toHaveLength(10);
    expect(answerer.health().breaker).toBe("closed");
    expect(await breakerGauge("openai")).toEqual({ closed: 1, open: 0, half_open: 0 });

    fake.setBehaviour({ tokenDelayMs: 0 });
    const after = await collect(answerer.stream(request()));
    expect(after.degraded).toBeNull();
    expect(fake.requests).toHaveLength(11);
  });

  it("reopens the breaker when the half-open probe fails", async () => {
    fake.setBehaviour({ failStatus: 500 });
    const answerer = make({ maxRetries: 0, breaker: { minCalls: 2, halfOpenAfterMs: 100 } });
    await degradedBy(answerer, "retries_exhausted");
    await degradedBy(answerer, "retries_exhausted");
    expect(answerer.health().breaker).toBe("open");
    await sleep(120);
    await degradedBy(answerer, "retries_exhausted");
    expect(fake.requests).toHaveLength(3);
    expect(answerer.health().breaker).toBe("open");
    await degradedBy(answerer, "breaker_open");
    expect(fake.requests).toHaveLength(3);
  });

  it("does not open the breaker below minCalls or below the threshold", async () => {
    const answerer = make({ maxRetries: 0, breaker: { minCalls: 4, threshold: 0.6 } });
    fake.setBehaviour({ failStatus: 500 });
    await degradedBy(answerer, "retries_exhausted");
    await degradedBy(answerer, "retries_exhausted");
    fake.setBehaviour({ failStatus: null });
    await collect(answerer.stream(request()));
    await collect(answerer.stream(request()));
    // 2 of 4 failed: 50 % < 60 %.
    expect(answerer.health()).toMatchObject({
      breaker: "closed",
      recentCalls: 4,
      recentFailureRate: 0.5,
    });
  });

  it("degrades with first_token_timeout when the first token is too slow, aborting upstream", async () => {
    fake.setBehaviour({ firstTokenDelayMs: 400 });
    const abortedBefore = fake.aborted;
    const answerer = make({ firstTokenTimeoutMs: 80, maxRetries: 1 });
    const started = performance.now();
    await degradedBy(answerer, "first_token_timeout");
    expect(performance.now() - started).toBeLessThan(380);
    // First-token timeouts are retried (a fresh connection often helps).
    expect(fake.requests).toHaveLength(2);
    await waitFor(() => fake.aborted === abortedBefore + 2);
    expect(fake.aborted).toBe(abortedBefore + 2);
  });

  it("propagates a stream cut mid-answer as an error, without retry or fallback", async () => {
    fake.setBehaviour({ cutAfterChunks: 2 });
    const answerer = make();
    const result = await collectUntilError(answerer.stream(request()));
    expect(result.tokens).toHaveLength(2);
    expect(result.degraded).toBeNull();
    expect(result.error).toBeInstanceOf(AnswerProviderError);
    expect(result.error).toMatchObject({ kind: "connection" });
    expect(fake.requests).toHaveLength(1);
    // A failure mid-stream counts for the breaker.
    expect(answerer.health()).toMatchObject({ recentCalls: 1, recentFailureRate: 1, inFlight: 0 });
    expect(logs.some((l) => l.msg === "LLM stream failed after its first token")).toBe(true);
  });

  it("retries a connection closed before the first token", async () => {
    fake.setBehaviour({ cutAfterChunks: 0 });
    await degradedBy(make(), "retries_exhausted");
    expect(fake.requests).toHaveLength(3);
  });

  it("honours a 429's Retry-After, then answers", async () => {
    fake.setBehaviour({ failStatus: 429, failCount: 1, retryAfter: "1" });
    const answerer = make({ retryBaseMs: 1 });
    const started = performance.now();
    const result = await collect(answerer.stream(request()));
    const elapsed = performance.now() - started;
    expect(result.degraded).toBeNull();
    expect(result.text).toBe(REPLY);
    expect(fake.requests).toHaveLength(2);
    expect(elapsed).toBeGreaterThanOrEqual(990);
    expect(elapsed).toBeLessThan(2_000);
  });

  it("does not wait for a Retry-After beyond the cap: retries exhausted at once", async () => {
    fake.setBehaviour({ failStatus: 429, retryAfter: "60" });
    const answerer = make();
    const started = performance.now();
    await degradedBy(answerer, "retries_exhausted");
    expect(performance.now() - started).toBeLessThan(500);
    expect(fake.requests).toHaveLength(1);
  });

  it("degrades a non-retryable 401 with upstream_error after one request, key-free logs", async () => {
    fake.setBehaviour({ failStatus: 401 });
    const answerer = make();
    await degradedBy(answerer, "upstream_error");
    expect(fake.requests).toHaveLength(1);
    const warning = logs.find((l) => l.level === "warn" && l.msg === "LLM answer degraded");
    expect(warning?.obj).toMatchObject({ reason: "upstream_error", kind: "http", status: 401 });
    expect(JSON.stringify(logs)).not.toMatch(/test-secret/);
  });

  it("retries a 408 and a 5xx but not a 400", async () => {
    fake.setBehaviour({ failStatus: 408, failCount: 1 });
    expect((await collect(make().stream(request()))).degraded).toBeNull();
    expect(fake.requests).toHaveLength(2);
    fake.requests.length = 0;
    fake.setBehaviour({ failStatus: 400, failCount: 1 });
    await degradedBy(make(), "upstream_error");
    expect(fake.requests).toHaveLength(1);
  });

  it("degrades a malformed stream before the first token (no retry) and errors after it", async () => {
    // (The SDK itself prints the unparsable chunk to stderr.)
    fake.setBehaviour({ malformedAfterChunks: 0 });
    const answerer = make();
    await degradedBy(answerer, "upstream_error");
    expect(fake.requests).toHaveLength(1);
    fake.setBehaviour({ malformedAfterChunks: 2 });
    const result = await collectUntilError(answerer.stream(request()));
    expect(result.tokens).toHaveLength(2);
    expect(result.degraded).toBeNull();
    expect(result.error).toMatchObject({ kind: "protocol", retryable: false });
    expect(fake.requests).toHaveLength(2);
  });

  it("degrades with retries_exhausted when the server is unreachable", async () => {
    const gone = await startFakeLlm();
    const url = gone.url;
    await gone.close();
    const answerer = createResilientAnswerer({
      primary: createOpenAICompatibleAnswerer({
        baseUrl: `${url}/v1`,
        model: "m",
        maxTokens: 10,
        timeoutMs: 2_000,
      }),
      fallback: createExtractiveAnswerer(),
      policy: { ...POLICY, maxRetries: 1 },
      logger,
    });
    await degradedBy(answerer, "retries_exhausted");
    expect(logs.find((l) => l.msg === "LLM answer degraded")?.obj).toMatchObject({
      kind: "connection",
    });
  });

  it("aborts the whole answer at the total timeout, as an error once tokens were sent", async () => {
    fake.setBehaviour({ tokenDelayMs: 60 });
    const abortedBefore = fake.aborted;
    const answerer = make({ totalTimeoutMs: 200 });
    const result = await collectUntilError(answerer.stream(request()));
    expect(result.tokens.length).toBeGreaterThan(0);
    expect(result.degraded).toBeNull();
    expect(result.error).toMatchObject({ kind: "timeout" });
    expect((result.error as Error).message).toMatch(/200 ms/);
    await waitFor(() => fake.aborted > abortedBefore);
    expect(fake.aborted).toBe(abortedBefore + 1);
    expect(fake.requests).toHaveLength(1);
  });

  it("degrades with first_token_timeout when retries outlast the total timeout", async () => {
    fake.setBehaviour({ failStatus: 503 });
    const answerer = make({ totalTimeoutMs: 100, retryBaseMs: 400, maxRetries: 3 });
    const started = performance.now();
    await degradedBy(answerer, "first_token_timeout");
    expect(performance.now() - started).toBeLessThan(350);
    expect(fake.requests).toHaveLength(1);
  });

  it("treats an answer without tokens as a success", async () => {
    fake.setBehaviour({ reply: "" });
    const answerer = make();
    const result = await collect(answerer.stream(request()));
    expect(result.degraded).toBeNull();
    expect(result.tokens).toEqual([]);
    expect(result.usage).toMatchObject({ estimated: false });
    expect(answerer.health()).toMatchObject({ recentCalls: 1, recentFailureRate: 0 });
  });

  it("degrades an unknown provider failure with upstream_error", async () => {
    const broken: AnswerProvider = {
      name: "custom",
      model: "c1",
      // eslint-disable-next-line require-yield
      async *stream() {
        throw new Error("boom");
      },
    };
    const answerer = createResilientAnswerer({
      primary: broken,
      fallback: createExtractiveAnswerer(),
      policy: POLICY,
      logger,
    });
    await degradedBy(answerer, "upstream_error");
    expect(logs.find((l) => l.msg === "LLM answer degraded")?.obj).toMatchObject({
      provider: "custom",
      error: "boom",
    });
  });
});

describe("aborted asks", () => {
  it("aborts the upstream request mid-answer: no fallback, not a breaker failure", async () => {
    fake.setBehaviour({ hangAfterChunks: 2 });
    const abortedBefore = fake.aborted;
    const answerer = make();
    const controller = new AbortController();
    const tokens: string[] = [];
    const error = await (async () => {
      for await (const chunk of answerer.stream(request({ signal: controller.signal }))) {
        expect(chunk.type).not.toBe("degraded");
        if (chunk.type === "token") tokens.push(chunk.text);
        if (tokens.length === 2) controller.abort();
      }
    })().catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: "aborted" });
    expect(tokens).toHaveLength(2);
    await waitFor(() => fake.aborted > abortedBefore);
    expect(fake.aborted).toBe(abortedBefore + 1);
    await waitFor(() => answerer.health().inFlight === 0);
    expect(answerer.health()).toMatchObject({ recentCalls: 0, inFlight: 0, breaker: "closed" });
  });

  it("aborts before the first token at once, without retry or fallback", async () => {
    fake.setBehaviour({ firstTokenDelayMs: 2_000 });
    const abortedBefore = fake.aborted;
    const answerer = make();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const started = performance.now();
    const result = await collectUntilError(answerer.stream(request({ signal: controller.signal })));
    expect(performance.now() - started).toBeLessThan(500);
    expect(result.error).toMatchObject({ kind: "aborted" });
    expect(result.chunks).toEqual([]);
    await waitFor(() => fake.aborted > abortedBefore);
    expect(fake.requests).toHaveLength(1);
    expect(answerer.health()).toMatchObject({ recentCalls: 0, inFlight: 0 });
  });

  it("refuses an ask whose signal is already aborted", async () => {
    const controller = new AbortController();
    controller.abort();
    const result = await collectUntilError(make().stream(request({ signal: controller.signal })));
    expect(result.error).toMatchObject({ kind: "aborted" });
    expect(fake.requests).toHaveLength(0);
  });

  it("closes the upstream stream when the caller stops reading early", async () => {
    fake.setBehaviour({ tokenDelayMs: 30 });
    const abortedBefore = fake.aborted;
    const answerer = make();
    for await (const chunk of answerer.stream(request())) {
      if (chunk.type === "token") break;
    }
    await waitFor(() => fake.aborted > abortedBefore);
    expect(fake.aborted).toBe(abortedBefore + 1);
    expect(answerer.health()).toMatchObject({ recentCalls: 0, inFlight: 0 });
  });
});

describe("bulkhead", () => {
  it("degrades with queue_full when all slots are busy and the queue is full", async () => {
    fake.setBehaviour({ tokenDelayMs: 30 });
    const answerer = make({ maxConcurrent: 1, queueSize: 0 });
    const first = answerer.stream(request())[Symbol.asyncIterator]();
    expect((await first.next()).value).toMatchObject({ type: "token" });
    expect(answerer.health()).toMatchObject({ inFlight: 1, queued: 0 });
    await degradedBy(answerer, "queue_full");
    expect(fake.requests).toHaveLength(1);
    while (!(await first.next()).done);
    await waitFor(() => answerer.health().inFlight === 0);
    expect(answerer.health().inFlight).toBe(0);
    // The slot is free again.
    expect((await collect(answerer.stream(request()))).degraded).toBeNull();
  });

  it("queues an ask until a slot frees, and lets an aborted queued ask go", async () => {
    fake.setBehaviour({ tokenDelayMs: 20 });
    const answerer = make({ maxConcurrent: 1, queueSize: 2 });
    const first = collect(answerer.stream(request()));
    await waitFor(() => answerer.health().inFlight === 1);
    const controller = new AbortController();
    const abandoned = collectUntilError(answerer.stream(request({ signal: controller.signal })));
    const second = collect(answerer.stream(request()));
    await waitFor(() => answerer.health().queued === 2);
    expect(answerer.health()).toMatchObject({ inFlight: 1, queued: 2 });
    controller.abort();
    expect((await abandoned).error).toMatchObject({ kind: "aborted" });
    const [a, b] = await Promise.all([first, second]);
    expect(a.text).toBe(REPLY);
    expect(b.text).toBe(REPLY);
    expect(b.degraded).toBeNull();
    // The aborted ask never reached the server.
    expect(fake.requests).toHaveLength(2);
    await waitFor(() => answerer.health().inFlight === 0);
    expect(answerer.health()).toMatchObject({ inFlight: 0, queued: 0 });
  });
});

describe("settings", () => {
  it("builds the policy from the LLM_* configuration", () => {
    expect(
      policyFromConfig({
        LLM_TIMEOUT_MS: 60_000,
        LLM_FIRST_TOKEN_TIMEOUT_MS: 10_000,
        LLM_MAX_RETRIES: 3,
        LLM_RETRY_BASE_MS: 250,
        LLM_BREAKER_THRESHOLD: 0.5,
        LLM_BREAKER_WINDOW_MS: 60_000,
        LLM_BREAKER_MIN_CALLS: 5,
        LLM_BREAKER_HALF_OPEN_MS: 30_000,
        LLM_MAX_CONCURRENT: 3,
        LLM_QUEUE_SIZE: 20,
      }),
    ).toEqual({
      firstTokenTimeoutMs: 10_000,
      totalTimeoutMs: 60_000,
      maxRetries: 3,
      retryBaseMs: 250,
      breaker: { threshold: 0.5, windowMs: 60_000, minCalls: 5, halfOpenAfterMs: 30_000 },
      maxConcurrent: 3,
      queueSize: 20,
    });
  });

  it("derives cockatiel's SamplingBreaker options from threshold, window and minCalls", () => {
    const options = samplingBreakerOptions({
      threshold: 0.5,
      windowMs: 60_000,
      minCalls: 5,
      halfOpenAfterMs: 1,
    });
    // cockatiel needs duration × minimumRps / 1000 calls: 4.5, i.e. at least 5.
    expect((options.duration * options.minimumRps) / 1000).toBeCloseTo(4.5);
    expect(options.threshold).toBeLessThan(0.5);
    expect(options.threshold).toBeGreaterThan(0.4999);
    const all = samplingBreakerOptions({
      threshold: 1,
      windowMs: 1000,
      minCalls: 1,
      halfOpenAfterMs: 1,
    });
    expect(all.threshold).toBeLessThan(1);
    expect(all.minimumRps).toBeCloseTo(0.5);
  });

  it("reads Retry-After as seconds, an HTTP date or retry-after-ms", () => {
    const now = Date.parse("2025-01-01T00:00:00Z");
    expect(retryAfterFromHeaders(new Headers({ "retry-after": "2" }), now)).toBe(2_000);
    expect(retryAfterFromHeaders(new Headers({ "retry-after": "0.5" }), now)).toBe(500);
    expect(
      retryAfterFromHeaders(new Headers({ "retry-after": "Wed, 01 Jan 2025 00:00:03 GMT" }), now),
    ).toBe(3_000);
    expect(
      retryAfterFromHeaders(new Headers({ "retry-after": "Tue, 31 Dec 2024 00:00:00 GMT" }), now),
    ).toBe(0);
    expect(
      retryAfterFromHeaders(new Headers({ "retry-after-ms": "1500", "retry-after": "9" }), now),
    ).toBe(1_500);
    expect(retryAfterFromHeaders({ "retry-after": "4" }, now)).toBe(4_000);
    expect(retryAfterFromHeaders(new Headers({ "retry-after": "soon" }), now)).toBeNull();
    expect(retryAfterFromHeaders(new Headers(), now)).toBeNull();
    expect(retryAfterFromHeaders(undefined, now)).toBeNull();
  });

  it("marks which provider errors are retryable", () => {
    const error = (kind: AnswerProviderError["kind"], status: number | null = null) =>
      new AnswerProviderError("x", "openai", kind, status).retryable;
    expect(error("connection")).toBe(true);
    expect(error("timeout")).toBe(true);
    expect(error("http", 408)).toBe(true);
    expect(error("http", 429)).toBe(true);
    expect(error("http", 502)).toBe(true);
    expect(error("http", 400)).toBe(false);
    expect(error("http", 401)).toBe(false);
    expect(error("aborted")).toBe(false);
    expect(error("protocol")).toBe(false);
  });

  it("wraps hosted providers from createAnswerer with the extractive fallback", async () => {
    const extractive = createAnswerer({ kind: "extractive" }, { maxTokens: 10, timeoutMs: 1_000 });
    expect(extractive.health).toBeUndefined();
    const hosted = createAnswerer(
      { kind: "openai", baseUrl: `${fake.url}/v1`, model: "o" },
      {
        maxTokens: 10,
        timeoutMs: 1_000,
        policy: {
          LLM_TIMEOUT_MS: 1_000,
          LLM_FIRST_TOKEN_TIMEOUT_MS: 500,
          LLM_MAX_RETRIES: 0,
          LLM_RETRY_BASE_MS: 1,
          LLM_BREAKER_THRESHOLD: 0.5,
          LLM_BREAKER_WINDOW_MS: 1_000,
          LLM_BREAKER_MIN_CALLS: 5,
          LLM_BREAKER_HALF_OPEN_MS: 1_000,
          LLM_MAX_CONCURRENT: 2,
          LLM_QUEUE_SIZE: 0,
        },
        logger,
      },
    );
    expect(hosted).toMatchObject({ name: "openai", model: "o" });
    fake.setBehaviour({ failStatus: 500 });
    await degradedBy(hosted, "retries_exhausted");
    expect(fake.requests).toHaveLength(1);
    expect(hosted.health?.()).toMatchObject({ provider: "openai", recentCalls: 1, inFlight: 0 });
  });
});

/** The breaker-state gauge of a provider, by state (metrics.server.ts). */
async function breakerGauge(provider: string): Promise<Record<string, number>> {
  const gauge = await metrics.breakerState.get();
  return Object.fromEntries(
    gauge.values
      .filter((v) => v.labels.provider === provider)
      .map((v) => [String(v.labels.state), v.value]),
  );
}
