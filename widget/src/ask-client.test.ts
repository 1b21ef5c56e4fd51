// The client is driven against a real local HTTP server speaking the /api/ask protocol.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  citation,
  doneEvent,
  type FakeAskServer,
  startFakeAskServer,
  startSse,
  streamAnswer,
  writeEvent,
} from "../test/fake-ask-server.ts";
import { askStream, CONNECTION_LOST, httpFailure } from "./ask-client.ts";

let server: FakeAskServer;
beforeAll(async () => {
  server = await startFakeAskServer(() => {});
});
afterAll(() => server.close());

const ask = (
  overrides: Partial<Parameters<typeof askStream>[0]> = {},
  options: Parameters<typeof askStream>[2] = {},
) =>
  askStream(
    {
      origin: server.origin,
      tenantId: "trial",
      query: "How?",
      key: "pk_test",
      sessionToken: "tok_1",
      ...overrides,
    },
    {},
    options,
  );

describe("askStream", () => {
  it("posts the question as JSON, streams sources and tokens, and settles with done", async () => {
    const citations = [citation(1)];
    server.respond(streamAnswer({ answer: "Use **Fly** [1].", citations, conversationId: "c_9" }));
    const seen: string[] = [];
    const result = await askStream(
      {
        origin: server.origin,
        tenantId: "trial",
        query: "How do I deploy?",
        key: "pk_test",
        sessionToken: "tok_1",
      },
      {
        onSources: (conversationId, sources) =>
          seen.push(`sources ${conversationId} ${sources.length}`),
        onToken: (text) => seen.push(text),
      },
    );
    expect(result).toEqual({
      ok: true,
      done: doneEvent({ conversationId: "c_9", answer: "Use **Fly** [1].", citations }),
    });
    expect(seen).toEqual(["sources c_9 1", "Use ", "**Fly** ", "[1]."]);
    const request = server.requests.at(-1)!;
    expect(request.body).toEqual({
      tenant_id: "trial",
      query: "How do I deploy?",
      key: "pk_test",
      session_token: "tok_1",
    });
    expect(request.headers["content-type"]).toBe("application/json");
    expect(request.headers.accept).toBe("text/event-stream");
    expect(request.headers.cookie).toBeUndefined();
  });

  it("sends the visitor's session token, never a conversation id of its choosing", async () => {
    server.respond(streamAnswer({ answer: "Yes.", citations: [] }));
    await ask({ sessionToken: "tok_9", query: "And then?" });
    expect(server.requests.at(-1)!.body).toEqual({
      tenant_id: "trial",
      query: "And then?",
      key: "pk_test",
      session_token: "tok_9",
    });
  });

  it("reports the server's message for an HTTP error", async () => {
    server.respond((_request, response) => {
      response
        .writeHead(404, { "content-type": "application/json" })
        .end(JSON.stringify({ error: { code: "tenant_not_found", message: "No such tenant." } }));
    });
    expect(await ask()).toEqual({
      ok: false,
      failure: {
        kind: "http",
        code: "tenant_not_found",
        message: "No such tenant.",
        status: 404,
        retryable: false,
      },
    });
  });

  it("treats an OK response that is not an event stream as a failure", async () => {
    server.respond((_request, response) => {
      response.writeHead(200, { "content-type": "text/html" }).end("<html>proxy</html>");
    });
    const result = await ask();
    expect(result.ok).toBe(false);
    expect(!result.ok && result.failure.kind).toBe("http");
  });

  it("reports an error event from the stream", async () => {
    server.respond((_request, response) => {
      startSse(response);
      writeEvent(response, "sources", { conversationId: "c", sources: [] });
      writeEvent(response, "error", { code: "llm_unavailable", message: "The model is busy." });
      response.end();
    });
    expect(await ask()).toEqual({
      ok: false,
      failure: {
        kind: "server",
        code: "llm_unavailable",
        message: "The model is busy.",
        retryable: true,
      },
    });
  });

  it("fills in a missing error message", async () => {
    server.respond((_request, response) => {
      startSse(response);
      response.write("event: error\ndata: {}\n\n");
      response.end();
    });
    const result = await ask();
    expect(!result.ok && result.failure).toMatchObject({ kind: "server", code: "error" });
    expect(!result.ok && result.failure.message).toMatch(/went wrong/);
  });

  it("reports a connection dropped mid-answer as lost", async () => {
    server.respond((_request, response) => {
      startSse(response);
      writeEvent(response, "token", { text: "Half an" });
      setTimeout(() => response.destroy(), 20);
    });
    const tokens: string[] = [];
    const result = await askStream(
      {
        origin: server.origin,
        tenantId: "trial",
        query: "q",
        key: "pk_test",
        sessionToken: "tok_1",
      },
      { onToken: (text) => tokens.push(text) },
    );
    expect(tokens).toEqual(["Half an"]);
    expect(result).toEqual({
      ok: false,
      failure: {
        kind: "network",
        code: "network_error",
        message: CONNECTION_LOST,
        retryable: true,
      },
    });
  });

  it("reports a stream that ends without done as incomplete", async () => {
    server.respond((_request, response) => {
      startSse(response);
      writeEvent(response, "token", { text: "Hello" });
      response.end();
    });
    const result = await ask();
    expect(!result.ok && result.failure).toMatchObject({
      kind: "network",
      code: "incomplete_stream",
    });
  });

  it("gives up on a stalled stream after the idle timeout", async () => {
    server.respond((_request, response) => {
      startSse(response);
      writeEvent(response, "sources", { conversationId: "c", sources: [] });
      // …and then nothing.
    });
    const result = await ask({}, { idleTimeoutMs: 150 });
    expect(!result.ok && result.failure).toMatchObject({ kind: "network", code: "timeout" });
  });

  it("reports an unreachable server as a lost connection", async () => {
    const result = await ask({ origin: "http://127.0.0.1:9" });
    expect(!result.ok && result.failure).toMatchObject({ kind: "network", code: "network_error" });
  });

  it("reports a malformed event", async () => {
    server.respond((_request, response) => {
      startSse(response);
      response.write("event: token\ndata: {not json\n\n");
    });
    const result = await ask();
    expect(!result.ok && result.failure).toMatchObject({ kind: "network", code: "bad_event" });
  });

  it("ignores events after done and unknown events", async () => {
    server.respond((_request, response) => {
      startSse(response);
      response.write('event: ping\ndata: {}\n\nevent: token\ndata: {"text":1}\n\n');
      writeEvent(response, "done", doneEvent({ answer: "Final." }));
      writeEvent(response, "error", { code: "late", message: "too late" });
      response.end();
    });
    const result = await ask();
    expect(result.ok && result.done.answer).toBe("Final.");
  });

  it("normalises a done event without answer or citations", async () => {
    server.respond((_request, response) => {
      startSse(response);
      response.write('event: done\ndata: {"conversationId":"c"}\n\n');
      response.end();
    });
    const result = await ask();
    expect(result.ok && result.done).toMatchObject({
      conversationId: "c",
      answer: "",
      citations: [],
    });
  });

  it("stops when the caller aborts", async () => {
    server.respond((_request, response) => startSse(response));
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const result = await ask({}, { signal: controller.signal });
    expect(!result.ok && result.failure.kind).toBe("network");
  });
});

describe("httpFailure", () => {
  it("reads the one error shape and marks what is worth retrying", () => {
    expect(httpFailure(429, '{"error":{"code":"rate_limited","message":"Slow down."}}')).toEqual({
      kind: "http",
      code: "rate_limited",
      message: "Slow down.",
      status: 429,
      retryable: true,
    });
    expect(httpFailure(503, "").retryable).toBe(true);
    expect(httpFailure(400, "").retryable).toBe(false);
  });

  it("falls back to a generic message for other bodies", () => {
    expect(httpFailure(502, "<html>Bad gateway</html>")).toMatchObject({
      code: "http_502",
      message: "The request failed (HTTP 502).",
    });
    expect(httpFailure(500, '{"error":{"message":"  "}}').message).toBe(
      "The request failed (HTTP 500).",
    );
  });
});
