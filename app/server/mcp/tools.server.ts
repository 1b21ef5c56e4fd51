// The MCP tools of one tenant: `search_knowledge_base` (the passages retrieval finds, with
// titles, snippets and sources) and `ask` (the whole ask pipeline: an answer with its
// citations, recorded in the conversation like any API ask). Every call is bound to the
// tenant of the caller's key — no argument can name another one — counted against the
// tenant's rate limit and quota like an ask, and audited (tool-audit.server.ts).
import { z } from "zod";
import type { Citation } from "#app/shared/ask-events.ts";
import { askStream, toCitation } from "../ask/ask.server.ts";
import { ApiError } from "../errors.server.ts";
import { enforceRateLimits } from "../limits/limits.server.ts";
import { assertWithinQuota, tenantQuota } from "../limits/quota.server.ts";
import { withHeldUsage } from "../replication/writes.server.ts";
import type { Runtime } from "../runtime/runtime.server.ts";
import { tenantDb } from "../tenancy/tenants.server.ts";
import { auditToolCall, maskToolArguments } from "../audit/tool-audit.server.ts";
import type { McpCaller } from "./caller.server.ts";

export type McpRuntime = Pick<
  Runtime,
  | "config"
  | "control"
  | "tenants"
  | "embedder"
  | "answerer"
  | "logger"
  | "retrievalCache"
  | "answerCache"
> &
  Partial<Pick<Runtime, "replication">>;

export const MAX_SEARCH_RESULTS = 20;
const conversationIdPattern = /^[A-Za-z0-9_-]{8,64}$/;

/** Optional on every tool; when given it must be the key's own tenant. */
const tenantIdArgument = z
  .string()
  .max(64)
  .optional()
  .describe("Optional. This server's tenant id; any other value is refused.");

function questionText(maxChars: number, what: string) {
  return z
    .string()
    .trim()
    .min(1, `Send a ${what}.`)
    .max(maxChars, `A ${what} is limited to ${maxChars} characters.`);
}

/** Building a zod schema costs more than parsing with it: one per limit, kept (like /api/ask). */
function memoByLimit<T>(build: (maxQueryChars: number) => T): (maxQueryChars: number) => T {
  const built = new Map<number, T>();
  return (maxQueryChars) => {
    let schema = built.get(maxQueryChars);
    if (schema === undefined) {
      schema = build(maxQueryChars);
      built.set(maxQueryChars, schema);
    }
    return schema;
  };
}

export const searchInputSchema = memoByLimit((maxQueryChars) =>
  z.strictObject({
    query: questionText(maxQueryChars, "query").describe(
      "What to look for, in the visitor's words (a question or keywords).",
    ),
    top_k: z
      .number()
      .int("top_k must be a whole number.")
      .min(1, "top_k must be at least 1.")
      .max(MAX_SEARCH_RESULTS, `top_k must be at most ${MAX_SEARCH_RESULTS}.`)
      .optional()
      .describe("How many passages to return (default: the server's retrieval depth)."),
    tenant_id: tenantIdArgument,
  }),
);

export const askInputSchema = memoByLimit((maxQueryChars) =>
  z.strictObject({
    question: questionText(maxQueryChars, "question").describe("The question to answer."),
    conversation_id: z
      .string()
      .regex(conversationIdPattern, "conversation_id must be 8–64 letters, digits, _ or -.")
      .optional()
      .describe(
        "Continue this conversation (the conversationId an earlier ask returned); omit to start one.",
      ),
    tenant_id: tenantIdArgument,
  }),
);

const citationSchema = z.object({
  n: z.number(),
  documentId: z.number(),
  title: z.string(),
  url: z.string().nullable(),
  fileName: z.string().nullable(),
  headingPath: z.string(),
  snippet: z.string(),
  score: z.number(),
});

export const searchOutputSchema = z.object({
  results: z.array(citationSchema.extend({ source: z.string().nullable() })),
});

export const askOutputSchema = z.object({
  conversationId: z.string(),
  answer: z.string(),
  citations: z.array(citationSchema),
  abstained: z.boolean(),
  degraded: z.boolean(),
  cached: z.boolean(),
});

export type SearchOutput = z.infer<typeof searchOutputSchema>;
export type AskOutput = z.infer<typeof askOutputSchema>;

/** What a tool returns to the MCP layer: the structured result and a text for the model. */
export interface ToolSuccess<T> {
  structured: T;
  text: string;
}

interface CallRecord {
  outcome: string;
  question: string;
  promptTokens?: number;
  completionTokens?: number;
  cacheHit?: boolean;
}

/** Where a document came from, as a reader would cite it. */
function sourceOf(citation: Citation): string | null {
  return citation.url ?? citation.fileName;
}

function citationLine(citation: Citation): string {
  const source = sourceOf(citation);
  return `[${citation.n}] ${citation.title}${source && source !== citation.title ? ` — ${source}` : ""}`;
}

