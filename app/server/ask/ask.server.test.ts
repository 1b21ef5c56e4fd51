import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { loadHistory } from "#tenants/conversations.ts";
import { newTenantId, type TenantId } from "#tenants/id.ts";
import { replaceDocument } from "#tenants/knowledge-base.ts";
import { TenantPool } from "#tenants/store.ts";
import { FakeEmbedder } from "../../../tests/support/fake-embedder.ts";
import { startFakeLlm, type FakeLlm } from "../../../tests/support/fake-llm.ts";
import { parseConfig } from "../config.server.ts";
import type { TenantRecord } from "../control-db.server.ts";
import { createExtractiveAnswerer } from "../llm/extractive.server.ts";
import { createOpenAICompatibleAnswerer } from "../llm/openai-compatible.server.ts";
import type { AnswerProvider } from "../llm/provider.server.ts";
import { newConversationId } from "#tenants/conversations.ts";
import { silentLogger } from "../logger.server.ts";
import { askStream, citedNumbers, toCitation, type AskEvent } from "./ask.server.ts";
import { createAnswerCache, streamPieces } from "./answer-cache.server.ts";
import { createRetrievalCache } from "./retrieval-cache.server.ts";

const embedder = new FakeEmbedder({ dimension: 16 });
let dir: string;
let pool: TenantPool;
let tenant: TenantRecord;
let llm: FakeLlm;

beforeAll(async () => {
  llm = await startFakeLlm();
});
afterAll(async () => {
  await llm.close();
});

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-ask-"));
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
  const facts = [
    ["Ferry", "The harbour ferry to Kestrel Island leaves every 40 minutes."],
    ["Espresso", "The Lumen X2 espresso machine must be descaled every 3 weeks."],
  ] as const;
  facts.forEach(([title, text], d) => {
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
});
afterEach(() => {
  pool.closeAll();
  fs.rmSync(dir, { recursive: true, force: true });
});

function runtimeWith(answerer: AnswerProvider) {
  return {
    tenants: pool,
    embedder,
    answerer,
    config: parseConfig({ DATA_DIR: dir, LOG_LEVEL: "silent" }),
    logger: silentLogger,
    retrievalCache: createRetrievalCache(parseConfig({ DATA_DIR: dir })),
    answerCache: createAnswerCache(parseConfig({ DATA_DIR: dir })),
  };
}

async function collect(events: AsyncGenerator<AskEvent>): Promise<AskEvent[]> {
  const all: AskEvent[] = [];
  for await (const event of events) all.push(event);
  return all;
}

