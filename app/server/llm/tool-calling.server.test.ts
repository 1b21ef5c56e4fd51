// The tool-calling providers drive the real `openai` and `groq-sdk` clients against a local
// chat-completions server that answers with scripted tool calls (valid, invalid, chained) or
// fails, and records what it was sent.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runToolLoop } from "../actions/tool-loop.server.ts";
import { actionJsonSchema } from "../actions/registry.server.ts";
import { AnswerProviderError } from "./openai-compatible.server.ts";
import {
  createGroqToolCaller,
  createOpenAICompatibleToolCaller,
  readCompletion,
  toWireMessages,
} from "./tool-calling.server.ts";

interface Scripted {
  status?: number;
  headers?: Record<string, string>;
  body: unknown;
}

let server: http.Server;
let url: string;
let script: Scripted[] = [];
const received: Array<{ path: string; auth: string | undefined; body: Record<string, unknown> }> =
  [];

const toolCall = (id: string, name: string, args: unknown) => ({
  id,
  type: "function",
  function: { name, arguments: typeof args === "string" ? args : JSON.stringify(args) },
});
const completion = (
  message: Record<string, unknown>,
  finish = "tool_calls",
  usage = true,
): Scripted => ({
  body: {
    id: "chatcmpl-1",
    object: "chat.completion",
    created: 0,
    model: "m",
    choices: [{ index: 0, finish_reason: finish, message: { role: "assistant", ...message } }],
    ...(usage ? { usage: { prompt_tokens: 50, completion_tokens: 7, total_tokens: 57 } } : {}),
  },
});

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let raw = "";
    req.on("data", (chunk) => (raw += chunk));
    req.on("end", () => {
      received.push({
        path: req.url ?? "",
        auth: req.headers.authorization,
        body: JSON.parse(raw) as Record<string, unknown>,
      });
      const next = script.shift() ?? completion({ content: "Done." }, "stop");
      res.writeHead(next.status ?? 200, { "content-type": "application/json", ...next.headers });
      res.end(JSON.stringify(next.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => {
  script = [];
  received.length = 0;
});

const openai = () =>
  createOpenAICompatibleToolCaller({
    baseUrl: `${url}/v1`,
    model: "m",
    maxTokens: 300,
    timeoutMs: 5000,
  });

describe("the OpenAI-compatible tool caller", () => {
  it("sends the tools as functions with their JSON Schemas, masked text, and reads the calls", async () => {
    script = [
      completion({
        content: null,
        tool_calls: [toolCall("call_1", "order_tracking", { order_number: "A-10452" })],
      }),
    ];
    const turn = await openai().turn({
      messages: [
        { role: "system", content: "You help shoppers." },
        { role: "user", content: "Where is A-10452? Mail me at jane@example.com" },
      ],
      tools: [
        {
          name: "order_tracking",
          description: "Track an order.",
          parameters: actionJsonSchema("order_tracking"),
        },
      ],
    });
    expect(turn).toEqual({
      text: "",
      toolCalls: [
        { id: "call_1", name: "order_tracking", arguments: '{"order_number":"A-10452"}' },
      ],
      finishReason: "tool_calls",
      usage: { promptTokens: 50, completionTokens: 7, estimated: false },
    });
    const sent = received[0];
    expect(sent?.path).toBe("/v1/chat/completions");
    expect(sent?.auth).toBeUndefined();
    expect(sent?.body).toMatchObject({
      model: "m",
      tool_choice: "auto",
      max_tokens: 300,
      tools: [
        {
          type: "function",
          function: {
            name: "order_tracking",
            description: "Track an order.",
            parameters: { type: "object", required: ["order_number"] },
          },
        },
      ],
    });
    expect(JSON.stringify(sent?.body)).not.toContain("jane@example.com");
    expect(JSON.stringify(sent?.body)).toContain("[EMAIL]");
  });

  it("runs a chained loop: an invalid call corrected, a search, then a proposal to confirm", async () => {
    script = [
      completion({
        content: "",
        tool_calls: [toolCall("c1", "book_appointment", '{"date":"soon"')],
      }),
      completion({
        content: "",
        tool_calls: [toolCall("c2", "search_knowledge_base", { query: "opening hours" })],
      }),
      completion({
        content: "Shall I book 24 December at 14:30?",
        tool_calls: [toolCall("c3", "book_appointment", { date: "2026-12-24", time: "14:30" })],
      }),
    ];
    const result = await runToolLoop({
      provider: openai(),
      messages: [{ role: "user", content: "Book me in on Christmas Eve afternoon" }],
      enabled: ["book_appointment"],
      runReadOnly: async () => "Open 9–17 on 24 December.",
    });
    expect(result).toMatchObject({
      kind: "confirm",
      text: "Shall I book 24 December at 14:30?",
      proposal: {
        callId: "c3",
        name: "book_appointment",
        args: { date: "2026-12-24", time: "14:30" },
      },
      usage: { promptTokens: 150, completionTokens: 21, estimated: false },
    });
    expect(result.steps.map((s) => s.outcome)).toEqual(["invalid", "ran", "proposed"]);
    // The third request carries the whole exchange in the wire format.
    const messages = received[2]?.body.messages as Array<Record<string, unknown>>;
    expect(messages.map((m) => m.role)).toEqual(["user", "assistant", "tool", "assistant", "tool"]);
    expect(messages[1]).toMatchObject({
      tool_calls: [{ id: "c1", type: "function", function: { name: "book_appointment" } }],
    });
    expect(messages[2]).toEqual({
      role: "tool",
      tool_call_id: "c1",
      content: "The arguments of book_appointment are not valid JSON.",
    });
    expect(messages[4]).toEqual({
      role: "tool",
      tool_call_id: "c2",
      content: "Open 9–17 on 24 December.",
    });
  });

  it("turns HTTP failures into AnswerProviderError with the server's wait", async () => {
    script = [
      { status: 429, headers: { "retry-after": "3" }, body: { error: { message: "slow down" } } },
    ];
    const error = await openai()
      .turn({ messages: [{ role: "user", content: "hi" }], tools: [] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AnswerProviderError);
    expect(error).toMatchObject({ kind: "http", status: 429, retryable: true, retryAfterMs: 3000 });
    // No tools: neither `tools` nor `tool_choice` is sent.
    expect(received[0]?.body).not.toHaveProperty("tools");
    expect(received[0]?.body).not.toHaveProperty("tool_choice");
  });

  it("reports an aborted turn as aborted", async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(
      openai().turn({
        messages: [{ role: "user", content: "hi" }],
        tools: [],
        signal: controller.signal,
      }),
    ).rejects.toMatchObject({ kind: "aborted" });
  });
});

describe("the Groq tool caller", () => {
  it("posts to Groq's path with the key and reads a text answer", async () => {
    script = [completion({ content: "We open at 9." }, "stop", false)];
    const groq = createGroqToolCaller({
      apiKey: "gsk_test",
      baseUrl: url,
      model: "llama",
      maxTokens: 100,
      timeoutMs: 5000,
    });
    expect(groq.name).toBe("groq");
    const turn = await groq.turn({
      messages: [{ role: "user", content: "When do you open?" }],
      tools: [
        {
          name: "search_knowledge_base",
          description: "Search.",
          parameters: actionJsonSchema("search_knowledge_base"),
        },
      ],
      toolChoice: "none",
      model: "tenant-model",
    });
    expect(received[0]?.path).toBe("/openai/v1/chat/completions");
    expect(received[0]?.auth).toBe("Bearer gsk_test");
    expect(received[0]?.body).toMatchObject({ model: "tenant-model", tool_choice: "none" });
    expect(turn.text).toBe("We open at 9.");
    expect(turn.finishReason).toBe("stop");
    expect(turn.usage.estimated).toBe(true);
    expect(turn.usage.promptTokens).toBeGreaterThan(0);
  });
});

describe("the wire format", () => {
  it("masks every message and keeps tool-call ids paired", () => {
    expect(
      toWireMessages([
        { role: "assistant", content: "Call +44 20 7946 0958" },
        {
          role: "assistant",
          content: "",
          toolCalls: [{ id: "a", name: "x", arguments: '{"q":"jane@example.com"}' }],
        },
        { role: "tool", toolCallId: "a", content: "card 4111 1111 1111 1111" },
      ]),
    ).toEqual([
      { role: "assistant", content: "Call [PHONE]" },
      {
        role: "assistant",
        content: "",
        tool_calls: [
          { id: "a", type: "function", function: { name: "x", arguments: '{"q":"[EMAIL]"}' } },
        ],
      },
      { role: "tool", tool_call_id: "a", content: "card [CARD]" },
    ]);
  });

  it("drops calls of other kinds, names missing ids and reads odd finish reasons", () => {
    const turn = readCompletion(
      {
        choices: [
          {
            finish_reason: "content_filter",
            message: {
              content: null,
              tool_calls: [
                { type: "custom", function: { name: "x" } },
                { function: { name: "search_knowledge_base", arguments: undefined } },
              ],
            },
          },
        ],
      },
      { model: "m", messages: [], max_tokens: 1, temperature: 0 },
    );
    expect(turn.toolCalls).toEqual([
      { id: "call_1", name: "search_knowledge_base", arguments: "" },
    ]);
    expect(turn.finishReason).toBe("other");
    expect(
      readCompletion({}, { model: "m", messages: [], max_tokens: 1, temperature: 0 }),
    ).toMatchObject({
      text: "",
      toolCalls: [],
    });
  });
});
