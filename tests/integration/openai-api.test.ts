// The OpenAI-compatible API of the built server, spoken to by the official `openai` client
// with a tenant's secret key: it lists the tenant as its model, answers from that tenant's
// knowledge base in both modes with [n] citations and the `citations` extension, uses the
// earlier messages as history, audits each completion like an ask, and refuses a bad key
// (401), an unknown model (404) and a key past its rate limit (429) in OpenAI's error shape.
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTenant, signIn, uploadFixtures, waitForJobs } from "../support/admin.ts";
import { createAdmin } from "../support/cli.ts";
import { makeSecretKey } from "../support/keys.ts";
import { type Client, startServer, tempDataDir, type TestServer } from "../support/server.ts";

let server: TestServer;
let admin: Client;
let espresso: string;
let ferry: string;
let espressoKey: string;

const QUESTION = "How often must the Lumen X2 espresso machine be descaled?";
const client = (apiKey: string) =>
  new OpenAI({ apiKey, baseURL: `${server.url}/v1`, maxRetries: 0 });

interface Citation {
  n: number;
  fileName: string | null;
}

beforeAll(async () => {
  const dataDir = tempDataDir();
  await createAdmin(dataDir);
  // Each key may ask 5 times a minute: the rate-limit test spends a key of its own.
  server = await startServer({ dataDir, env: { RATE_LIMIT_KEY_PER_MINUTE: "5" } });
  admin = await signIn(server.url);
  espresso = await createTenant(admin, "Lumen Espresso");
  ferry = await createTenant(admin, "Kestrel Ferries");
  const jobs = await Promise.all([
    uploadFixtures(admin, espresso, ["sample.md"]),
    uploadFixtures(admin, ferry, ["sample.txt"]),
  ]);
  await waitForJobs(admin, espresso, jobs[0]);
  await waitForJobs(admin, ferry, jobs[1]);
  espressoKey = await makeSecretKey(admin, espresso, "open-webui");
});
afterAll(async () => {
  await server?.stop();
});

