import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { readAskEvents, type BatchDoneEvent } from "#app/shared/ask-events.ts";
import { loadHistory, usageByDay } from "#tenants/conversations.ts";
import { newTenantId, type TenantId } from "#tenants/id.ts";
import { replaceDocument } from "#tenants/knowledge-base.ts";
import { TenantPool } from "#tenants/store.ts";
import { FakeEmbedder } from "../../../tests/support/fake-embedder.ts";
import { startFakeLlm, type FakeLlm } from "../../../tests/support/fake-llm.ts";
import { parseConfig } from "../config.server.ts";
import type { TenantRecord } from "../control-db.server.ts";
import { createExtractiveAnswerer } from "../llm/extractive.server.ts";
import { createOpenAICompatibleAnswerer } from "../llm/openai-compatible.server.ts";
import { buildMessages, NO_ANSWER, numberQuestions } from "../llm/prompt.server.ts";
import type { AnswerChunk, AnswerProvider, AnswerRequest } from "../llm/provider.server.ts";
import { silentLogger } from "../logger.server.ts";
import { newConversationId } from "#tenants/conversations.ts";
import { apportion, askBatch, createLimiter, type BatchEvent } from "./batch.server.ts";
import { normaliseQuestion } from "#tenants/question.ts";
import { createAnswerCache } from "./answer-cache.server.ts";
import { createRetrievalCache } from "./retrieval-cache.server.ts";
import { encodeEvent } from "./sse.server.ts";

const embedder = new FakeEmbedder({ dimension: 16 });
let dir: string;
let pool: TenantPool;
let tenant: TenantRecord;
let llm: FakeLlm;

const FACTS = [
  ["Ferry", "The harbour ferry to Kestrel Island leaves every 40 minutes."],
  ["Espresso", "The Lumen X2 espresso machine must be descaled every 3 weeks."],
  ["Library", "Members of the Orchid Valley Library may borrow 12 books at a time."],
  ["Tower", "The Aurora Tower opens at 9 am on Mondays."],
  ["Bicycle", "The Zephyr Trail bicycle frame has a 7-year warranty."],
] as const;

const QUESTIONS = [
  "How often does the harbour ferry to Kestrel Island leave?",
  "How often must the Lumen X2 espresso machine be descaled?",
  "How many books can Orchid Valley Library members borrow?",
  "When does the Aurora Tower open on Mondays?",
  "How long is the Zephyr Trail bicycle frame warranty?",
  "Which ferry goes to Kestrel Island?",
  "Is the Lumen X2 espresso machine hard to descale?",
];

beforeAll(async () => {
  llm = await startFakeLlm();
});
afterAll(async () => {
  await llm.close();
});

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-batch-"));
  pool = new TenantPool(dir, { model: embedder.model, dimension: embedder.dimension }, 4);
  const id: TenantId = newTenantId();
  const db = pool.create(id);
  tenant = {
    id,
    name: "T",
    plan: "trial",
    status: "active",
    llmModel: null,
    maskTranscripts: false,
    createdAt: 0,
  };
  FACTS.forEach(([title, text], d) => {
    replaceDocument(db, {
      sourceKey: `text:${title}`,
      sourceType: "text",
      title,
      contentHash: `h${d}`,
      bytes: text.length,
      chunks: [
        { ord: 0, headingPath: title, text, tokenCount: 12, embedding: embedder.vector(text) },
      ],
    });
  });
  llm.setBehaviour({
    reply: "The answer is in the sources [1].",
    tokenDelayMs: 0,
    failStatus: null,
    failCount: Infinity,
    usage: { prompt_tokens: 42, completion_tokens: 7 },
    hangAfterChunks: null,
  });
});
afterEach(() => {
  pool.closeAll();
  fs.rmSync(dir, { recursive: true, force: true });
});

function openai(): AnswerProvider {
  return createOpenAICompatibleAnswerer({
    baseUrl: `${llm.url}/v1`,
    model: "m",
    maxTokens: 200,
    timeoutMs: 5000,
  });
}

