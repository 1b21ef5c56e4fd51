import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { TenantId } from "#tenants/id.ts";
import { replaceDocument, type IndexedChunk } from "#tenants/knowledge-base.ts";
import { FakeEmbedder } from "../../../tests/support/fake-embedder.ts";
import { startFakeLlm, type FakeLlm } from "../../../tests/support/fake-llm.ts";
import { listSuggestions } from "../actions/suggest.server.ts";
import { parseConfig } from "../config.server.ts";
import { wordsOf } from "./inspect.server.ts";
import { isKbCheckRunning, latestKbCheck, latestKbReport, runKbCheck } from "./check.server.ts";
import { silentLogger } from "../logger.server.ts";
import { NO_ANSWER } from "../llm/prompt.server.ts";
import { closeRuntime, createRuntime } from "../runtime/build.server.ts";
import type { Runtime } from "../runtime/runtime.server.ts";
import { createTenant } from "../tenancy/tenants.server.ts";
import { updateWidgetSettings } from "../widget-config/settings.server.ts";

let llm: FakeLlm;
let dir: string;
let runtime: Runtime | undefined;
let embedder: FakeEmbedder;

beforeAll(async () => {
  llm = await startFakeLlm();
});
afterAll(async () => {
  await llm.close();
});
afterEach(async () => {
  if (runtime) await closeRuntime(runtime);
  runtime = undefined;
  fs.rmSync(dir, { recursive: true, force: true });
});

async function start(extra: Record<string, string> = {}): Promise<Runtime> {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-kbcheck-run-"));
  embedder = new FakeEmbedder({ dimension: 16 });
  runtime = await createRuntime({
    config: parseConfig({ DATA_DIR: dir, DEMO_TENANT: "false", ...extra }),
    logger: silentLogger,
    embedder,
  });
  return runtime;
}

function addDocument(rt: Runtime, tenantId: TenantId, title: string, texts: string[]): void {
  const chunks: IndexedChunk[] = texts.map((text, ord) => ({
    ord,
    headingPath: title,
    text,
    tokenCount: wordsOf(text).length,
    embedding: embedder.vector(`${title}\n\n${text}`),
  }));
  replaceDocument(rt.tenants.get(tenantId), {
    sourceKey: `text:${title}`,
    sourceType: "text",
    title,
    contentHash: `hash:${title}`,
    bytes: 100,
    chunks,
  });
}

const HOURS = [
  "Our opening hours are Monday to Friday from 9:00 to 18:00 and Saturday from 10:00 to 14:00.",
  "Book an appointment online or by phone; appointments last thirty minutes and start on the hour.",
];
const RETURNS = [
  "Returns policy: you can return any item within 30 days for a full refund to your card.",
  "Refunds are paid within five working days after the returned item reaches our warehouse.",
];

