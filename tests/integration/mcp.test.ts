// The MCP endpoint of the built server, spoken to by the SDK's own MCP client over Streamable
// HTTP with a tenant's secret key: it lists and calls the tools, answers from its own
// tenant's documents only, refuses missing, wrong and revoked keys (401) and other tenants
// (404), rejects bad arguments clearly, audits every call — and, being stateless, works when
// consecutive requests of one client land on two different server processes.
import fc from "fast-check";
import { Client as McpClient } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTenant, signIn, uploadFixtures, waitForJobs } from "../support/admin.ts";
import { createAdmin } from "../support/cli.ts";
import { bearer, makeSecretKey } from "../support/keys.ts";
import { type Client, startServer, tempDataDir, type TestServer } from "../support/server.ts";

let server: TestServer;
let second: TestServer;
let admin: Client;
let espresso: string;
let ferry: string;
let espressoKey: string;
let ferryKey: string;
const clients: McpClient[] = [];

beforeAll(async () => {
  const dataDir = tempDataDir();
  await createAdmin(dataDir);
  server = await startServer({ dataDir });
  admin = await signIn(server.url);
  espresso = await createTenant(admin, "Lumen Espresso");
  ferry = await createTenant(admin, "Kestrel Ferries");
  const jobs = await Promise.all([
    uploadFixtures(admin, espresso, ["sample.md"]),
    uploadFixtures(admin, ferry, ["sample.txt"]),
  ]);
  await waitForJobs(admin, espresso, jobs[0]);
  await waitForJobs(admin, ferry, jobs[1]);
  espressoKey = await makeSecretKey(admin, espresso, "agent");
  ferryKey = await makeSecretKey(admin, ferry, "agent");
});
afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await second?.stop();
  await server?.stop();
});

async function connect(
  secret: string | null,
  options: { path?: string; fetch?: typeof fetch } = {},
): Promise<McpClient> {
  const transport = new StreamableHTTPClientTransport(
    new URL(`${server.url}${options.path ?? "/api/mcp"}`),
    { requestInit: { headers: secret ? bearer(secret) : {} }, fetch: options.fetch },
  );
  const client = new McpClient({ name: "bitb-integration", version: "1.0.0" });
  await client.connect(transport);
  clients.push(client);
  return client;
}

function text(result: CallToolResult): string {
  return result.content.map((part) => (part.type === "text" ? part.text : "")).join("\n");
}

const call = (client: McpClient, name: string, args: Record<string, unknown>) =>
  client.callTool({ name, arguments: args }) as Promise<CallToolResult>;