/** Counts how many answer calls run at once (each is one upstream request). */
function counting(inner: AnswerProvider) {
  const stats = { active: 0, max: 0, calls: 0 };
  const answerer: AnswerProvider = {
    name: inner.name,
    model: inner.model,
    async *stream(request) {
      stats.calls++;
      stats.active++;
      stats.max = Math.max(stats.max, stats.active);
      try {
        yield* inner.stream(request);
      } finally {
        stats.active--;
      }
    },
  };
  return { answerer, stats };
}

function runtimeWith(answerer: AnswerProvider, env: Record<string, string> = {}) {
  return {
    tenants: pool,
    embedder,
    answerer,
    config: parseConfig({ DATA_DIR: dir, LOG_LEVEL: "silent", ...env }),
    logger: silentLogger,
    retrievalCache: createRetrievalCache(parseConfig({ DATA_DIR: dir, ...env })),
    answerCache: createAnswerCache(parseConfig({ DATA_DIR: dir, ...env })),
  };
}

async function collect(events: AsyncGenerator<BatchEvent>): Promise<BatchEvent[]> {
  const all: BatchEvent[] = [];
  for await (const event of events) all.push(event);
  return all;
}

function doneOf(events: BatchEvent[]): BatchDoneEvent {
  const last = events.at(-1);
  expect(last?.event).toBe("batch_done");
  return last!.data as BatchDoneEvent;
}

function chatRequestsSince(before: number) {
  return llm.requests
    .slice(before)
    .filter((r) => r.path === "/v1/chat/completions")
    .map((r) => r.body as { messages: { role: string; content: string }[] });
}