describe("the OpenAI-compatible API", () => {
  it("lists the key's tenant as its one model", async () => {
    const models = await client(espressoKey).models.list();
    expect(models.data.map((model) => model.id)).toEqual([espresso]);
    expect(models.data[0]).toMatchObject({ object: "model", owned_by: "bitb" });
  });

  it("answers a completion from the tenant's knowledge base, citing as [n] and in citations", async () => {
    const completion = await client(espressoKey).chat.completions.create({
      model: espresso,
      messages: [
        { role: "system", content: "You are a helpful assistant." },
        { role: "user", content: QUESTION },
      ],
    });
    expect(completion.object).toBe("chat.completion");
    expect(completion.model).toBe(espresso);
    const message = completion.choices[0]!.message as (typeof completion.choices)[0]["message"] & {
      citations: Citation[];
    };
    expect(message.role).toBe("assistant");
    expect(message.content).toMatch(/3 weeks/);
    expect(message.content).toMatch(/\[\d+\]/);
    expect(message.citations.map((c) => c.fileName)).toContain("sample.md");
    for (const match of message.content!.matchAll(/\[(\d+)\]/g)) {
      expect(message.citations.map((c) => c.n)).toContain(Number(match[1]));
    }
    expect(completion.choices[0]!.finish_reason).toBe("stop");
    expect(completion.usage?.total_tokens).toBeGreaterThanOrEqual(0);
  });

  it("streams chunks that end with the citations, and [DONE]", async () => {
    const stream = await client(espressoKey).chat.completions.create({
      model: espresso,
      messages: [{ role: "user", content: "How often does the X2 need descaling?" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let citations: Citation[] = [];
    let finish: string | null = null;
    let usage: unknown = null;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      expect(chunk.object).toBe("chat.completion.chunk");
      if (chunk.usage) usage = chunk.usage;
      const choice = chunk.choices[0];
      if (!choice) continue;
      text += choice.delta.content ?? "";
      const extra = choice.delta as { citations?: Citation[] };
      if (extra.citations) citations = extra.citations;
      finish = choice.finish_reason ?? finish;
    }
    expect(chunks).toBeGreaterThan(2);
    expect(text).toMatch(/3 weeks/);
    expect(text).toMatch(/\[\d+\]/);
    expect(citations.map((c) => c.fileName)).toContain("sample.md");
    expect(finish).toBe("stop");
    expect(usage).toMatchObject({ total_tokens: expect.any(Number) });

    // On the wire: `data:` lines, the last one `data: [DONE]`.
    const res = await fetch(`${server.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${espressoKey}`, "content-type": "application/json" },
      body: JSON.stringify({
        model: espresso,
        stream: true,
        messages: [{ role: "user", content: QUESTION }],
      }),
    });
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const lines = (await res.text()).split("\n").filter(Boolean);
    expect(lines.every((line) => line.startsWith("data: "))).toBe(true);
    expect(lines.at(-1)).toBe("data: [DONE]");
  });

  it("answers only from the key's own tenant, and audits each completion as a key's ask", async () => {
    const completion = await client(espressoKey).chat.completions.create({
      model: espresso,
      messages: [
        { role: "user", content: QUESTION },
        { role: "assistant", content: "Every 3 weeks [1]." },
        { role: "user", content: "How often does the harbour ferry to Kestrel Island leave?" },
      ],
    });
    expect(JSON.stringify(completion)).not.toMatch(/40 minutes|sample\.txt/);

    const res = await admin.fetch(`/api/tenants/${espresso}/audit?kind=ask&limit=50`);
    const { entries } = (await res.json()) as {
      entries: Array<{ actor: string; action: string; outcome: string; cacheHit: boolean | null }>;
    };
    const asks = entries.filter((entry) => /^key:\d+$/.test(entry.actor));
    expect(asks.length).toBeGreaterThanOrEqual(4);
    expect(asks.map((entry) => entry.outcome)).toContain("answered");
    // The same first question again (the raw stream above) came from the answer cache.
    expect(asks.some((entry) => entry.cacheHit === true)).toBe(true);
  });

  it("refuses a bad key with 401, in OpenAI's error shape", async () => {
    const bad = client(`bitb_sk_${"A".repeat(32)}`);
    const error = await bad.models.list().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(error).toMatchObject({ status: 401, code: "invalid_api_key" });
    const chat = await bad.chat.completions
      .create({ model: espresso, messages: [{ role: "user", content: QUESTION }] })
      .catch((e: unknown) => e);
    expect(chat).toMatchObject({ status: 401, type: "authentication_error" });

    const res = await fetch(`${server.url}/v1/models`);
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect(await res.json()).toEqual({
      error: {
        message: "Send the tenant's secret API key as Authorization: Bearer bitb_sk_….",
        type: "authentication_error",
        code: "unauthorized",
        param: null,
      },
    });
  });

  it("refuses an unknown model (another tenant's too) with 404, and bad requests with 400", async () => {
    for (const model of ["gpt-4o", ferry]) {
      const error = await client(espressoKey)
        .chat.completions.create({ model, messages: [{ role: "user", content: QUESTION }] })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.NotFoundError);
      expect(error).toMatchObject({ status: 404, code: "model_not_found" });
    }
    const error = await client(espressoKey)
      .chat.completions.create({
        model: espresso,
        messages: [{ role: "assistant", content: "Hello" }],
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error).toMatchObject({ status: 400, type: "invalid_request_error" });
  });

  it("answers 429 with Retry-After once the key's rate limit is spent", async () => {
    const burst = client(await makeSecretKey(admin, espresso, "burst"));
    const ask = () =>
      burst.chat.completions.create({
        model: espresso,
        messages: [{ role: "user", content: QUESTION }],
      });
    for (let i = 0; i < 5; i++) await ask();
    const error = await ask().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect(error).toMatchObject({ status: 429, code: "rate_limited", type: "rate_limit_error" });
    expect(
      Number((error as InstanceType<typeof OpenAI.APIError>).headers?.get("retry-after")),
    ).toBeGreaterThan(0);
  });

  it("answers unknown /v1 paths and wrong methods in OpenAI's error shape", async () => {
    const missing = await fetch(`${server.url}/v1/embeddings`, { method: "POST" });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: "not_found" } });
    const wrong = await fetch(`${server.url}/v1/chat/completions`);
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get("allow")).toBe("POST");
    expect(await wrong.json()).toMatchObject({
      error: { code: "method_not_allowed", type: "invalid_request_error" },
    });
  });
});