describe("askStream", () => {
  it("stores PII-masked transcripts when the tenant asks, and sends the LLM masked text", async () => {
    const runtime = runtimeWith(
      createOpenAICompatibleAnswerer({
        baseUrl: `${llm.url}/v1`,
        model: "m",
        maxTokens: 50,
        timeoutMs: 5000,
      }),
    );
    const question = "My e-mail is jane@example.com: how often does the Kestrel ferry leave?";
    const masked = { ...tenant, maskTranscripts: true };
    const events = await collect(askStream(runtime, { tenant: masked, query: question }));
    const done = events.at(-1)!.data as Extract<AskEvent, { event: "done" }>["data"];
    const stored = loadHistory(pool.get(tenant.id), done.conversationId, 3);
    expect(stored[0]?.content).toBe(
      "My e-mail is [EMAIL]: how often does the Kestrel ferry leave?",
    );
    expect(JSON.stringify(llm.requests.at(-1)?.body)).not.toContain("jane@example.com");

    const plain = await collect(askStream(runtime, { tenant, query: question }));
    const plainDone = plain.at(-1)!.data as Extract<AskEvent, { event: "done" }>["data"];
    expect(loadHistory(pool.get(tenant.id), plainDone.conversationId, 3)[0]?.content).toBe(
      question,
    );
  });

  it("streams sources, tokens and a cited done event, and records the exchange", async () => {
    const runtime = runtimeWith(createExtractiveAnswerer());
    const events = await collect(
      askStream(runtime, { tenant, query: "How often does the ferry to Kestrel Island leave?" }),
    );
    expect(events[0]?.event).toBe("sources");
    expect(events.at(-1)?.event).toBe("done");
    const done = events.at(-1)!.data as Extract<AskEvent, { event: "done" }>["data"];
    const tokens = events
      .filter((e) => e.event === "token")
      .map((e) => (e.data as { text: string }).text);
    expect(tokens.join("")).toBe(done.answer);
    expect(done.answer).toMatch(/40 minutes/);
    expect(done.citations[0]?.title).toBe("Ferry");
    expect(done.abstained).toBe(false);
    expect(done.conversationId).toMatch(/^cv_[0-9a-f]{24}$/);
    const history = loadHistory(pool.get(tenant.id), done.conversationId, 3);
    expect(history.map((t) => t.role)).toEqual(["user", "assistant"]);
  });

  it("abstains without calling the LLM when nothing is retrieved", async () => {
    const empty: TenantId = newTenantId();
    pool.create(empty);
    const before = llm.requests.length;
    const runtime = runtimeWith(
      createOpenAICompatibleAnswerer({
        baseUrl: `${llm.url}/v1`,
        model: "m",
        maxTokens: 50,
        timeoutMs: 5000,
      }),
    );
    const events = await collect(
      askStream(runtime, { tenant: { ...tenant, id: empty }, query: "anything at all?" }),
    );
    const done = events.at(-1)!.data as {
      abstained: boolean;
      citations: unknown[];
      provider: string;
    };
    expect(done.abstained).toBe(true);
    expect(done.citations).toEqual([]);
    expect(done.provider).toBe("extractive");
    expect(llm.requests.length).toBe(before);
  });

  it("answers through an OpenAI-compatible server with the provider's usage", async () => {
    llm.setBehaviour({ reply: "Every 3 weeks [1].", failStatus: undefined, failCount: 0 });
    const runtime = runtimeWith(
      createOpenAICompatibleAnswerer({
        baseUrl: `${llm.url}/v1`,
        model: "m",
        maxTokens: 50,
        timeoutMs: 5000,
      }),
    );
    const events = await collect(askStream(runtime, { tenant, query: "Lumen X2 descaling?" }));
    const done = events.at(-1)!.data as {
      answer: string;
      usage: { estimated: boolean };
      citations: { n: number }[];
      provider: string;
    };
    expect(done.answer).toBe("Every 3 weeks [1].");
    expect(done.provider).toBe("openai");
    expect(done.usage.estimated).toBe(false);
    expect(done.citations.map((c) => c.n)).toEqual([1]);
  });

  it("ends with an error event when the provider fails, and records nothing", async () => {
    llm.setBehaviour({ failStatus: 500, failCount: 1 });
    const runtime = runtimeWith(
      createOpenAICompatibleAnswerer({
        baseUrl: `${llm.url}/v1`,
        model: "m",
        maxTokens: 50,
        timeoutMs: 5000,
      }),
    );
    const conversationId = newConversationId();
    const events = await collect(
      askStream(runtime, { tenant, query: "Lumen X2 descaling?", conversationId }),
    );
    expect(events.map((e) => e.event)).toEqual(["sources", "error"]);
    expect(events[1]?.data).toMatchObject({ code: "upstream_failed" });
    expect(loadHistory(pool.get(tenant.id), conversationId, 3)).toEqual([]);
  });

  it("uses the previous question to retrieve for a short follow-up", async () => {
    const runtime = runtimeWith(createExtractiveAnswerer());
    const first = await collect(
      askStream(runtime, {
        tenant,
        query: "How often must the Lumen X2 espresso machine be descaled?",
      }),
    );
    const conversationId = (first.at(-1)!.data as { conversationId: string }).conversationId;
    const follow = await collect(
      askStream(runtime, { tenant, query: "and how often exactly?", conversationId }),
    );
    const sources = follow[0]!.data as { sources: { title: string }[] };
    expect(sources.sources[0]?.title).toBe("Espresso");
  });

  it("takes the caller's own history instead of a stored one (the OpenAI-compatible API)", async () => {
    const seen: unknown[] = [];
    const extractive = createExtractiveAnswerer();
    const runtime = runtimeWith({
      name: extractive.name,
      model: extractive.model,
      stream(request) {
        seen.push(request.history);
        return extractive.stream(request);
      },
    });
    const history = [
      {
        role: "user" as const,
        content: "How often must the Lumen X2 espresso machine be descaled?",
      },
      { role: "assistant" as const, content: "Every 3 weeks [1]." },
    ];
    const follow = await collect(
      askStream(runtime, { tenant, query: "and how often exactly?", history }),
    );
    expect(seen).toEqual([history]);
    // Short follow-ups are searched with the previous question, as with a stored history.
    const sources = follow[0]!.data as { sources: { title: string }[] };
    expect(sources.sources[0]?.title).toBe("Espresso");
  });
});