export function searchResultText(results: SearchOutput["results"]): string {
  if (results.length === 0) return "No passages in this knowledge base match the query.";
  return results
    .map((r) => `${citationLine(r)}${r.headingPath ? ` (${r.headingPath})` : ""}\n${r.snippet}`)
    .join("\n\n");
}

export function askResultText(result: AskOutput): string {
  if (result.citations.length === 0) return result.answer;
  return `${result.answer}\n\nSources:\n${result.citations.map(citationLine).join("\n")}`;
}

/**
 * Runs one tool call under the caller's tenant: the tenant argument check, the rate limit and
 * the quota first, then the work, then one audit entry whatever happened. Refusals and
 * failures throw ApiError (the MCP layer turns them into tool errors).
 */
async function guardedCall<T>(
  runtime: McpRuntime,
  caller: McpCaller,
  tool: string,
  args: Record<string, unknown> & { tenant_id?: string | undefined },
  question: string,
  work: () => Promise<{ result: ToolSuccess<T>; record: CallRecord }>,
): Promise<ToolSuccess<T>> {
  const started = performance.now();
  const audit = (record: CallRecord) =>
    auditToolCall(runtime, caller.tenant, {
      via: "mcp",
      tool,
      actor: caller.actor,
      arguments: maskToolArguments(args, ["query", "question"]),
      question: record.question,
      outcome: record.outcome,
      latencyMs: performance.now() - started,
      promptTokens: record.promptTokens,
      completionTokens: record.completionTokens,
      cacheHit: record.cacheHit ?? null,
    });
  try {
    if (args.tenant_id !== undefined && args.tenant_id !== caller.tenant.id) {
      // The same answer as an unknown tenant: a key cannot probe for other tenants.
      throw new ApiError("not_found", "No such tenant.");
    }
    // A secret key serves many people from one backend: the tenant's bucket and the key's
    // own apply (like an ask with a key), then the plan's quota.
    enforceRateLimits(runtime.config, [
      { scope: "tenant", id: caller.tenant.id },
      { scope: "key", id: `key:${caller.keyId}` },
    ]);
    assertWithinQuota(
      withHeldUsage(
        runtime,
        caller.tenant,
        tenantQuota(runtime.control, tenantDb(runtime, caller.tenant), caller.tenant.id),
      ),
    );
    const { result, record } = await work();
    audit(record);
    return result;
  } catch (error) {
    const outcome =
      error instanceof ApiError
        ? error.code
        : error instanceof ToolCancelled
          ? "cancelled"
          : "internal_error";
    audit({ outcome, question });
    throw error;
  }
}

/** The client went away (or cancelled the request) before the answer was done. */
export class ToolCancelled extends Error {
  override name = "ToolCancelled";
}

export function searchKnowledgeBase(
  runtime: McpRuntime,
  caller: McpCaller,
  args: z.infer<ReturnType<typeof searchInputSchema>>,
): Promise<ToolSuccess<SearchOutput>> {
  return guardedCall(runtime, caller, "search_knowledge_base", args, args.query, async () => {
    const { chunks, cached } = await runtime.retrievalCache.retrieve(
      caller.tenant.id,
      // Taken again after the query embedding: calls to other tenants may have closed it.
      () => tenantDb(runtime, caller.tenant),
      runtime.embedder,
      args.query,
      { topK: args.top_k ?? runtime.config.RETRIEVAL_TOP_K },
    );
    const results = chunks.map((chunk, i) => {
      const citation = toCitation(chunk, i + 1);
      return { ...citation, source: sourceOf(citation) };
    });
    return {
      result: { structured: { results }, text: searchResultText(results) },
      record: { outcome: "ok", question: args.query, cacheHit: cached },
    };
  });
}

export function askKnowledgeBase(
  runtime: McpRuntime,
  caller: McpCaller,
  args: z.infer<ReturnType<typeof askInputSchema>>,
  signal?: AbortSignal,
): Promise<ToolSuccess<AskOutput>> {
  return guardedCall(runtime, caller, "ask", args, args.question, async () => {
    for await (const item of askStream(runtime, {
      tenant: caller.tenant,
      query: args.question,
      conversationId: args.conversation_id,
      signal,
    })) {
      if (item.event === "error") throw new ApiError("upstream_failed", item.data.message);
      if (item.event === "done") {
        const done = item.data;
        const structured: AskOutput = {
          conversationId: done.conversationId,
          answer: done.answer,
          citations: done.citations,
          abstained: done.abstained,
          degraded: done.degraded,
          cached: done.cached,
        };
        return {
          result: { structured, text: askResultText(structured) },
          record: {
            outcome: done.abstained ? "abstained" : "answered",
            question: args.question,
            promptTokens: done.usage.promptTokens,
            completionTokens: done.usage.completionTokens,
            cacheHit: done.cached,
          },
        };
      }
    }
    // The pipeline ends without `done` only when the caller went away.
    throw new ToolCancelled("The ask was cancelled.");
  });
}
