// The MCP endpoint in process: the SDK's own client speaks Streamable HTTP to
// handleMcpRequest through a fetch function, against real tenant databases.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { listAudit } from "#tenants/audit.ts";
import { loadHistory } from "#tenants/conversations.ts";
import { replaceDocument } from "#tenants/knowledge-base.ts";
import { TenantPool } from "#tenants/store.ts";
import { FakeEmbedder } from "../../../tests/support/fake-embedder.ts";
import { createAnswerCache } from "../ask/answer-cache.server.ts";
import { createRetrievalCache } from "../ask/retrieval-cache.server.ts";
import { parseConfig } from "../config.server.ts";
import { openControlDb, type ControlDb, type TenantRecord } from "../control-db.server.ts";
import { errorResponse } from "../errors.server.ts";
import { createSecretKey, revokeSecretKey } from "../access/keys.server.ts";
import { closeLimiters } from "../limits/limits.server.ts";
import { setTenantQuota } from "../limits/quota.server.ts";
import { createExtractiveAnswerer } from "../llm/extractive.server.ts";
import type { AnswerProvider } from "../llm/provider.server.ts";
import { silentLogger } from "../logger.server.ts";
import { createTenant, tenantDb } from "../tenancy/tenants.server.ts";
import { handleMcpRequest, toolError } from "./mcp.server.ts";
import type { McpRuntime } from "./tools.server.ts";

const embedder = new FakeEmbedder({ dimension: 16 });
let dir: string;
let control: ControlDb;
let pool: TenantPool;
let runtime: McpRuntime;
let shop: TenantRecord;
let library: TenantRecord;
let shopKey: string;
let libraryKey: string;
const clients: Client[] = [];

function makeRuntime(env: Record<string, string> = {}, answerer?: AnswerProvider): McpRuntime {
  const config = parseConfig({ DATA_DIR: dir, LOG_LEVEL: "silent", ...env });
  return {
    config,
    control,
    tenants: pool,
    embedder,
    answerer: answerer ?? createExtractiveAnswerer(),
    logger: silentLogger,
    retrievalCache: createRetrievalCache(config),
    answerCache: createAnswerCache(config),
  };
}

function addDocument(tenant: TenantRecord, title: string, text: string, url: string | null) {
  replaceDocument(tenantDb(runtime, tenant), {
    sourceKey: url ? `url:${url}` : `text:${title}`,
    sourceType: url ? "url" : "text",
    title,
    url,
    contentHash: title,
    bytes: text.length,
    chunks: [
      { ord: 0, headingPath: title, text, tokenCount: 20, embedding: embedder.vector(text) },
    ],
  });
}

/** The endpoint as the route serves it: errors before the MCP layer in the one error shape. */
function endpointFetch(rt: McpRuntime, pathTenantId?: string) {
  return async (url: string | URL, init?: RequestInit) => {
    try {
      return await handleMcpRequest(rt, new Request(url, init), { pathTenantId });
    } catch (error) {
      return errorResponse(error);
    }
  };
}

async function connect(
  secret: string | null,
  options: { rt?: McpRuntime; pathTenantId?: string } = {},
): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL("http://bitb.test/api/mcp"), {
    fetch: endpointFetch(options.rt ?? runtime, options.pathTenantId),
    requestInit: secret ? { headers: { authorization: `Bearer ${secret}` } } : {},
  });
  const client = new Client({ name: "bitb-tests", version: "1.0.0" });
  await client.connect(transport);
  clients.push(client);
  return client;
}

function errorOf(result: CallToolResult): { code: string; message: string } {
  expect(result.isError).toBe(true);
  const first = result.content[0];
  if (first?.type !== "text") throw new Error("no text content");
  return (JSON.parse(first.text) as { error: { code: string; message: string } }).error;
}