describe("askBatch, aggregated", () => {
  it("answers up to BATCH_AGGREGATE_MAX questions with ONE upstream call", async () => {
    llm.setBehaviour({
      reply: `1. Every 40 minutes [1].\n\n2. Every 3 weeks [2].\n\n3. ${NO_ANSWER}`,
    });
    const before = llm.requests.length;
    const queries = [QUESTIONS[0]!, QUESTIONS[1]!, "What is the airspeed of an unladen swallow?"];
    const events = await collect(askBatch(runtimeWith(openai()), { tenant, queries }));

    const requests = chatRequestsSince(before);
    expect(requests).toHaveLength(1);
    const [system, user] = requests[0]!.messages;
    expect(system!.content).toMatch(/several numbered questions/);
    expect(user!.content).toBe(numberQuestions(queries));

    expect(events[0]).toEqual({
      event: "batch",
      data: { conversationId: expect.stringMatching(/^cv_/), mode: "aggregated", count: 3 },
    });
    const done = doneOf(events);
    expect(done.mode).toBe("aggregated");
    expect(done.results.map((r) => r.answer)).toEqual([
      "Every 40 minutes [1].",
      "Every 3 weeks [2].",
      NO_ANSWER,
    ]);
    expect(done.results.map((r) => r.error)).toEqual([null, null, null]);
    expect(done.results.map((r) => r.abstained)).toEqual([false, false, true]);
    const ids = done.results.map((r) => r.messageId);
    expect(ids.every((id) => typeof id === "number")).toBe(true);
    expect(new Set(ids).size).toBe(3);
    expect(done.results[2]!.citations).toEqual([]);
    // Citations are numbered as in the union of sources sent to the model.
    const sent = system!.content;
    for (const result of done.results.slice(0, 2)) {
      const [citation] = result.citations;
      expect(sent).toContain(`[${citation!.n}] ${citation!.title}`);
      expect(result.sources.some((s) => s.n === citation!.n)).toBe(true);
    }
    // Usage apportioned: the parts add up to the call's usage.
    expect(done.results.every((r) => r.usage.apportioned && !r.usage.estimated)).toBe(true);
    expect(done.results.map((r) => r.usage.promptTokens)).toEqual([14, 14, 14]);
    expect(done.results.reduce((sum, r) => sum + r.usage.completionTokens, 0)).toBe(7);
    expect(done.usage).toEqual({ promptTokens: 42, completionTokens: 7, estimated: false });
    // The longest answer gets the largest share of the completion tokens.
    expect(done.results[2]!.usage.completionTokens).toBeGreaterThanOrEqual(
      done.results[0]!.usage.completionTokens,
    );

    // Progress: retrieving → answering → done for each question, result events in between.
    for (let index = 0; index < 3; index++) {
      const states = events
        .filter((e) => e.event === "progress" && e.data.index === index)
        .map((e) => (e.data as { state: string }).state);
      expect(states).toEqual(["retrieving", "answering", "done"]);
    }
    expect(events.filter((e) => e.event === "result")).toHaveLength(3);

    // Each question is recorded in the one conversation, like a single ask.
    const history = loadHistory(pool.get(tenant.id), done.conversationId, 10);
    expect(history.filter((t) => t.role === "user").map((t) => t.content)).toEqual(queries);
    expect(usageByDay(pool.get(tenant.id))[0]).toMatchObject({
      asks: 3,
      abstained: 1,
      promptTokens: 42,
      completionTokens: 7,
    });
  });

  it("falls back to one call per question when the reply cannot be split", async () => {
    llm.setBehaviour({ reply: "Everything is fine [1]." });
    const before = llm.requests.length;
    const queries = QUESTIONS.slice(0, 3);
    const done = doneOf(await collect(askBatch(runtimeWith(openai()), { tenant, queries })));
    const requests = chatRequestsSince(before);
    expect(requests).toHaveLength(4);
    expect(requests[0]!.messages[0]!.content).toMatch(/several numbered questions/);
    expect(requests.slice(1).map((r) => r.messages.at(-1)!.content)).toEqual(
      expect.arrayContaining(queries),
    );
    expect(done.mode).toBe("aggregated");
    expect(done.results.map((r) => r.answer)).toEqual(Array(3).fill("Everything is fine [1]."));
    // Each question's own sources, numbered from 1 as in a single ask.
    expect(done.results.map((r) => r.citations[0]!.n)).toEqual([1, 1, 1]);
    // The discarded aggregated call is shared by the questions asked afterwards.
    expect(done.results.every((r) => r.usage.apportioned)).toBe(true);
    expect(done.usage).toEqual({ promptTokens: 42 * 4, completionTokens: 7 * 4, estimated: false });
  });

  it("turns a failing question into its own error while the others are answered", async () => {
    // The aggregated call fails, then the first single call too.
    llm.setBehaviour({ failStatus: 500, failCount: 2, reply: "Fine [1]." });
    const before = llm.requests.length;
    const queries = QUESTIONS.slice(0, 3);
    const done = doneOf(await collect(askBatch(runtimeWith(openai()), { tenant, queries })));
    expect(chatRequestsSince(before)).toHaveLength(4);
    const failed = done.results.filter((r) => r.error !== null);
    expect(failed).toHaveLength(1);
    expect(failed[0]!.error).toEqual({
      code: "upstream_failed",
      message: "The answer could not be generated. Try again.",
    });
    expect(failed[0]!.answer).toBe("");
    expect(done.results.filter((r) => r.answer === "Fine [1].")).toHaveLength(2);
    const history = loadHistory(pool.get(tenant.id), done.conversationId, 10);
    expect(history).toHaveLength(4);
  });

  it("answers a tenant with nothing indexed locally, without an LLM call", async () => {
    const empty: TenantId = newTenantId();
    pool.create(empty);
    const before = llm.requests.length;
    const done = doneOf(
      await collect(
        askBatch(runtimeWith(openai()), {
          tenant: { ...tenant, id: empty },
          queries: QUESTIONS.slice(0, 2),
        }),
      ),
    );
    expect(llm.requests.length).toBe(before);
    expect(done.results.every((r) => r.abstained && r.provider === "extractive")).toBe(true);
  });

  it("asks one by one when the aggregated call degraded to the extractive fallback", async () => {
    const requests: AnswerRequest[] = [];
    const extractive = createExtractiveAnswerer();
    const degrading: AnswerProvider = {
      name: "openai",
      model: "m",
      async *stream(request): AsyncGenerator<AnswerChunk> {
        requests.push(request);
        yield { type: "degraded", reason: "breaker_open", provider: "extractive", model: "x" };
        yield* extractive.stream(request);
      },
    };
    const done = doneOf(
      await collect(askBatch(runtimeWith(degrading), { tenant, queries: QUESTIONS.slice(0, 2) })),
    );
    expect(requests.map((r) => r.questions?.length ?? 0)).toEqual([2, 0, 0]);
    expect(done.results.map((r) => r.degradedReason)).toEqual(["breaker_open", "breaker_open"]);
    expect(done.results[0]!.answer).toMatch(/40 minutes/);
    expect(done.results[1]!.answer).toMatch(/3 weeks/);
  });

  it("uses the tenant's model override", async () => {
    llm.setBehaviour({ reply: "1. A [1].\n2. B [1]." });
    const before = llm.requests.length;
    const done = doneOf(
      await collect(
        askBatch(runtimeWith(openai()), {
          tenant: { ...tenant, llmModel: "tenant-model" },
          queries: QUESTIONS.slice(0, 2),
        }),
      ),
    );
    const body = llm.requests.slice(before)[0]!.body as { model: string };
    expect(body.model).toBe("tenant-model");
    expect(done.results.map((r) => r.model)).toEqual(["tenant-model", "tenant-model"]);
  });

  it("asks a single question with sources on its own", async () => {
    llm.setBehaviour({ reply: "Every 40 minutes [1]." });
    const before = llm.requests.length;
    const done = doneOf(
      await collect(askBatch(runtimeWith(openai()), { tenant, queries: [QUESTIONS[0]!] })),
    );
    const requests = chatRequestsSince(before);
    expect(requests).toHaveLength(1);
    expect(requests[0]!.messages.at(-1)!.content).toBe(QUESTIONS[0]);
    expect(done.results[0]!.usage).toEqual({
      promptTokens: 42,
      completionTokens: 7,
      estimated: false,
      apportioned: false,
    });
  });
});