describe("the MCP endpoint", () => {
  it("lists the tools and calls them with the tenant's secret key", async () => {
    const client = await connect(espressoKey);
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual(["ask", "search_knowledge_base"]);
    expect(tools.find((tool) => tool.name === "ask")?.inputSchema.required).toEqual(["question"]);

    const search = await call(client, "search_knowledge_base", { query: "descaling the X2" });
    expect(search.isError).toBeFalsy();
    const { results } = search.structuredContent as {
      results: Array<{ title: string; snippet: string; source: string | null }>;
    };
    expect(results.length).toBeGreaterThan(0);
    expect(results.some((r) => r.source === "sample.md")).toBe(true);
    expect(results.map((r) => r.snippet).join(" ")).toMatch(/3 weeks/);

    const answer = await call(client, "ask", {
      question: "How often must the Lumen X2 espresso machine be descaled?",
    });
    expect(answer.isError).toBeFalsy();
    const done = answer.structuredContent as {
      answer: string;
      citations: Array<{ fileName: string | null }>;
      conversationId: string;
    };
    expect(done.answer).toMatch(/3 weeks/);
    expect(done.citations.map((c) => c.fileName)).toContain("sample.md");
    expect(text(answer)).toMatch(/Sources:\n\[\d+\] /);
  });

  it("answers only from the key's own tenant", async () => {
    const client = await connect(espressoKey);
    const search = await call(client, "search_knowledge_base", {
      query: "How often does the harbour ferry to Kestrel Island leave?",
    });
    expect(JSON.stringify(search.structuredContent)).not.toMatch(/40 minutes|sample\.txt/);
    const answer = await call(client, "ask", {
      question: "How often does the harbour ferry to Kestrel Island leave?",
    });
    expect(JSON.stringify(answer.structuredContent)).not.toMatch(/40 minutes|sample\.txt/);

    // Naming the other tenant, as an argument or in the path, is refused.
    const named = await call(client, "search_knowledge_base", {
      query: "ferry",
      tenant_id: ferry,
    });
    expect(named.isError).toBe(true);
    expect(JSON.parse(text(named))).toEqual({
      error: { code: "not_found", message: "No such tenant." },
    });
    await expect(connect(espressoKey, { path: `/api/tenants/${ferry}/mcp` })).rejects.toMatchObject(
      { code: 404 },
    );
    // The ferry tenant's own key reaches its own knowledge, in the path form too.
    const own = await connect(ferryKey, { path: `/api/tenants/${ferry}/mcp` });
    const ferryAnswer = await call(own, "ask", {
      question: "How often does the harbour ferry to Kestrel Island leave?",
    });
    expect((ferryAnswer.structuredContent as { answer: string }).answer).toMatch(/40 minutes/);
  });

  it("refuses a missing, wrong or revoked key with 401, and admin cookies are no key", async () => {
    await expect(connect(null)).rejects.toMatchObject({ code: 401 });
    await expect(connect(`bitb_sk_${"A".repeat(32)}`)).rejects.toMatchObject({ code: 401 });

    const doomed = await makeSecretKey(admin, espresso, "doomed");
    const client = await connect(doomed);
    expect((await client.listTools()).tools).toHaveLength(2);
    const keys = (await (await admin.fetch(`/api/tenants/${espresso}/keys`)).json()) as {
      keys: Array<{ id: number; name: string }>;
    };
    const id = keys.keys.find((key) => key.name === "doomed")?.id;
    const revoked = await admin.fetch(`/api/tenants/${espresso}/keys/${id}`, {
      method: "DELETE",
    });
    expect(revoked.status).toBeLessThan(300);
    // The same client, its very next request: refused.
    await expect(client.listTools()).rejects.toMatchObject({ code: 401 });

    const res = await admin.fetch("/api/mcp", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer /);
    expect(res.headers.has("access-control-allow-origin")).toBe(false);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("unauthorized");
  });

  it("rejects bad arguments with a clear error", async () => {
    const client = await connect(espressoKey);
    const empty = await call(client, "ask", { question: "" });
    expect(empty.isError).toBe(true);
    expect(text(empty)).toMatch(/Invalid arguments for tool ask: Send a question\. at question/);
    const tooMany = await call(client, "search_knowledge_base", { query: "x", top_k: 500 });
    expect(text(tooMany)).toMatch(/top_k must be at most 20/);
    const unknown = await call(client, "search_knowledge_base", { query: "x", tenant: ferry });
    expect(text(unknown)).toMatch(/Unrecognized key/);
  });

  it("audits each tool call with the key, the tool, masked arguments, outcome and latency", async () => {
    const client = await connect(espressoKey);
    await call(client, "search_knowledge_base", { query: "descale, call +44 20 7946 0958" });
    const res = await admin.fetch(`/api/tenants/${espresso}/audit?kind=ask&limit=50`);
    const { entries } = (await res.json()) as {
      entries: Array<{
        actor: string;
        action: string;
        outcome: string;
        latencyMs: number;
        detail: unknown;
      }>;
    };
    const latest = entries[0];
    expect(latest).toMatchObject({
      action: "mcp:search_knowledge_base",
      outcome: "ok",
      detail: { arguments: { query: "[text: 30 chars]" } },
    });
    expect(latest?.actor).toMatch(/^key:\d+$/);
    expect(latest?.latencyMs).toBeGreaterThanOrEqual(0);
    const actions = entries.map((entry) => `${entry.action} ${entry.outcome}`);
    expect(actions).toContain("mcp:ask answered");
    expect(actions).toContain("mcp:search_knowledge_base not_found");
    expect(JSON.stringify(entries)).not.toContain("7946");
  });

  it("is stateless: one client's requests may land on any of two processes", async () => {
    second = await startServer({ dataDir: server.dataDir });
    const urls = [server.url, second.url];
    const served: string[] = [];
    let turn = 0;
    const roundRobin: typeof fetch = (input, init) => {
      const target = urls[turn++ % urls.length] as string;
      served.push(target);
      const url = new URL(input instanceof Request ? input.url : input);
      return fetch(`${target}${url.pathname}`, init);
    };
    const client = await connect(espressoKey, { fetch: roundRobin });
    for (let i = 0; i < 2; i++) {
      const result = await call(client, "ask", {
        question: "How often must the Lumen X2 espresso machine be descaled?",
      });
      expect((result.structuredContent as { answer: string }).answer).toMatch(/3 weeks/);
    }
    expect((await client.listTools()).tools).toHaveLength(2);
    expect(new Set(served)).toEqual(new Set(urls));
    const get = await fetch(`${second.url}/api/mcp`, {
      headers: { ...bearer(espressoKey), accept: "text/event-stream" },
    });
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");
  });

  it("survives random and malformed messages: no 5xx, never the other tenant's data", async () => {
    const anyArgument = fc.oneof(
      fc.string(),
      fc.integer(),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.constantFrom(ferry, espresso, "../x", "%00", "How often does the harbour ferry leave?"),
    );
    const message = fc.oneof(
      fc.record({
        jsonrpc: fc.constantFrom("2.0", "1.0"),
        id: fc.oneof(fc.integer(), fc.string(), fc.constant(null)),
        method: fc.constantFrom("tools/call", "tools/list", "initialize", "resources/list", "x"),
        params: fc.record({
          name: fc.constantFrom("ask", "search_knowledge_base", "__proto__", "constructor"),
          arguments: fc.dictionary(
            fc.constantFrom("query", "question", "top_k", "tenant_id", "conversation_id"),
            anyArgument,
            { maxKeys: 4 },
          ),
        }),
      }),
      fc.json(),
      fc.string(),
    );
    let sent = 0;
    await fc.assert(
      fc.asyncProperty(message, fc.boolean(), async (body, batch) => {
        const res = await fetch(`${server.url}/api/mcp`, {
          method: "POST",
          headers: {
            ...bearer(espressoKey),
            "content-type": "application/json",
            accept: "application/json, text/event-stream",
            "mcp-protocol-version": "2025-06-18",
          },
          body: typeof body === "string" ? body : JSON.stringify(batch ? [body] : body),
        });
        sent++;
        const text = await res.text();
        expect(res.status, text).toBeLessThan(500);
        expect(text).not.toMatch(/40 minutes|Kestrel Ferries/);
      }),
      { numRuns: 150 },
    );
    expect(sent).toBe(150);
  });
});
