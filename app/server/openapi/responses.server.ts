// The response bodies the OpenAPI document describes, as zod schemas. Each one `satisfies`
// the TypeScript type the server builds the response from (app/shared/ask-events.ts), so a
// field added to or renamed in a response type and not here fails the type check; the
// contract test (tests/integration/openapi-contract.test.ts) checks real responses too.
import { z } from "zod";
import type {
  AskUsage,
  BatchDoneEvent,
  BatchResult,
  Citation,
  DoneEvent,
} from "#app/shared/ask-events.ts";
import type { IngestJob } from "#tenants/knowledge-base.ts";
import { citationSchema } from "../openai-api/chat.server.ts";

/** The one error shape of the JSON API (app/server/errors.server.ts). */
export const apiErrorSchema = z
  .object({
    error: z.object({
      code: z.string().describe("e.g. validation_failed, unauthorized, not_found, rate_limited"),
      message: z.string(),
      fields: z.record(z.string(), z.string()).optional().describe("Per-field messages."),
    }),
  })
  .describe("The one error shape of every JSON API error under /api/.");

const citation = citationSchema satisfies z.ZodType<Citation>;

const usage = z.object({
  promptTokens: z.int(),
  completionTokens: z.int(),
  estimated: z.boolean(),
}) satisfies z.ZodType<AskUsage>;

export const doneEventSchema = z
  .object({
    conversationId: z.string(),
    messageId: z.int(),
    answer: z.string().describe("The answer, citing its sources as [n]."),
    citations: z.array(citation),
    abstained: z.boolean(),
    degraded: z.boolean(),
    degradedReason: z.string().nullable(),
    cached: z.boolean(),
    provider: z.string(),
    model: z.string(),
    usage,
    latency: z.object({
      retrievalMs: z.number(),
      firstTokenMs: z.number().nullable(),
      totalMs: z.number(),
    }),
  })
  .describe("The `done` event's data: the whole answer.") satisfies z.ZodType<DoneEvent>;

const batchResult = z.object({
  index: z.int(),
  query: z.string(),
  messageId: z.int().nullable(),
  answer: z.string(),
  citations: z.array(citation),
  sources: z.array(citation),
  abstained: z.boolean(),
  degraded: z.boolean(),
  degradedReason: z.string().nullable(),
  provider: z.string(),
  model: z.string(),
  usage: usage.extend({ apportioned: z.boolean() }),
  latencyMs: z.number(),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
}) satisfies z.ZodType<BatchResult>;

export const batchDoneEventSchema = z
  .object({
    conversationId: z.string(),
    mode: z.enum(["aggregated", "parallel"]),
    results: z.array(batchResult),
    usage,
    latencyMs: z.number(),
  })
  .describe(
    "The `batch_done` event's data: every result in question order.",
  ) satisfies z.ZodType<BatchDoneEvent>;

export const visitorSessionSchema = z.object({
  token: z.string().describe("Send it as session_token with asks and ratings."),
  conversationId: z.string(),
  expiresAt: z.int().describe("Seconds since the epoch."),
});

export const jsonRpcResponseSchema = z
  .looseObject({
    jsonrpc: z.literal("2.0"),
    id: z.union([z.string(), z.number(), z.null()]),
    result: z.unknown().optional(),
    error: z.looseObject({ code: z.int(), message: z.string() }).optional(),
  })
  .describe("A JSON-RPC 2.0 response of the MCP server (Streamable HTTP, JSON answers).");

/** 202 of POST /api/tenants/:tenantId/documents: one ingestion job per file or source. */
export const acceptedJobsSchema = z.object({ jobs: z.array(z.object({ id: z.int() })) });

const ingestJob = z.object({
  id: z.int(),
  sourceType: z.enum(["file", "text", "url"]),
  sourceKey: z.string(),
  title: z.string(),
  fileName: z.string().nullable(),
  mimeType: z.string().nullable(),
  url: z.string().nullable(),
  state: z.enum(["queued", "running", "done", "failed"]),
  stage: z.enum(["fetch", "parse", "chunk", "embed", "index"]).nullable(),
  progressDone: z.int(),
  progressTotal: z.int(),
  attempts: z.int(),
  maxAttempts: z.int(),
  nextRunAt: z.number(),
  leaseOwner: z.string().nullable(),
  leaseUntil: z.number().nullable(),
  error: z.string().nullable(),
  documentId: z.int().nullable(),
  outcome: z.enum(["created", "replaced", "unchanged"]).nullable(),
  createdAt: z.number(),
  updatedAt: z.number(),
}) satisfies z.ZodType<IngestJob>;

export const jobListSchema = z.object({ jobs: z.array(ingestJob) });
