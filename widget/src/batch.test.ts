// The batch add-on against the fake API, and its toggle in a linkedom view.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { BatchResult, DoneEvent } from "#app/shared/ask-events.ts";
import { click, createWindow, keyEvent } from "../test/dom.ts";
import {
  citation,
  type FakeAskServer,
  startFakeAskServer,
  startSse,
  writeEvent,
} from "../test/fake-ask-server.ts";
import type { AddOnContext } from "./api.ts";
import { askBatch, installBatch, questionsOf, register, resultAsDone } from "./batch.ts";
import { readConfig } from "./config.ts";
import { mountView } from "./view.ts";

const result = (index: number, query: string, overrides: Partial<BatchResult> = {}) =>
  ({
    index,
    query,
    answer: `Answer ${index + 1} [1].`,
    citations: [citation(1)],
    sources: [citation(1)],
    abstained: false,
    degraded: false,
    degradedReason: null,
    provider: "fake",
    model: "fake-model",
    usage: { promptTokens: 1, completionTokens: 1, estimated: true },
    latencyMs: 5,
    error: null,
    ...overrides,
  }) as BatchResult;

let server: FakeAskServer;
beforeAll(async () => {
  server = await startFakeAskServer((request, response) => {
    const queries = request.body.queries ?? [];
    startSse(response);
    writeEvent(response, "batch", { conversationId: "conv_b", mode: "parallel" } as never);
    const results = queries.map((query, index) =>
      index === 1
        ? result(index, query, { answer: "", error: { code: "x", message: "No luck." } })
        : result(index, query),
    );
    for (const item of results) {
      writeEvent(response, "progress", { index: item.index, state: "answering" });
      writeEvent(response, "progress", { index: item.index, state: "done" });
      writeEvent(response, "result", item);
    }
    writeEvent(response, "batch_done", { conversationId: "conv_b", results } as never);
    response.end();
  });
});
afterAll(() => server.close());

describe("askBatch", () => {
  it("streams the batch and resolves with its results in order", async () => {
    const progress: string[] = [];
    const results = await askBatch(
      {
        origin: server.origin,
        tenantId: "t",
        queries: ["A?", "B?"],
        key: "pk_test",
        sessionToken: "tok_1",
      },
      {
        onStart: (id) => progress.push(`start ${id}`),
        onProgress: (index, state) => progress.push(`${index} ${state}`),
      },
    );
    expect(results.map((r) => r.query)).toEqual(["A?", "B?"]);
    expect(progress).toEqual(["start conv_b", "0 answering", "0 done", "1 answering", "1 done"]);
    expect(server.requests.at(-1)!.body).toEqual({
      tenant_id: "t",
      queries: ["A?", "B?"],
      key: "pk_test",
      session_token: "tok_1",
    });
  });

  it("rejects with the server's message, or a stream error", async () => {
    const refuse = () =>
      Promise.resolve(
        Response.json(
          { error: { code: "bad_request", message: "Batch is off." } },
          { status: 400 },
        ),
      );
    await expect(
      askBatch(
        { origin: "x", tenantId: "t", queries: ["A?"], key: "k", sessionToken: "t" },
        {},
        refuse,
      ),
    ).rejects.toThrow("Batch is off.");
    const broken = () => Promise.resolve(new Response("oops", { status: 502 }));
    await expect(
      askBatch(
        { origin: "x", tenantId: "t", queries: ["A?"], key: "k", sessionToken: "t" },
        {},
        broken,
      ),
    ).rejects.toThrow("HTTP 502");
    const failing = () =>
      Promise.resolve(
        new Response(
          'event: result\ndata: {"index":0}\n\nevent: error\ndata: {"message":"Down."}\n\n',
          {
            headers: { "content-type": "text/event-stream" },
          },
        ),
      );
    await expect(
      askBatch(
        { origin: "x", tenantId: "t", queries: ["A?"], key: "k", sessionToken: "t" },
        {},
        failing,
      ),
    ).rejects.toThrow("Down.");
  });

  it("turns results into answers, and lines into questions", () => {
    expect(resultAsDone(result(0, "A?"), "c")).toMatchObject({
      conversationId: "c",
      answer: "Answer 1 [1].",
      abstained: false,
    });
    const failed = result(0, "A?", { error: { code: "x", message: "No luck." } });
    expect(resultAsDone(failed, "c")).toMatchObject({ answer: "No luck.", abstained: true });
    expect(questionsOf(" One?\n\n  Two? \n")).toEqual(["One?", "Two?"]);
  });
});