describe("askBatch, parallel", () => {
  it("asks more than BATCH_AGGREGATE_MAX questions one by one, a few at a time", async () => {
    llm.setBehaviour({ reply: "Answer from the sources [1].", tokenDelayMs: 15 });
    const { answerer, stats } = counting(openai());
    const before = llm.requests.length;
    const events = await collect(
      askBatch(runtimeWith(answerer, { BATCH_LLM_CONCURRENCY: "2" }), {
        tenant,
        queries: QUESTIONS,
      }),
    );
    const done = doneOf(events);
    expect(events[0]!.data).toMatchObject({ mode: "parallel", count: QUESTIONS.length });
    expect(done.mode).toBe("parallel");
    expect(chatRequestsSince(before)).toHaveLength(QUESTIONS.length);
    expect(stats.calls).toBe(QUESTIONS.length);
    expect(stats.max).toBe(2);
    expect(done.results.map((r) => r.index)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(done.results.map((r) => r.query)).toEqual(QUESTIONS);
    expect(done.results.every((r) => r.error === null && !r.usage.apportioned)).toBe(true);
    expect(done.usage.promptTokens).toBe(42 * QUESTIONS.length);
  });

  it("keeps one failed question from failing the batch", async () => {
    llm.setBehaviour({ failStatus: 503, failCount: 1, reply: "Fine [1]." });
    const events = await collect(askBatch(runtimeWith(openai()), { tenant, queries: QUESTIONS }));
    const done = doneOf(events);
    expect(done.results.filter((r) => r.error?.code === "upstream_failed")).toHaveLength(1);
    expect(done.results.filter((r) => r.error === null)).toHaveLength(QUESTIONS.length - 1);
    const failed = events.filter((e) => e.event === "progress" && e.data.state === "failed");
    expect(failed).toHaveLength(1);
  });

  it("answers every question on its own with the extractive answerer", async () => {
    const queries = [QUESTIONS[0]!, QUESTIONS[1]!, "What is the airspeed of an unladen swallow?"];
    const events = await collect(
      askBatch(runtimeWith(createExtractiveAnswerer()), { tenant, queries }),
    );
    const done = doneOf(events);
    expect(done.mode).toBe("parallel");
    expect(done.results[0]!.answer).toMatch(/40 minutes \[1\]/);
    expect(done.results[0]!.citations[0]!.title).toBe("Ferry");
    expect(done.results[1]!.answer).toMatch(/3 weeks/);
    expect(done.results[2]!.abstained).toBe(true);
    expect(done.results.every((r) => r.provider === "extractive" && r.usage.estimated)).toBe(true);
    expect(done.usage.estimated).toBe(true);
    expect(events.filter((e) => e.event === "result")).toHaveLength(3);
  });

  it("retrieves identical questions once and answers them together", async () => {
    const queries = [
      "How often does the ferry leave?",
      "how often does the FERRY   leave",
      "  How often does the ferry leave?!  ",
      QUESTIONS[1]!,
    ];
    const calls = embedder.calls;
    const { answerer, stats } = counting(createExtractiveAnswerer());
    const events = await collect(askBatch(runtimeWith(answerer), { tenant, queries }));
    const done = doneOf(events);
    expect(embedder.calls - calls).toBe(2);
    expect(stats.calls).toBe(2);
    const [a, b, c, d] = done.results;
    expect(a!.answer).toMatch(/40 minutes/);
    expect(b!.answer).toBe(a!.answer);
    expect(c!.answer).toBe(a!.answer);
    expect(b!.query).toBe(queries[1]);
    expect([a, b, c].every((r) => r!.usage.apportioned)).toBe(true);
    expect(d!.usage.apportioned).toBe(false);
    // Each position still gets its own progress and result, and is recorded.
    expect(events.filter((e) => e.event === "result")).toHaveLength(4);
    const history = loadHistory(pool.get(tenant.id), done.conversationId, 10);
    expect(history).toHaveLength(8);
  });

  it("records in the given conversation", async () => {
    const conversationId = newConversationId();
    const done = doneOf(
      await collect(
        askBatch(runtimeWith(createExtractiveAnswerer()), {
          tenant,
          queries: QUESTIONS.slice(0, 2),
          conversationId,
        }),
      ),
    );
    expect(done.conversationId).toBe(conversationId);
    expect(loadHistory(pool.get(tenant.id), conversationId, 10)).toHaveLength(4);
  });

  it("reports a failed retrieval as that question's error", async () => {
    embedder.failNext(1);
    const done = doneOf(
      await collect(
        askBatch(runtimeWith(createExtractiveAnswerer(), { BATCH_RETRIEVAL_CONCURRENCY: "1" }), {
          tenant,
          queries: QUESTIONS.slice(0, 3),
        }),
      ),
    );
    expect(done.results.map((r) => r.error?.code ?? null)).toEqual([
      "retrieval_failed",
      null,
      null,
    ]);
  });

  it("reports a failed retrieval in aggregated mode too", async () => {
    embedder.failNext(1);
    llm.setBehaviour({ reply: "1. A [1].\n\n2. B [1]." });
    const done = doneOf(
      await collect(
        askBatch(runtimeWith(openai(), { BATCH_RETRIEVAL_CONCURRENCY: "1" }), {
          tenant,
          queries: QUESTIONS.slice(0, 3),
        }),
      ),
    );
    expect(done.results.map((r) => r.error?.code ?? null)).toEqual([
      "retrieval_failed",
      null,
      null,
    ]);
    expect(done.results.map((r) => r.answer)).toEqual(["", "A [1].", "B [1]."]);
  });
});

describe("askBatch, cancellation", () => {
  it("makes no LLM call once the signal is aborted", async () => {
    const before = llm.requests.length;
    const controller = new AbortController();
    controller.abort();
    const done = doneOf(
      await collect(
        askBatch(runtimeWith(openai()), {
          tenant,
          queries: QUESTIONS.slice(0, 3),
          signal: controller.signal,
        }),
      ),
    );
    expect(llm.requests.length).toBe(before);
    expect(done.results.map((r) => r.error?.code)).toEqual(["cancelled", "cancelled", "cancelled"]);
  });

  it("stops further calls when aborted mid-batch", async () => {
    llm.setBehaviour({ reply: "Answer [1].", tokenDelayMs: 5 });
    const controller = new AbortController();
    const { answerer, stats } = counting(openai());
    const events: BatchEvent[] = [];
    for await (const event of askBatch(runtimeWith(answerer, { BATCH_LLM_CONCURRENCY: "1" }), {
      tenant,
      queries: QUESTIONS,
      signal: controller.signal,
    })) {
      events.push(event);
      if (event.event === "result") controller.abort();
    }
    const done = doneOf(events);
    expect(stats.calls).toBeLessThan(QUESTIONS.length);
    expect(done.results.filter((r) => r.error === null)).toHaveLength(1);
    expect(done.results.filter((r) => r.error?.code === "cancelled")).toHaveLength(
      QUESTIONS.length - 1,
    );
  });

  it("stops the upstream call when the reader goes away", async () => {
    llm.setBehaviour({ reply: "1. A [1].\n\n2. B [1].", hangAfterChunks: 1 });
    const before = llm.requests.length;
    const batch = askBatch(runtimeWith(openai()), { tenant, queries: QUESTIONS.slice(0, 2) });
    const first = await batch.next();
    expect(first.value).toMatchObject({ event: "batch" });
    // Read until the call has started, then leave.
    for (;;) {
      const next = await batch.next();
      if (next.value?.event === "progress" && next.value.data.state === "answering") break;
    }
    await expect.poll(() => llm.requests.length).toBeGreaterThan(before);
    const aborted = llm.aborted;
    await batch.return(undefined);
    await expect.poll(() => llm.aborted).toBeGreaterThan(aborted);
  });
});

describe("helpers", () => {
  it("normalises case, spacing and trailing punctuation", () => {
    expect(normaliseQuestion("  How   OFTEN does it leave?!? ")).toBe("how often does it leave");
    expect(normaliseQuestion("Ferry.")).toBe(normaliseQuestion("ferry"));
  });

  it("apportions integers that add up to the total", () => {
    expect(apportion(7, [1, 1, 1])).toEqual([3, 2, 2]);
    expect(apportion(10, [3, 1])).toEqual([8, 2]);
    expect(apportion(5, [0, 0])).toEqual([3, 2]);
    expect(apportion(5, [])).toEqual([]);
  });

  it("limits how many tasks run at once", async () => {
    const limit = createLimiter(2);
    let active = 0;
    let max = 0;
    const task = async () => {
      active++;
      max = Math.max(max, active);
      await new Promise((r) => setTimeout(r, 5));
      active--;
      return active;
    };
    await Promise.all(Array.from({ length: 7 }, () => limit(task)));
    expect(max).toBe(2);
    await expect(limit(() => Promise.reject(new Error("x")))).rejects.toThrow("x");
    expect(await limit(async () => 1)).toBe(1);
  });

  it("builds a batch prompt that asks for numbered answers", () => {
    const questions = ["Refunds?", "Shipping?"];
    const messages = buildMessages({
      question: "",
      questions,
      history: [],
      sources: [{ n: 1, title: "Refunds", headingPath: "", text: "14 days.", score: 1 }],
    });
    expect(messages[0]!.content).toMatch(/numbered questions/);
    expect(messages[0]!.content).toContain("`1. …`");
    expect(messages[0]!.content).toContain(`"${NO_ANSWER}"`);
    expect(messages[0]!.content).toContain("[1] Refunds\n14 days.");
    expect(messages.at(-1)).toEqual({ role: "user", content: "1. Refunds?\n2. Shipping?" });
    const single = buildMessages({ question: "Refunds?", questions: [], history: [], sources: [] });
    expect(single[0]!.content).not.toMatch(/numbered questions/);
  });

  it("parses batch events from an SSE stream", async () => {
    const batch = { conversationId: "cv_1", mode: "parallel" as const, count: 1 };
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(encodeEvent("batch", batch));
        controller.enqueue(encodeEvent("progress", { index: 0, state: "done" }));
        controller.enqueue(new TextEncoder().encode("event: unknown\ndata: {}\n\n"));
        controller.enqueue(
          encodeEvent("batch_done", {
            ...batch,
            results: [],
            usage: { promptTokens: 0, completionTokens: 0, estimated: false },
            latencyMs: 1,
          }),
        );
        controller.close();
      },
    });
    const events = [];
    for await (const event of readAskEvents(body)) events.push(event.event);
    expect(events).toEqual(["batch", "progress", "batch_done"]);
  });
});
