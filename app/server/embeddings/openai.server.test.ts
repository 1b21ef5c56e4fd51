import net from "node:net";
import { context, propagation, SpanKind, trace } from "@opentelemetry/api";
import {
  InMemorySpanExporter,
  NodeTracerProvider,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-node";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startFakeLlm, type FakeLlm } from "../../../tests/support/fake-llm.ts";
import { createEmbedder } from "./index.server.ts";
import { createOpenAIEmbedder, EmbeddingProviderError } from "./openai.server.ts";

let fake: FakeLlm;

/** A port nothing listens on: bound once, then released. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

beforeAll(async () => {
  fake = await startFakeLlm();
});

afterAll(async () => {
  await fake.close();
});

beforeEach(() => {
  fake.requests.length = 0;
  fake.setBehaviour({ failStatus: null, embed: (text) => [text.length, 1, 0] });
});

const options = () => ({
  baseUrl: `${fake.url}/v1`,
  model: "nomic-embed-text",
  batchSize: 2,
  timeoutMs: 5_000,
});

describe("createOpenAIEmbedder", () => {
  it("traces each call as a CLIENT span and sends its traceparent", async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new NodeTracerProvider({
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    provider.register();
    try {
      const embedder = await createOpenAIEmbedder(options());
      await embedder.embed(["a"], "query");
      const calls = exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.CLIENT);
      expect(calls.map((s) => s.name)).toEqual([
        "embeddings nomic-embed-text",
        "embeddings nomic-embed-text",
      ]);
      expect(calls[1]?.attributes).toMatchObject({
        "gen_ai.operation.name": "embeddings",
        "gen_ai.request.model": "nomic-embed-text",
      });
      const { traceId, spanId } = calls[1]!.spanContext();
      expect(fake.requests[1]?.headers.traceparent).toBe(`00-${traceId}-${spanId}-01`);
    } finally {
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    }
  });

  it("probes the dimension, then embeds in batches, in input order, normalised", async () => {
    const embedder = await createOpenAIEmbedder({ ...options(), apiKey: "sk-secret" });
    expect(embedder.model).toBe("openai:nomic-embed-text");
    expect(embedder.dimension).toBe(3);

    const vectors = await embedder.embed(["a", "bbb", "cc", "dddd", "e"], "document");
    // The fake answers in reverse order; [length, 1, 0] normalised tells which input it was.
    expect(vectors.map((v) => Math.round((v[0] as number) / (v[1] as number)))).toEqual([
      1, 3, 2, 4, 1,
    ]);
    for (const vector of vectors) expect(Math.hypot(...vector)).toBeCloseTo(1, 5);

    // One probe plus three batches of at most two.
    expect(fake.requests).toHaveLength(4);
    expect(fake.requests.map((r) => (r.body as { input: string[] }).input.length)).toEqual([
      1, 2, 2, 1,
    ]);
    expect(fake.requests[1]).toMatchObject({
      path: "/v1/embeddings",
      body: { model: "nomic-embed-text", input: ["a", "bbb"] },
    });
    expect(fake.requests[1]?.headers.authorization).toBe("Bearer sk-secret");
  });

  it("sends no Authorization header without a key, and accepts a trailing slash", async () => {
    const embedder = await createOpenAIEmbedder({ ...options(), baseUrl: `${fake.url}/v1/` });
    await embedder.embed(["x"], "query");
    expect(fake.requests.at(-1)?.path).toBe("/v1/embeddings");
    expect(fake.requests.at(-1)?.headers.authorization).toBeUndefined();
  });

  it("reports HTTP errors with status and body, never the key", async () => {
    fake.setBehaviour({ failStatus: 500 });
    const attempt = createOpenAIEmbedder({ ...options(), apiKey: "sk-secret" });
    await expect(attempt).rejects.toBeInstanceOf(EmbeddingProviderError);
    const error = (await attempt.catch((e: unknown) => e)) as EmbeddingProviderError;
    expect(error.status).toBe(500);
    expect(error.message).toMatch(/HTTP 500: .*fake failure 500/);
    expect(error.message).not.toContain("sk-secret");
  });

  it("rejects vectors whose length changes between calls", async () => {
    const embedder = await createOpenAIEmbedder(options());
    fake.setBehaviour({ embed: () => [1, 2] });
    await expect(embedder.embed(["x"], "query")).rejects.toThrow(/2 dimensions, expected 3/);
  });

  it("rejects malformed vectors", async () => {
    // JSON has no NaN: the fake sends null, which is not a number.
    fake.setBehaviour({ embed: () => [1, Number.NaN] });
    await expect(createOpenAIEmbedder(options())).rejects.toThrow(/malformed vector for input 0/);
  });

  it("rejects a reply with too few vectors or invalid JSON", async () => {
    await expect(
      createOpenAIEmbedder({ ...options(), fetch: async () => Response.json({ data: [] }) }),
    ).rejects.toThrow(/returned 0 vectors for 1 inputs/);
    await expect(
      createOpenAIEmbedder({ ...options(), fetch: async () => new Response("not json") }),
    ).rejects.toThrow(/invalid JSON/);
  });

  it("reports an unreachable server and a timeout", async () => {
    const port = await closedPort();
    const refused = await createOpenAIEmbedder({
      ...options(),
      baseUrl: `http://127.0.0.1:${port}/v1`,
    }).catch((e: unknown) => e as Error);
    expect(refused).toBeInstanceOf(EmbeddingProviderError);
    expect((refused as Error).message).toMatch(
      new RegExp(`request to http://127\\.0\\.0\\.1:${port}/v1/embeddings failed: .*ECONNREFUSED`),
    );
    // Credentials in the configured URL never reach the message.
    const withCredentials = await createOpenAIEmbedder({
      ...options(),
      baseUrl: "http://user:pw@127.0.0.1:1/v1",
    }).catch((e: unknown) => e as Error);
    expect((withCredentials as Error).message).toMatch(/failed/);
    expect((withCredentials as Error).message).not.toContain("pw");
    await expect(
      createOpenAIEmbedder({
        ...options(),
        timeoutMs: 20,
        fetch: (_url, init) =>
          new Promise((_resolve, reject) =>
            init?.signal?.addEventListener("abort", () => reject(init.signal?.reason)),
          ),
      }),
    ).rejects.toThrow(/timed out after 20 ms/);
  });
});

describe("createEmbedder", () => {
  it("builds the OpenAI-compatible embedder from its config", async () => {
    const embedder = await createEmbedder(
      { kind: "openai", baseUrl: `${fake.url}/v1`, model: "m", batchSize: 8 },
      { timeoutMs: 5_000 },
    );
    expect(embedder.model).toBe("openai:m");
    expect(embedder.dimension).toBe(3);
  });

  it("builds the local embedder when nothing is configured", async () => {
    const embedder = await createEmbedder({ kind: "local" }, { timeoutMs: 5_000 });
    expect(embedder.model).toBe("local:use-lite-512");
    await embedder.close?.();
  }, 60_000);
});