describe("runKbCheck", () => {
  it("reports counts, findings and starter questions, and proposes actions", async () => {
    const rt = await start();
    const tenant = createTenant(rt, { name: "Clinic" });
    addDocument(rt, tenant.id, "Opening hours", HOURS);
    addDocument(rt, tenant.id, "Returns", RETURNS);
    addDocument(rt, tenant.id, "Note", ["Parking at the back."]);
    updateWidgetSettings(rt, tenant, {
      starterQuestions: ["What are your opening hours on Saturday?", "Do you repair bicycles?"],
    });

    const pending = runKbCheck(rt, tenant.id);
    // The row is there, running, before the promise settles.
    expect(latestKbCheck(rt.tenants.get(tenant.id))?.state).toBe("running");
    expect(isKbCheckRunning(tenant.id)).toBe(true);
    expect(runKbCheck(rt, tenant.id)).toBe(pending);
    const check = await pending;
    expect(isKbCheckRunning(tenant.id)).toBe(false);

    expect(check).toMatchObject({ state: "done", trigger: "manual", error: null });
    expect(check.progress.done).toBe(check.progress.total);
    const report = check.report!;
    expect(report.counts).toMatchObject({ documents: 3, chunks: 5, failedJobs: 0 });
    expect(report.answerer).toMatch(/^extractive:/);
    expect(report.starterQuestions.map((q) => [q.question, q.outcome])).toEqual([
      ["What are your opening hours on Saturday?", "answered"],
      ["Do you repair bicycles?", "abstained"],
    ]);
    const kinds = report.findings.map((f) => f.kind);
    expect(kinds).toEqual(["unanswerable_question", "tiny"]);
    expect(report.findings[0]?.question).toBe("Do you repair bicycles?");
    expect(report.findings[0]?.fix).toMatch(/Widget tab/);

    const suggestions = listSuggestions(rt.tenants.get(tenant.id));
    expect(suggestions.map((s) => [s.action, s.status])).toEqual([
      ["book_appointment", "proposed"],
      ["returns_and_refunds", "proposed"],
    ]);
    expect(suggestions[0]?.evidence.map((e) => e.title)).toEqual([
      "Opening hours",
      "Opening hours",
    ]);
    expect(latestKbReport(rt.tenants.get(tenant.id))?.id).toBe(check.id);
  });

  it("says when there are no starter questions, and reports an empty knowledge base", async () => {
    const rt = await start();
    const tenant = createTenant(rt, { name: "Empty" });
    const check = await runKbCheck(rt, tenant.id, { trigger: "auto" });
    expect(check.trigger).toBe("auto");
    expect(check.report?.findings.map((f) => f.kind)).toEqual(["no_documents"]);
    addDocument(rt, tenant.id, "Opening hours", HOURS);
    const again = await runKbCheck(rt, tenant.id);
    expect(again.id).toBeGreaterThan(check.id);
    expect(again.report?.findings.map((f) => f.kind)).toEqual(["no_starter_questions"]);
  });

  it("asks the configured LLM and counts its 'I don't know' as unanswered", async () => {
    llm.setBehaviour({ reply: NO_ANSWER });
    const rt = await start({ LLM_BASE_URL: `${llm.url}/v1`, LLM_MODEL: "fake-model" });
    const tenant = createTenant(rt, { name: "LLM" });
    addDocument(rt, tenant.id, "Opening hours", HOURS);
    updateWidgetSettings(rt, tenant, { starterQuestions: ["When are you open?"] });
    const before = llm.requests.length;
    const check = await runKbCheck(rt, tenant.id);
    expect(llm.requests.length).toBe(before + 1);
    expect(check.report?.answerer).toBe("openai:fake-model");
    expect(check.report?.starterQuestions[0]).toMatchObject({
      outcome: "abstained",
      answeredBy: "openai:fake-model",
      topSource: { title: "Opening hours" },
    });
    llm.setBehaviour({ reply: "We are open Monday to Friday [1]." });
    const answered = await runKbCheck(rt, tenant.id);
    expect(answered.report?.starterQuestions[0]?.outcome).toBe("answered");
  });

  it("records a failed check with its error", async () => {
    const rt = await start();
    const tenant = createTenant(rt, { name: "Broken" });
    addDocument(rt, tenant.id, "Opening hours", HOURS);
    updateWidgetSettings(rt, tenant, { starterQuestions: ["When are you open?"] });
    embedder.failNext(100, new Error("embedding service unavailable"));
    const check = await runKbCheck(rt, tenant.id);
    expect(check.state).toBe("failed");
    expect(check.error).toBe("embedding service unavailable");
    expect(check.report).toBeNull();
  });

  it("refuses an unknown tenant", async () => {
    const rt = await start();
    await expect(runKbCheck(rt, `tn_${"0".repeat(32)}` as TenantId)).rejects.toMatchObject({
      code: "not_found",
    });
  });

  it("runs by itself once the tenant's ingestion settles", async () => {
    const rt = await start({ INGEST_POLL_MS: "50" });
    rt.queue.start();
    const tenant = createTenant(rt, { name: "Auto" });
    rt.queue.enqueue(tenant.id, {
      sourceType: "text",
      title: "Opening hours",
      payload: new TextEncoder().encode(HOURS.join("\n\n")),
    });
    await rt.queue.drain(tenant.id);
    await vi.waitFor(() => expect(latestKbCheck(rt.tenants.get(tenant.id))?.state).toBe("done"), {
      timeout: 10_000,
      interval: 100,
    });
    expect(latestKbCheck(rt.tenants.get(tenant.id))).toMatchObject({
      trigger: "auto",
      report: { counts: { documents: 1 } },
    });
  });
});
