import { describe, expect, it } from "vitest";
import type {
  ToolCall,
  ToolCallingProvider,
  ToolTurn,
  ToolTurnRequest,
} from "../llm/tool-calling.server.ts";
import type { ActionName } from "./registry.server.ts";
import { runToolLoop } from "./tool-loop.server.ts";

/** A model that plays back turns in order and records what it was asked. */
function scriptedModel(turns: Array<Partial<ToolTurn>>) {
  const requests: ToolTurnRequest[] = [];
  const provider: ToolCallingProvider = {
    name: "scripted",
    model: "script-1",
    async turn(request) {
      requests.push({ ...request, messages: [...request.messages] });
      const next = turns[Math.min(requests.length - 1, turns.length - 1)] ?? {};
      return {
        text: next.text ?? "",
        toolCalls: next.toolCalls ?? [],
        finishReason: next.toolCalls?.length ? "tool_calls" : "stop",
        usage: next.usage ?? { promptTokens: 10, completionTokens: 2, estimated: false },
      };
    },
  };
  return { provider, requests };
}

const call = (id: string, name: string, args: unknown): ToolCall => ({
  id,
  name,
  arguments: typeof args === "string" ? args : JSON.stringify(args),
});
const question = [{ role: "user" as const, content: "Where is order A-10452?" }];

describe("runToolLoop", () => {
  it("chains read-only calls, feeding each result back, until the model answers", async () => {
    const { provider, requests } = scriptedModel([
      { toolCalls: [call("c1", "search_knowledge_base", { query: "delivery times" })] },
      { toolCalls: [call("c2", "order_tracking", { order_number: "A-10452" })] },
      { text: "Your order ships tomorrow." },
    ]);
    const ran: string[] = [];
    const result = await runToolLoop({
      provider,
      messages: question,
      enabled: ["order_tracking"],
      runReadOnly: async (name, args) => {
        ran.push(`${name} ${JSON.stringify(args)}`);
        return name === "order_tracking" ? "Shipped: arrives tomorrow." : "Delivery takes 2 days.";
      },
    });
    expect(result).toMatchObject({ kind: "answer", text: "Your order ships tomorrow." });
    expect(ran).toEqual([
      'search_knowledge_base {"query":"delivery times"}',
      'order_tracking {"order_number":"A-10452"}',
    ]);
    expect(result.steps.map((s) => s.outcome)).toEqual(["ran", "ran"]);
    expect(result.usage).toEqual({ promptTokens: 30, completionTokens: 6, estimated: false });
    // The second turn saw the first call and its result.
    expect(requests[1]?.messages.slice(1)).toEqual([
      {
        role: "assistant",
        content: "",
        toolCalls: [call("c1", "search_knowledge_base", { query: "delivery times" })],
      },
      { role: "tool", toolCallId: "c1", content: "Delivery takes 2 days." },
    ]);
    expect(requests[0]?.tools.map((t) => t.name)).toEqual([
      "search_knowledge_base",
      "order_tracking",
    ]);
    expect(requests.every((r) => r.toolChoice === "auto")).toBe(true);
  });

  it("answers an invalid or unknown call with the error, and the model corrects itself", async () => {
    const { provider, requests } = scriptedModel([
      {
        toolCalls: [
          call("c1", "order_tracking", { order_number: "#" }),
          call("c2", "book_appointment", { date: "2026-12-24" }),
        ],
      },
      { toolCalls: [call("c3", "order_tracking", { order_number: "A-10452" })] },
      { text: "It is on its way." },
    ]);
    const result = await runToolLoop({
      provider,
      messages: question,
      enabled: ["order_tracking"],
      runReadOnly: async () => "In transit.",
    });
    expect(result.kind).toBe("answer");
    expect(result.steps.map((s) => [s.call.id, s.outcome])).toEqual([
      ["c1", "invalid"],
      ["c2", "invalid"],
      ["c3", "ran"],
    ]);
    expect(requests[1]?.messages.filter((m) => m.role === "tool")).toEqual([
      {
        role: "tool",
        toolCallId: "c1",
        content:
          "Invalid arguments for order_tracking: order_number: An order number is 3–40 letters, digits or dashes.",
      },
      { role: "tool", toolCallId: "c2", content: 'There is no action named "book_appointment".' },
    ]);
  });

  it("never runs an action that changes something: it stops and proposes it for confirmation", async () => {
    const { provider } = scriptedModel([
      {
        text: "I can book that for you.",
        toolCalls: [
          call("c1", "search_knowledge_base", { query: "opening hours friday" }),
          call("c2", "book_appointment", { date: "2026-12-24", time: "14:30", party_size: 2 }),
          call("c3", "handoff_to_human", { reason: "also wants a person" }),
        ],
      },
    ]);
    const ran: ActionName[] = [];
    const result = await runToolLoop({
      provider,
      messages: [{ role: "user", content: "Book a table for two on Christmas Eve at 14:30" }],
      enabled: ["book_appointment", "handoff_to_human"],
      runReadOnly: async (name) => {
        ran.push(name);
        return "Open 9–17.";
      },
    });
    expect(ran).toEqual(["search_knowledge_base"]);
    expect(result).toMatchObject({
      kind: "confirm",
      text: "I can book that for you.",
      proposal: {
        callId: "c2",
        name: "book_appointment",
        args: { date: "2026-12-24", time: "14:30", party_size: 2 },
      },
    });
    expect(result.steps.map((s) => s.outcome)).toEqual(["ran", "proposed", "skipped"]);
    // The proposal's result is for the caller to add once the visitor has confirmed.
    const results = result.messages.filter((m) => m.role === "tool").map((m) => m.toolCallId);
    expect(results).toEqual(["c1", "c3"]);
  });

  it("forces a text answer once the step budget is spent", async () => {
    const { provider, requests } = scriptedModel([
      { toolCalls: [call("c", "search_knowledge_base", { query: "again" })], text: "Searching." },
    ]);
    const result = await runToolLoop({
      provider,
      messages: question,
      enabled: [],
      maxSteps: 2,
      runReadOnly: async () => "Nothing new.",
    });
    expect(requests.map((r) => r.toolChoice)).toEqual(["auto", "auto", "none"]);
    expect(result).toMatchObject({ kind: "answer", text: "Searching." });
    expect(result.steps).toHaveLength(2);
  });

  it("tells the model when a read-only action failed, and rethrows when the ask was cancelled", async () => {
    const { provider } = scriptedModel([
      { toolCalls: [call("c1", "order_tracking", { order_number: "A-10452" })] },
      { text: "Sorry, tracking is down." },
    ]);
    const failing = async () => {
      throw new Error("carrier API down");
    };
    const result = await runToolLoop({
      provider,
      messages: question,
      enabled: ["order_tracking"],
      runReadOnly: failing,
    });
    expect(result.steps[0]).toMatchObject({
      outcome: "failed",
      result: "order_tracking failed: it could not be completed just now.",
    });
    const controller = new AbortController();
    controller.abort();
    await expect(
      runToolLoop({
        provider: scriptedModel([
          { toolCalls: [call("c1", "order_tracking", { order_number: "A-1045" })] },
        ]).provider,
        messages: question,
        enabled: ["order_tracking"],
        runReadOnly: failing,
        signal: controller.signal,
      }),
    ).rejects.toThrow("carrier API down");
  });
});
