import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { newTenantId, type TenantId } from "#tenants/id.ts";
import { replaceDocument } from "#tenants/knowledge-base.ts";
import { TenantPool } from "#tenants/store.ts";
import { FakeEmbedder } from "../../../tests/support/fake-embedder.ts";
import { type FakeLlm, startFakeLlm } from "../../../tests/support/fake-llm.ts";
import { createAnswerCache } from "./answer-cache.server.ts";
import type { AskEvent } from "./ask.server.ts";
import { createRetrievalCache } from "./retrieval-cache.server.ts";
import { parseConfig } from "../config.server.ts";
import { type ControlDb, openControlDb, type TenantRecord } from "../control-db.server.ts";
import { createExtractiveAnswerer } from "../llm/extractive.server.ts";
import { silentLogger } from "../logger.server.ts";
import { askWithActions, toolCallerFor } from "./ask-with-actions.server.ts";
import { matchAction, matchExamples } from "../actions/match.server.ts";
import { listActionRecords } from "../actions/records.server.ts";
import { saveActionSettings } from "../actions/settings.server.ts";

const embedder = new FakeEmbedder({ dimension: 64 });
let dir: string;
let pool: TenantPool;
let control: ControlDb;
let tenant: TenantRecord;
let llm: FakeLlm;

beforeAll(async () => {
  llm = await startFakeLlm();
});
afterAll(async () => {
  await llm.close();
});

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-ask-actions-"));
  pool = new TenantPool(dir, { model: embedder.model, dimension: embedder.dimension }, 4);
  control = openControlDb(dir);
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
  const text = "The harbour ferry to Kestrel Island leaves every 40 minutes.";
  replaceDocument(db, {
    sourceKey: "text:ferry",
    sourceType: "text",
    title: "Ferry",
    contentHash: "h",
    bytes: text.length,
    chunks: [
      { ord: 0, headingPath: "Ferry", text, tokenCount: 12, embedding: embedder.vector(text) },
    ],
  });
});
afterEach(() => {
  pool.closeAll();
  control.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function runtime(env: Record<string, string> = {}) {
  const config = parseConfig({ DATA_DIR: dir, LOG_LEVEL: "silent", ...env });
  return {
    tenants: pool,
    control,
    embedder,
    answerer: createExtractiveAnswerer(),
    config,
    logger: silentLogger,
    retrievalCache: createRetrievalCache(config),
    answerCache: createAnswerCache(config),
  };
}

const conversationId = "cv_0123456789abcdef01234567";

async function collect(events: AsyncGenerator<AskEvent>): Promise<AskEvent[]> {
  const all: AskEvent[] = [];
  for await (const event of events) all.push(event);
  return all;
}

const names = (events: AskEvent[]) => events.map((event) => event.event);
const actionOf = (events: AskEvent[]) =>
  (events.find((event) => event.event === "action") as Extract<AskEvent, { event: "action" }>)
    ?.data;

describe("matching a question to an action (embedded default)", () => {
  it("offers the closest action above the threshold, and embeds each action's examples once", async () => {
    const counting = new FakeEmbedder({ dimension: 64, model: "counting" });
    const [question] = await counting.embed(["Can I talk to a human?"], "query");
    const match = await matchAction(counting, question!, [
      "search_knowledge_base",
      "handoff_to_human",
      "book_appointment",
    ]);
    expect(match?.name).toBe("handoff_to_human");
    expect(match?.score).toBeCloseTo(1, 5);
    const calls = counting.calls;
    const [other] = await counting.embed(["ferry timetable to the island"], "query");
    expect(
      await matchAction(counting, other!, ["handoff_to_human", "book_appointment"]),
    ).toBeNull();
    // The examples' vectors are cached: only the question was embedded again.
    expect(counting.calls).toBe(calls + 1);
    expect(await matchAction(counting, question!, ["search_knowledge_base"])).toBeNull();
    expect(matchExamples("handoff_to_human")).toContain("I want to speak to someone");
  });
});

describe("askWithActions", () => {
  it("gives the ordinary answer when the tenant has no action switched on", async () => {
    const events = await collect(
      askWithActions(runtime(), { tenant, query: "Can I talk to a human?", conversationId }),
    );
    expect(names(events)).not.toContain("action");
    expect(names(events).at(-1)).toBe("done");
  });

  it("offers a matching action just before done (source match)", async () => {
    saveActionSettings(pool.get(tenant.id), { actions: { handoff_to_human: { enabled: true } } });
    const events = await collect(
      askWithActions(runtime(), { tenant, query: "Can I talk to a human?", conversationId }),
    );
    expect(names(events).slice(-2)).toEqual(["action", "done"]);
    expect(actionOf(events)).toMatchObject({
      name: "handoff_to_human",
      source: "match",
      contact: true,
    });
    const plain = await collect(
      askWithActions(runtime(), {
        tenant,
        query: "How often does the harbour ferry leave?",
        conversationId,
      }),
    );
    expect(names(plain)).not.toContain("action");
  });

  it("with a hosted LLM, offers what the model proposes (source tool) and stores nothing", async () => {
    saveActionSettings(pool.get(tenant.id), { actions: { qualify_lead: { enabled: true } } });
    const env = { LLM_BASE_URL: `${llm.url}/v1`, LLM_MODEL: "m" };
    expect(toolCallerFor(runtime(env).config)?.name).toBe("openai");
    llm.setBehaviour({
      failStatus: null,
      toolTurns: [
        { toolCalls: [{ name: "search_knowledge_base", arguments: '{"query":"ferry"}' }] },
        {
          text: "The ferry leaves every 40 minutes [1]. I can pass your request on.",
          toolCalls: [{ name: "qualify_lead", arguments: '{"interest":"Group tickets"}' }],
        },
      ],
    });
    const events = await collect(
      askWithActions(runtime(env), {
        tenant,
        query: "Group tickets for the ferry?",
        conversationId,
      }),
    );
    expect(names(events)[0]).toBe("sources");
    expect(names(events).slice(-2)).toEqual(["action", "done"]);
    const offer = actionOf(events);
    expect(offer).toMatchObject({ name: "qualify_lead", source: "tool" });
    expect(offer?.fields[0]).toMatchObject({ name: "interest", value: "Group tickets" });
    const done = events.at(-1)!.data as Extract<AskEvent, { event: "done" }>["data"];
    expect(done.citations.map((citation) => citation.title)).toEqual(["Ferry"]);
    expect(done.usage.promptTokens).toBe(84);
    expect(listActionRecords(pool.get(tenant.id), "lead")).toEqual([]);
  });

  it("falls back to the ordinary answer when the tool loop fails", async () => {
    saveActionSettings(pool.get(tenant.id), { actions: { qualify_lead: { enabled: true } } });
    const env = { LLM_BASE_URL: `${llm.url}/v1`, LLM_MODEL: "m2", LLM_MAX_RETRIES: "0" };
    llm.setBehaviour({ failStatus: 400, failCount: 1, toolTurns: [] });
    const events = await collect(
      askWithActions(runtime(env), {
        tenant,
        query: "How often does the harbour ferry leave?",
        conversationId,
      }),
    );
    expect(names(events)).not.toContain("action");
    const done = events.at(-1)!.data as Extract<AskEvent, { event: "done" }>["data"];
    expect(done.answer).toMatch(/40 minutes/);
    llm.setBehaviour({ failStatus: null });
  });
});