function textOf(result: CallToolResult): string {
  const first = result.content[0];
  if (first?.type !== "text") throw new Error("no text content");
  return first.text;
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-mcp-"));
  control = openControlDb(dir);
  pool = new TenantPool(dir, { model: embedder.model, dimension: embedder.dimension }, 4);
  runtime = makeRuntime();
  shop = createTenant(runtime, { name: "Lumen Shop", plan: "pro" });
  library = createTenant(runtime, { name: "Orchid Library", plan: "pro" });
  addDocument(
    shop,
    "Descaling",
    "The Lumen X2 espresso machine must be descaled every 3 weeks.",
    "https://shop.example/descaling",
  );
  addDocument(
    library,
    "Borrowing",
    "Members of the Orchid Valley Library may borrow 12 books at a time.",
    null,
  );
  shopKey = createSecretKey(control, { tenantId: shop.id, name: "agent", createdBy: "t" }).secret;
  libraryKey = createSecretKey(control, {
    tenantId: library.id,
    name: "agent",
    createdBy: "t",
  }).secret;
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  pool.closeAll();
  control.close();
  closeLimiters();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("MCP endpoint", () => {
  it("names its release from package.json and announces no tool-list changes", async () => {
    const client = await connect(shopKey);
    const { version } = JSON.parse(
      fs.readFileSync(path.resolve(import.meta.dirname, "../../../package.json"), "utf8"),
    ) as { version: string };
    expect(client.getServerVersion()?.version).toBe(version);
    expect(client.getServerCapabilities()?.tools).toEqual({});
  });

  it("refuses JSON-RPC batches under 2025-06-18 and later, answers them under 2025-03-26", async () => {
    const send = endpointFetch(runtime);
    const batch = (revision: string | null) =>
      send("http://bitb.test/api/mcp", {
        method: "POST",
        headers: {
          authorization: `Bearer ${shopKey}`,
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          ...(revision ? { "mcp-protocol-version": revision } : {}),
        },
        body: JSON.stringify([
          { jsonrpc: "2.0", id: 1, method: "tools/list" },
          { jsonrpc: "2.0", id: 2, method: "ping" },
        ]),
      });
    for (const revision of ["2025-06-18", "2025-11-25"]) {
      const refused = await batch(revision);
      expect(refused.status).toBe(400);
      expect(await refused.json()).toMatchObject({
        jsonrpc: "2.0",
        id: null,
        error: { code: -32600, message: expect.stringMatching(/batches/) },
      });
    }
    // The spec's default for a client that names no revision is 2025-03-26, which had them.
    for (const revision of ["2025-03-26", null]) {
      const answered = await batch(revision);
      expect(answered.status).toBe(200);
      const replies = (await answered.json()) as Array<{ id: number }>;
      expect(replies.map((r) => r.id).sort()).toEqual([1, 2]);
    }
  });

  it("lists the two tools with their JSON Schemas", async () => {
    const client = await connect(shopKey);
    expect(client.getServerVersion()?.name).toBe("bitb");
    expect(client.getInstructions()).toContain("Lumen Shop");
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(["ask", "search_knowledge_base"]);
    const search = tools.find((t) => t.name === "search_knowledge_base");
    expect(search?.inputSchema.required).toEqual(["query"]);
    expect(search?.inputSchema).toMatchObject({ additionalProperties: false });
    expect(search?.annotations?.readOnlyHint).toBe(true);
    expect(search?.outputSchema?.properties).toHaveProperty("results");
  });

  it("searches the key's tenant: titles, snippets and sources", async () => {
    const client = await connect(shopKey);
    const result = (await client.callTool({
      name: "search_knowledge_base",
      arguments: { query: "how often descale the espresso machine", top_k: 3 },
    })) as CallToolResult;
    expect(result.isError).toBeFalsy();
    const { results } = result.structuredContent as {
      results: Array<{ title: string; snippet: string; source: string | null }>;
    };
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({
      title: "Descaling",
      source: "https://shop.example/descaling",
    });
    expect(results[0]?.snippet).toContain("every 3 weeks");
    expect(textOf(result)).toContain("[1] Descaling — https://shop.example/descaling");
  });

  it("answers with citations, records the conversation and continues it", async () => {
    const client = await connect(shopKey);
    const first = (await client.callTool({
      name: "ask",
      arguments: { question: "How often must the Lumen X2 espresso machine be descaled?" },
    })) as CallToolResult;
    expect(first.isError).toBeFalsy();
    const answer = first.structuredContent as {
      conversationId: string;
      answer: string;
      citations: Array<{ title: string }>;
      abstained: boolean;
    };
    expect(answer.answer).toMatch(/3 weeks/);
    expect(answer.abstained).toBe(false);
    expect(answer.citations[0]?.title).toBe("Descaling");
    expect(textOf(first)).toContain("Sources:\n[1] Descaling");

    const followUp = (await client.callTool({
      name: "ask",
      arguments: { question: "and the X2 descaling?", conversation_id: answer.conversationId },
    })) as CallToolResult;
    expect(followUp.isError).toBeFalsy();
    const history = loadHistory(tenantDb(runtime, shop), answer.conversationId, 10);
    expect(history.filter((turn) => turn.role === "user")).toHaveLength(2);
  });

  it("never reaches another tenant: its documents, its path or its id as an argument", async () => {
    const client = await connect(shopKey);
    const search = (await client.callTool({
      name: "search_knowledge_base",
      arguments: { query: "How many books can members of the Orchid Valley Library borrow?" },
    })) as CallToolResult;
    const { results } = search.structuredContent as { results: Array<{ title: string }> };
    expect(results.map((r) => r.title)).not.toContain("Borrowing");

    const ask = (await client.callTool({
      name: "ask",
      arguments: { question: "How many books can Orchid Valley Library members borrow?" },
    })) as CallToolResult;
    expect(JSON.stringify(ask.structuredContent)).not.toContain("12 books");

    const otherTenant = [
      { name: "search_knowledge_base", arguments: { query: "books", tenant_id: library.id } },
      { name: "ask", arguments: { question: "books?", tenant_id: library.id } },
    ];
    for (const call of otherTenant) {
      const refused = (await client.callTool(call)) as CallToolResult;
      expect(errorOf(refused), call.name).toEqual({
        code: "not_found",
        message: "No such tenant.",
      });
    }
    const own = (await client.callTool({
      name: "search_knowledge_base",
      arguments: { query: "descaled", tenant_id: shop.id },
    })) as CallToolResult;
    expect(own.isError).toBeFalsy();

    // The other tenant's path with this key: refused before any MCP message is read.
    await expect(connect(shopKey, { pathTenantId: library.id })).rejects.toMatchObject({
      code: 404,
      message: expect.stringContaining('"code":"not_found"'),
    });
    const ownPath = await connect(libraryKey, { pathTenantId: library.id });
    expect((await ownPath.listTools()).tools).toHaveLength(2);
  });

  it("refuses a missing, unknown or revoked key with 401 and a Bearer challenge", async () => {
    const unauthorized = { code: 401, message: expect.stringContaining('"code":"unauthorized"') };
    await expect(connect(null)).rejects.toMatchObject(unauthorized);
    await expect(connect(`bitb_sk_${"x".repeat(32)}`)).rejects.toMatchObject(unauthorized);
    const revoked = createSecretKey(control, { tenantId: shop.id, name: "gone", createdBy: "t" });
    expect((await connect(revoked.secret)).getServerVersion()?.name).toBe("bitb");
    revokeSecretKey(control, shop.id, revoked.key.id);
    await expect(connect(revoked.secret)).rejects.toMatchObject(unauthorized);

    const res = await endpointFetch(runtime)("http://bitb.test/api/mcp", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="bitb-mcp"');
    expect(await res.json()).toEqual({
      error: {
        code: "unauthorized",
        message: "Send the tenant's secret API key as Authorization: Bearer bitb_sk_….",
      },
    });
  });

  it("answers GET and DELETE with 405: there is no session stream", async () => {
    for (const method of ["GET", "DELETE"]) {
      const res = await endpointFetch(runtime)("http://bitb.test/api/mcp", {
        method,
        headers: { authorization: `Bearer ${shopKey}`, accept: "text/event-stream" },
      });
      expect(res.status).toBe(405);
      expect(res.headers.get("allow")).toBe("POST");
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe(
        "method_not_allowed",
      );
    }
  });

  it("rejects bad arguments with a clear message and runs nothing", async () => {
    const client = await connect(shopKey);
    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
      ["search_knowledge_base", {}, /query/],
      ["search_knowledge_base", { query: "   " }, /Send a query\./],
      ["search_knowledge_base", { query: "x", top_k: 0 }, /top_k must be at least 1/],
      ["search_knowledge_base", { query: "x", top_k: 2.5 }, /top_k must be a whole number/],
      ["ask", { question: "x".repeat(2001) }, /limited to 2000 characters/],
      ["ask", { question: "hi", conversation_id: "../../etc" }, /conversation_id must be/],
      ["ask", { question: "hi", extra: true }, /Unrecognized key/],
    ];
    for (const [name, args, message] of cases) {
      const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
      expect(result.isError, `${name} ${JSON.stringify(args)}`).toBe(true);
      expect(textOf(result)).toMatch(/Input validation error/);
      expect(textOf(result)).toMatch(message);
    }
    const unknown = (await client.callTool({ name: "delete_everything" })) as CallToolResult;
    expect(textOf(unknown)).toMatch(/Tool delete_everything not found/);
    // Nothing ran: no audit entry, no conversation.
    expect(listAudit(tenantDb(runtime, shop), { limit: 10 })).toEqual([]);
  });

  it("audits each call: the key, the tool, masked arguments, outcome and latency", async () => {
    const client = await connect(shopKey);
    await client.callTool({
      name: "search_knowledge_base",
      arguments: { query: "descale, write to jane@example.com", top_k: 2 },
    });
    await client.callTool({
      name: "ask",
      arguments: { question: "How often must the Lumen X2 espresso machine be descaled?" },
    });
    await client.callTool({
      name: "search_knowledge_base",
      arguments: { query: "books", tenant_id: library.id },
    });
    const entries = listAudit(tenantDb(runtime, shop), { limit: 10 }).reverse();
    const keyId = JSON.parse(
      JSON.stringify(
        control
          .prepare("SELECT id FROM api_keys WHERE tenant_id = ? AND name = 'agent'")
          .get(shop.id),
      ),
    ) as { id: number };
    expect(entries.map((e) => [e.kind, e.actor, e.action, e.outcome])).toEqual([
      ["ask", `key:${keyId.id}`, "mcp:search_knowledge_base", "ok"],
      ["ask", `key:${keyId.id}`, "mcp:ask", "answered"],
      ["ask", `key:${keyId.id}`, "mcp:search_knowledge_base", "not_found"],
    ]);
    expect(entries[0]?.detail).toEqual({ arguments: { query: "[text: 34 chars]", top_k: 2 } });
    expect(entries[0]?.questionSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(entries)).not.toContain("jane@example.com");
    for (const entry of entries) expect(entry.latencyMs).toBeGreaterThanOrEqual(0);
    expect(entries[2]?.detail).toEqual({
      arguments: { query: "[text: 5 chars]", tenant_id: library.id },
    });
  });

  it("counts calls against the tenant's rate limit and refuses an exhausted quota", async () => {
    const limited = makeRuntime({ RATE_LIMIT_TENANT_PER_MINUTE: "2" });
    const client = await connect(shopKey, { rt: limited });
    const call = () =>
      client.callTool({
        name: "search_knowledge_base",
        arguments: { query: "descaled" },
      }) as Promise<CallToolResult>;
    expect((await call()).isError).toBeFalsy();
    expect((await call()).isError).toBeFalsy();
    const refused = errorOf(await call());
    expect(refused.code).toBe("rate_limited");
    expect(refused.message).toMatch(/Try again in \d+ s\./);
    // The other tenant has its own bucket.
    const other = await connect(libraryKey, { rt: limited });
    const ok = (await other.callTool({
      name: "search_knowledge_base",
      arguments: { query: "books" },
    })) as CallToolResult;
    expect(ok.isError).toBeFalsy();

    setTenantQuota(control, shop.id, { tokenBudget: null, trialEndsAt: Date.now() - 1 });
    const unlimited = makeRuntime({ RATE_LIMIT_TENANT_PER_MINUTE: "0" });
    const ended = (await (
      await connect(shopKey, { rt: unlimited })
    ).callTool({
      name: "ask",
      arguments: { question: "How often is the X2 descaled?" },
    })) as CallToolResult;
    expect(errorOf(ended)).toEqual({
      code: "quota_exceeded",
      message: "This assistant's trial has ended.",
    });
    const outcomes = listAudit(tenantDb(runtime, shop), { limit: 10 }).map((e) => e.outcome);
    expect(outcomes).toContain("rate_limited");
    expect(outcomes).toContain("quota_exceeded");
  });

  it("reports a failed answer or a failed search as a tool error, audited", async () => {
    const failing: AnswerProvider = {
      name: "openai",
      model: "m",
      // eslint-disable-next-line require-yield
      async *stream() {
        throw new Error("upstream down");
      },
    };
    const client = await connect(shopKey, { rt: makeRuntime({}, failing) });
    const failed = (await client.callTool({
      name: "ask",
      arguments: { question: "How often is the X2 descaled?" },
    })) as CallToolResult;
    expect(errorOf(failed).code).toBe("upstream_failed");

    embedder.failNext(1, new Error("embedding service unavailable"));
    const broken = (await client.callTool({
      name: "search_knowledge_base",
      arguments: { query: "a question nobody asked before" },
    })) as CallToolResult;
    expect(errorOf(broken)).toEqual({
      code: "internal_error",
      message: "Something went wrong on our side.",
    });
    const outcomes = listAudit(tenantDb(runtime, shop), { limit: 10 }).map((e) => e.outcome);
    expect(outcomes).toEqual(["internal_error", "upstream_failed"]);
  });

  it("reports a cancelled ask as cancelled", async () => {
    const controller = new AbortController();
    const slow: AnswerProvider = {
      name: "openai",
      model: "m",
      async *stream(request) {
        controller.abort();
        if (request.signal?.aborted) throw new Error("aborted");
        yield { type: "token", text: "never" };
      },
    };
    const rt = makeRuntime({}, slow);
    const res = await handleMcpRequest(
      rt,
      new Request("http://bitb.test/api/mcp", {
        method: "POST",
        signal: controller.signal,
        headers: {
          authorization: `Bearer ${shopKey}`,
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          "mcp-protocol-version": "2025-06-18",
        },
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: 7,
          method: "tools/call",
          params: { name: "ask", arguments: { question: "How often is the X2 descaled?" } },
        }),
      }),
    );
    const body = (await res.json()) as { result: CallToolResult };
    expect(errorOf(body.result)).toEqual({ code: "cancelled", message: "The ask was cancelled." });
    expect(listAudit(tenantDb(runtime, shop), { limit: 1 })[0]?.outcome).toBe("cancelled");
    expect(toolError(rt, "odd").isError).toBe(true);
  });
});