describe("the batch add-on", () => {
  function setup() {
    const win = createWindow();
    const config = readConfig({ src: `${server.origin}/widget.js`, tenant: "t", key: "pk_test" });
    const view = mountView(win.document, config, { onSubmit: vi.fn(() => true), onRetry() {} });
    win.document.body.append(view.host);
    const added: Array<[string, DoneEvent]> = [];
    let provided: ((questions: string[]) => Promise<BatchResult[]>) | null = null;
    const context: AddOnContext = {
      origin: server.origin,
      tenantId: "t",
      view: view.parts,
      conversationId: () => null,
      key: "pk_test",
      sessionToken: async () => "tok_1",
      addAnswer: (question, done) => added.push([question, done]),
      open: () => view.open(),
      provideBatch: (askMany) => {
        provided = askMany;
      },
    };
    installBatch(context);
    return { win, view, added, askMany: () => provided!, shadow: view.host.shadowRoot! };
  }

  it("provides askMany, adding each answer to the conversation", async () => {
    const { askMany, added, shadow } = setup();
    const results = await askMany()(["A?", "B?"]);
    expect(results).toHaveLength(2);
    expect(added.map(([question, done]) => [question, done.answer])).toEqual([
      ["A?", "Answer 1 [1]."],
      ["B?", "No luck."],
    ]);
    expect(shadow.querySelector('[role="status"]')?.textContent).toBe("2/2");
    expect(shadow.querySelector(".pending")).toBeNull();
  });

  it("toggles the composer into one question per line", async () => {
    const { win, view, added, shadow } = setup();
    const toggle = shadow.querySelector<HTMLButtonElement>(".many")!;
    expect(toggle.getAttribute("aria-label")).toBe("Several questions");
    click(win, toggle);
    expect(toggle.getAttribute("aria-pressed")).toBe("true");
    const input = view.parts.input;
    expect(input.placeholder).toBe("One question per line");
    input.value = "  \n ";
    input.dispatchEvent(keyEvent(win, "keydown", { key: "Enter" }));
    expect(input.value).toBe("  \n "); // nothing to ask
    input.value = "A?\nB?";
    input.dispatchEvent(keyEvent(win, "keydown", { key: "Enter" }));
    expect(input.value).toBe("");
    await vi.waitFor(() => expect(added).toHaveLength(2));
    click(win, toggle);
    expect(toggle.getAttribute("aria-pressed")).toBe("false");
    expect(input.placeholder).toBe("Ask a question…");
  });

  it("shows why a batch failed", async () => {
    const { askMany, shadow } = setup();
    await expect(askMany()([])).resolves.toEqual([]);
    server.respond((_request, response) => {
      response
        .writeHead(400, { "content-type": "application/json" })
        .end(JSON.stringify({ error: { code: "bad_request", message: "Batch is off." } }));
    });
    await expect(askMany()(["A?"])).rejects.toThrow("Batch is off.");
    expect(shadow.querySelector('.error[role="alert"]')?.textContent).toBe("Batch is off.");
  });

  it("registers with window.BiTB now or when it is ready", () => {
    const addOn = vi.fn();
    const now = createWindow();
    now.BiTB = { addOn } as never;
    register(now);
    expect(addOn).toHaveBeenCalledWith(installBatch);

    const later = createWindow();
    register(later);
    later.BiTB = { addOn } as never;
    later.dispatchEvent(new Event("bitb:ready"));
    expect(addOn).toHaveBeenCalledTimes(2);
  });
});
