// The MCP endpoint (Streamable HTTP, docs/decisions/026): one stateless MCP server per HTTP
// request, bound to the tenant of the caller's secret key, with the tools of
// tools.server.ts. Stateless means no session id and nothing kept between requests, so any
// instance can answer any request; answers are plain JSON (no SSE stream to keep open).
// Only POST carries messages; GET (a server-to-client stream) and DELETE (ending a session)
// have nothing to do here and get 405. Touches what the tools touch.
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import {
  DEFAULT_NEGOTIATED_PROTOCOL_VERSION,
  type CallToolResult,
} from "@modelcontextprotocol/sdk/types.js";
import pkg from "../../../package.json" with { type: "json" };
import { ApiError, errorBody } from "../errors.server.ts";
import { DEFAULT_JSON_LIMIT, readBodyBytes } from "../request.server.ts";
import { authenticateMcpCaller, type McpCaller } from "./caller.server.ts";
import {
  askInputSchema,
  askKnowledgeBase,
  askOutputSchema,
  type McpRuntime,
  searchInputSchema,
  searchKnowledgeBase,
  searchOutputSchema,
  ToolCancelled,
  type ToolSuccess,
} from "./tools.server.ts";

export const MCP_SERVER_NAME = "bitb";
/** The release, as package.json names it (serverInfo.version). */
export const MCP_SERVER_VERSION: string = pkg.version;
/** The protocol revision that removed JSON-RPC batches; later revisions keep them out. */
const BATCHES_REMOVED_IN = "2025-06-18";
const ALLOW = { Allow: "POST" };

function toolResult<T extends object>(success: ToolSuccess<T>): CallToolResult {
  return {
    content: [{ type: "text", text: success.text }],
    structuredContent: success.structured as Record<string, unknown>,
  };
}

/** A refusal or failure as a tool error, in the API's one error shape, for the model to read. */
export function toolError(runtime: Pick<McpRuntime, "logger">, error: unknown): CallToolResult {
  let body: { error: { code: string; message: string } };
  if (error instanceof ApiError) {
    body = errorBody(error.code, error.message);
  } else if (error instanceof ToolCancelled) {
    body = { error: { code: "cancelled", message: error.message } };
  } else {
    runtime.logger.error({ err: error }, "MCP tool failed");
    body = errorBody("internal_error", "Something went wrong on our side.");
  }
  return { content: [{ type: "text", text: JSON.stringify(body) }], isError: true };
}

/** The MCP server of one request: the caller's tenant's tools and nothing else. */
export function createTenantMcpServer(
  runtime: McpRuntime,
  caller: McpCaller,
  requestSignal?: AbortSignal,
): McpServer {
  const server = new McpServer(
    { name: MCP_SERVER_NAME, version: MCP_SERVER_VERSION },
    {
      capabilities: { tools: {} },
      instructions:
        `The knowledge base of “${caller.tenant.name}”. Use search_knowledge_base to find ` +
        "passages (with their titles and sources) and ask for a cited answer.",
    },
  );
  const maxChars = runtime.config.MAX_QUERY_CHARS;
  server.registerTool(
    "search_knowledge_base",
    {
      title: "Search the knowledge base",
      description:
        `Finds the passages of ${caller.tenant.name}'s knowledge base that best match a query: ` +
        "each with its title, a snippet, its source (URL or file name), heading and score.",
      inputSchema: searchInputSchema(maxChars),
      outputSchema: searchOutputSchema,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async (args) => {
      try {
        return toolResult(await searchKnowledgeBase(runtime, caller, args));
      } catch (error) {
        return toolError(runtime, error);
      }
    },
  );
  server.registerTool(
    "ask",
    {
      title: "Ask the knowledge base",
      description:
        `Answers a question from ${caller.tenant.name}'s knowledge base, with [n] citations of ` +
        "the sources it used. Pass the returned conversationId as conversation_id to ask a follow-up.",
      inputSchema: askInputSchema(maxChars),
      outputSchema: askOutputSchema,
      // It records the exchange in the tenant's conversations.
      annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
    },
    async (args, extra) => {
      const signal = requestSignal ? AbortSignal.any([requestSignal, extra.signal]) : extra.signal;
      try {
        return toolResult(await askKnowledgeBase(runtime, caller, args, signal));
      } catch (error) {
        return toolError(runtime, error);
      }
    },
  );
  // A stateless server's tools never change while a client is connected: the SDK announces
  // `listChanged` as it registers them, and nothing would ever send the notification.
  server.server.registerCapabilities({ tools: { listChanged: undefined } });
  return server;
}

/**
 * A JSON-RPC batch under a revision that forbids batches (2025-06-18 and later) gets an
 * Invalid Request error instead of answers; earlier revisions may still send them. The
 * revision is the one the batch's initialize asks for, else the MCP-Protocol-Version header,
 * else the spec's default for a client that sends none (2025-03-26).
 */
async function refuseForbiddenBatch(request: Request): Promise<Response | undefined> {
  let message: unknown;
  try {
    const bytes = await readBodyBytes(request.clone(), DEFAULT_JSON_LIMIT);
    message = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return undefined; // the transport answers a body it cannot read, in JSON-RPC
  }
  if (!Array.isArray(message)) return undefined;
  const initialize = message.find(
    (m): m is { params: { protocolVersion: unknown } } =>
      typeof m === "object" && m !== null && m.method === "initialize",
  );
  const revision =
    initialize?.params?.protocolVersion ??
    request.headers.get("mcp-protocol-version") ??
    DEFAULT_NEGOTIATED_PROTOCOL_VERSION;
  if (typeof revision !== "string" || revision < BATCHES_REMOVED_IN) return undefined;
  return Response.json(
    {
      jsonrpc: "2.0",
      error: {
        code: -32600,
        message:
          `Invalid Request: protocol revision ${revision} has no JSON-RPC batches ` +
          `(removed in ${BATCHES_REMOVED_IN}); send one message per request.`,
      },
      id: null,
    },
    { status: 400 },
  );
}

/**
 * Answers one HTTP request to the MCP endpoint. Throws ApiError before the MCP layer for
 * a wrong method, a missing or bad key, or a path naming another tenant (the route turns
 * it into the one error shape); everything after that is JSON-RPC.
 */
export async function handleMcpRequest(
  runtime: McpRuntime,
  request: Request,
  options: { pathTenantId?: string } = {},
): Promise<Response> {
  if (request.method !== "POST") {
    throw new ApiError(
      "method_not_allowed",
      "This MCP endpoint is stateless: send JSON-RPC messages with POST.",
      ALLOW,
    );
  }
  const caller = authenticateMcpCaller(runtime, request, options.pathTenantId);
  const refused = await refuseForbiddenBatch(request);
  if (refused) return refused;
  const server = createTenantMcpServer(runtime, caller, request.signal);
  const transport = new WebStandardStreamableHTTPServerTransport({
    sessionIdGenerator: undefined,
    enableJsonResponse: true,
    maxRequestBodySize: DEFAULT_JSON_LIMIT,
  });
  try {
    await server.connect(transport);
    return await transport.handleRequest(request);
  } finally {
    // Nothing outlives the request: the JSON answer is complete once handleRequest returns.
    await server.close();
  }
}