describe("answer cache", () => {
  type Done = Extract<AskEvent, { event: "done" }>["data"];
  const doneOf = (events: AskEvent[]) => events.at(-1)!.data as Done;
  const openai = () =>
    createOpenAICompatibleAnswerer({
      baseUrl: `${llm.url}/v1`,
      model: "m",
      maxTokens: 50,
      timeoutMs: 5000,
    });

  it("streams a stored answer to the same first question, with no LLM call or tokens", async () => {
    llm.setBehaviour({
      reply: "Descale it every 3 weeks [1].",
      failStatus: undefined,
      failCount: 0,
    });
    const runtime = runtimeWith(openai());
    const first = await collect(askStream(runtime, { tenant, query: "Lumen X2 descaling?" }));
    const calls = llm.requests.length;
    const again = await collect(askStream(runtime, { tenant, query: "  lumen x2 DESCALING " }));
    expect(llm.requests.length).toBe(calls);
    expect(again.map((e) => e.event)).toEqual([
      "sources",
      ...again.slice(1, -1).map(() => "token"),
      "done",
    ]);
    const tokens = again
      .filter((e) => e.event === "token")
      .map((e) => (e.data as { text: string }).text);
    expect(tokens.length).toBeGreaterThan(1);
    expect(tokens.join("")).toBe(doneOf(first).answer);
    expect(doneOf(first).cached).toBe(false);
    expect(doneOf(again)).toMatchObject({
      cached: true,
      answer: doneOf(first).answer,
      citations: doneOf(first).citations,
      provider: "openai",
      usage: { promptTokens: 0, completionTokens: 0, estimated: false },
    });
    expect(doneOf(again).conversationId).not.toBe(doneOf(first).conversationId);
    expect(runtime.answerCache.counts(tenant.id)).toEqual({ hits: 1, misses: 1 });
    const history = loadHistory(pool.get(tenant.id), doneOf(again).conversationId, 3);
    expect(history.map((t) => t.content)).toEqual(["  lumen x2 DESCALING ", doneOf(first).answer]);
  });

  it("answers follow-ups, other settings and changed knowledge afresh", async () => {
    const runtime = runtimeWith(createExtractiveAnswerer());
    const query = "How often does the ferry to Kestrel Island leave?";
    const first = doneOf(await collect(askStream(runtime, { tenant, query })));
    const followUp = doneOf(
      await collect(askStream(runtime, { tenant, query, conversationId: first.conversationId })),
    );
    expect(followUp.cached).toBe(false);
    const otherModel = doneOf(
      await collect(askStream(runtime, { tenant: { ...tenant, llmModel: "other" }, query })),
    );
    expect(otherModel.cached).toBe(false);

    replaceDocument(pool.get(tenant.id), {
      sourceKey: "text:Ferry",
      sourceType: "text",
      title: "Ferry",
      contentHash: "changed",
      bytes: 60,
      chunks: [
        {
          ord: 0,
          headingPath: "Ferry",
          text: "The harbour ferry to Kestrel Island now leaves every 25 minutes.",
          tokenCount: 12,
          embedding: embedder.vector(
            "The harbour ferry to Kestrel Island now leaves every 25 minutes.",
          ),
        },
      ],
    });
    const afterChange = doneOf(await collect(askStream(runtime, { tenant, query })));
    expect(afterChange.cached).toBe(false);
    expect(afterChange.answer).toMatch(/25 minutes/);
    expect(doneOf(await collect(askStream(runtime, { tenant, query }))).cached).toBe(true);
  });

  it("never stores a degraded answer", async () => {
    llm.setBehaviour({ failStatus: 503, failCount: 100 });
    const degrading: AnswerProvider = {
      name: "openai",
      model: "m",
      async *stream() {
        yield {
          type: "degraded",
          reason: "breaker_open",
          provider: "extractive",
          model: "extractive-v1",
        };
        yield { type: "token", text: "The ferry leaves every 40 minutes [1]." };
      },
    };
    const runtime = runtimeWith(degrading);
    const query = "How often does the ferry leave?";
    expect(doneOf(await collect(askStream(runtime, { tenant, query }))).degraded).toBe(true);
    expect(doneOf(await collect(askStream(runtime, { tenant, query }))).cached).toBe(false);
    llm.setBehaviour({ failStatus: undefined, failCount: 0 });
  });

  it("cuts a stored answer into pieces that join back to it", () => {
    expect(streamPieces("one two three four five six", 4)).toEqual([
      "one two three four ",
      "five six",
    ]);
    expect(streamPieces("")).toEqual([]);
    expect(streamPieces("a\n\nb  c").join("")).toBe("a\n\nb  c");
  });
});

describe("citations", () => {
  it("keeps only known [n] markers, in order of first use", () => {
    expect(citedNumbers("A [2]. B [1][2]. C [7]. D [0].", 3)).toEqual([2, 1]);
    expect(citedNumbers("none", 3)).toEqual([]);
  });

  it("shortens long snippets", () => {
    const citation = toCitation(
      {
        chunkId: 1,
        documentId: 2,
        title: "T",
        url: null,
        fileName: "f.md",
        headingPath: "H",
        text: "x".repeat(500),
        score: 0.123456789,
        keywordRank: 1,
        vectorRank: null,
        similarity: null,
      },
      1,
    );
    expect(citation.snippet.length).toBe(240);
    expect(citation.snippet.endsWith("…")).toBe(true);
    expect(citation.score).toBe(0.1235);
  });
});
