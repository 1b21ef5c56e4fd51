// The OpenAI-compatible API of one tenant (docs/decisions/044): GET /v1/models and POST
// /v1/chat/completions, for chat clients that speak OpenAI's protocol (Open WebUI, LibreChat,
// the `openai` SDKs). The tenant's secret key (`Authorization: Bearer bitb_sk_…`) decides the
// tenant; its one model is named by the tenant's id. A completion is an ask: the last user
// message is the question, the earlier user and assistant messages its history, and it goes
// through startAsk (ask/respond.server.ts) — the same limits, quota, audit and caches as
// POST /api/ask. Citations come as `[n]` in the text and in the `citations` extension field.
// Errors use OpenAI's shape `{ error: { message, type, code, param } }`, the one exception to
// the API's own error shape, because OpenAI clients parse it. Reads the control database.
import type { AppLoadContext } from "react-router";
import { z } from "zod";
import type { Citation, DoneEvent, ErrorEvent, TokenEvent } from "#app/shared/ask-events.ts";
import type { StoredTurn } from "#tenants/conversations.ts";
import type { TenantRecord } from "../control-db.server.ts";
import { noCors } from "../access/embed-guard.server.ts";
import { authenticateSecretKey, bearerSecret } from "../access/keys.server.ts";
import { askSchema, type Caller } from "../ask/ask-request.server.ts";
import { startAsk } from "../ask/respond.server.ts";
import { sseHeaders, type StreamEvent } from "../ask/sse.server.ts";
import { ApiError, errorResponse } from "../errors.server.ts";
import { readJson } from "../request.server.ts";
import type { Runtime } from "../runtime/runtime.server.ts";
import { assertServing } from "../tenancy/platform.server.ts";
import { requireTenant } from "../tenancy/tenants.server.ts";

export const CHAT_METHODS = "POST";
export const MODELS_METHODS = "GET";
const CHALLENGE = { "WWW-Authenticate": 'Bearer realm="bitb-openai"' };

/** An ApiError whose OpenAI `code` is OpenAI's own (`invalid_api_key`, `model_not_found`). */
class OpenAiError extends ApiError {
  constructor(
    code: ConstructorParameters<typeof ApiError>[0],
    readonly openAiCode: string,
    message: string,
    headers: Record<string, string> = {},
  ) {
    super(code, message, headers);
  }
}

const textPart = z.object({ type: z.literal("text"), text: z.string() });
const otherPart = z.looseObject({ type: z.string() });

export const chatMessageSchema = z.looseObject({
  role: z.enum(["system", "developer", "user", "assistant", "tool"]),
  /** Text, or parts of which only the `text` ones are read. */
  content: z
    .union([z.string(), z.array(z.union([textPart, otherPart]))])
    .nullable()
    .optional(),
  name: z.string().optional(),
});

export const chatCompletionRequestSchema = z
  .looseObject({
    /** The tenant's id, as GET /v1/models lists it. */
    model: z.string().min(1).max(100),
    messages: z.array(chatMessageSchema).min(1, "Send at least one message.").max(200),
    stream: z.boolean().nullable().optional(),
    stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullable().optional(),
  })
  .meta({
    description:
      "OpenAI's chat completion request. Other OpenAI parameters (temperature, max_tokens, …) are accepted and ignored: the tenant's settings decide how it answers.",
  });

export type ChatCompletionRequest = z.infer<typeof chatCompletionRequestSchema>;

export const citationSchema = z.object({
  n: z.int().describe("The [n] number used in the answer text."),
  documentId: z.int(),
  title: z.string(),
  url: z.string().nullable(),
  fileName: z.string().nullable(),
  headingPath: z.string(),
  snippet: z.string(),
  score: z.number(),
});

const usageSchema = z.object({
  prompt_tokens: z.int(),
  completion_tokens: z.int(),
  total_tokens: z.int(),
});

export const chatCompletionSchema = z.object({
  id: z.string(),
  object: z.literal("chat.completion"),
  created: z.int(),
  model: z.string(),
  choices: z.array(
    z.object({
      index: z.int(),
      message: z.object({
        role: z.literal("assistant"),
        content: z.string(),
        refusal: z.null(),
        citations: z.array(citationSchema).describe("BiTB's extension: the sources cited."),
      }),
      finish_reason: z.literal("stop"),
      logprobs: z.null(),
    }),
  ),
  usage: usageSchema,
});

export const chatCompletionChunkSchema = z
  .object({
    id: z.string(),
    object: z.literal("chat.completion.chunk"),
    created: z.int(),
    model: z.string(),
    choices: z.array(
      z.object({
        index: z.int(),
        delta: z.object({
          role: z.literal("assistant").optional(),
          content: z.string().optional(),
          citations: z
            .array(citationSchema)
            .optional()
            .describe("BiTB's extension, on the last chunk: the sources cited."),
        }),
        finish_reason: z.literal("stop").nullable(),
        logprobs: z.null(),
      }),
    ),
    usage: usageSchema.nullable().optional(),
  })
  .meta({
    description:
      "One `data:` line of the stream (`stream: true`); the stream ends with `data: [DONE]`.",
  });

export const modelListSchema = z.object({
  object: z.literal("list"),
  data: z.array(
    z.object({
      id: z.string().describe("The tenant's id."),
      object: z.literal("model"),
      created: z.int(),
      owned_by: z.string(),
    }),
  ),
});

export const openAiErrorSchema = z
  .object({
    error: z.object({
      message: z.string(),
      type: z.string(),
      code: z.string().nullable(),
      param: z.string().nullable(),
    }),
  })
  .meta({
    description: "OpenAI's error shape, used under /v1/ only (OpenAI clients parse it).",
  });

/** The tenant of the request's secret key, or a 401 (missing, unknown or revoked key). */
export function authenticateOpenAiCaller(
  runtime: Pick<Runtime, "control"> & Partial<Pick<Runtime, "replication">>,
  request: Request,
): { tenant: TenantRecord; keyId: number } {
  const secret = bearerSecret(request);
  if (secret === null) {
    throw new ApiError(
      "unauthorized",
      "Send the tenant's secret API key as Authorization: Bearer bitb_sk_….",
      CHALLENGE,
    );
  }
  // A LiteFS replica's control database is read-only: no last-used time there.
  const found = authenticateSecretKey(
    runtime.control,
    secret,
    Date.now(),
    runtime.replication?.role.isPrimary() ?? true,
  );
  if (!found)
    throw new OpenAiError("unauthorized", "invalid_api_key", "Invalid API key.", CHALLENGE);
  const tenant = requireTenant(runtime, found.tenantId);
  assertServing(tenant);
  return { tenant, keyId: found.keyId };
}

const seconds = (ms: number) => Math.floor(ms / 1000);

/** GET /v1/models: the key's tenant as its one model. */
export function listModels(
  runtime: Pick<Runtime, "control"> & Partial<Pick<Runtime, "replication">>,
  request: Request,
): Response {
  const { tenant } = authenticateOpenAiCaller(runtime, request);
  return Response.json({
    object: "list",
    data: [
      { id: tenant.id, object: "model", created: seconds(tenant.createdAt), owned_by: "bitb" },
    ],
  });
}

function textOf(content: z.infer<typeof chatMessageSchema>["content"]): string {
  if (content == null) return "";
  if (typeof content === "string") return content;
  return content
    .map((part) => (part.type === "text" && typeof part.text === "string" ? part.text : ""))
    .join("");
}

/** The question (the last message, a user's) and the earlier user and assistant turns. */
export function questionAndHistory(messages: ChatCompletionRequest["messages"]): {
  question: string;
  history: StoredTurn[];
} {
  const last = messages.at(-1);
  if (!last || last.role !== "user") {
    throw new ApiError("bad_request", "The last message must be the user's question.");
  }
  const history: StoredTurn[] = [];
  for (const message of messages.slice(0, -1)) {
    if (message.role !== "user" && message.role !== "assistant") continue;
    const content = textOf(message.content).trim();
    if (content) history.push({ role: message.role, content });
  }
  return { question: textOf(last.content), history };
}

/** POST /v1/chat/completions: an ask, streamed as chunks or answered as one completion. */
export async function chatCompletion(
  runtime: Runtime,
  request: Request,
  context: AppLoadContext | undefined,
  receivedAt: number,
): Promise<Response> {
  const { tenant, keyId } = authenticateOpenAiCaller(runtime, request);
  const body = await readJson(request, chatCompletionRequestSchema);
  if (body.model !== tenant.id) {
    throw new OpenAiError(
      "not_found",
      "model_not_found",
      `The model \`${body.model}\` does not exist or you do not have access to it.`,
    );
  }
  const { question, history } = questionAndHistory(body.messages);
  // The question meets /api/ask's own schema: the same limits and messages.
  const ask = askSchema(runtime.config).parse({ tenant_id: tenant.id, query: question });
  const caller: Caller = {
    tenant,
    cors: noCors,
    actor: `key:${keyId}`,
    sessionKey: `key:${keyId}`,
    viaKey: true,
  };
  const { events, upstream } = startAsk(
    runtime,
    request,
    context,
    ask,
    caller,
    receivedAt,
    history,
  );
  const meta = { created: seconds(Date.now()), model: tenant.id };
  if (body.stream) {
    return new Response(
      chunkStream(events, upstream, meta, body.stream_options?.include_usage === true),
      { headers: sseHeaders },
    );
  }
  for await (const item of events) {
    if (item.event === "error") return upstreamError(item.data as ErrorEvent);
    if (item.event === "done") {
      const done = item.data as DoneEvent;
      return Response.json({
        id: completionId(done.conversationId, done.messageId),
        object: "chat.completion",
        ...meta,
        choices: [
          {
            index: 0,
            message: {
              role: "assistant",
              content: done.answer,
              refusal: null,
              citations: done.citations,
            },
            finish_reason: "stop",
            logprobs: null,
          },
        ],
        usage: usageOf(done),
      });
    }
  }
  throw new ApiError("internal_error", "The answer ended without a result.");
}

const completionId = (conversationId: string, messageId?: number) =>
  `chatcmpl-${conversationId}${messageId === undefined ? "" : `-${messageId}`}`;

function usageOf(done: DoneEvent) {
  const { promptTokens, completionTokens } = done.usage;
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
  };
}

function upstreamError(error: ErrorEvent): Response {
  return Response.json(
    { error: { message: error.message, type: "api_error", code: error.code, param: null } },
    { status: 502 },
  );
}

const encoder = new TextEncoder();
const data = (value: unknown) => encoder.encode(`data: ${JSON.stringify(value)}\n\n`);

/** The ask's events as OpenAI's chunks: role, content deltas, the last chunk, `[DONE]`. */
function chunkStream(
  events: AsyncGenerator<StreamEvent>,
  upstream: AbortController,
  meta: { created: number; model: string },
  includeUsage: boolean,
): ReadableStream<Uint8Array> {
  let id = completionId("pending");
  const chunk = (delta: object, finish: "stop" | null = null) => ({
    id,
    object: "chat.completion.chunk",
    ...meta,
    choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
  });
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await events.next();
        if (next.done) {
          controller.enqueue(encoder.encode("data: [DONE]\n\n"));
          controller.close();
          return;
        }
        const { event } = next.value;
        if (event === "sources") {
          id = completionId((next.value.data as { conversationId: string }).conversationId);
          controller.enqueue(data(chunk({ role: "assistant", content: "" })));
        } else if (event === "token") {
          controller.enqueue(data(chunk({ content: (next.value.data as TokenEvent).text })));
        } else if (event === "done") {
          const done = next.value.data as DoneEvent;
          const citations: Citation[] = done.citations;
          controller.enqueue(data(chunk({ citations }, "stop")));
          if (includeUsage) {
            controller.enqueue(
              data({
                id,
                object: "chat.completion.chunk",
                ...meta,
                choices: [],
                usage: usageOf(done),
              }),
            );
          }
        } else if (event === "error") {
          const error = next.value.data as ErrorEvent;
          controller.enqueue(
            data({
              error: { message: error.message, type: "api_error", code: error.code, param: null },
            }),
          );
        }
      } catch {
        controller.enqueue(
          data({
            error: {
              message: "Something went wrong on our side.",
              type: "api_error",
              code: "internal_error",
              param: null,
            },
          }),
        );
        controller.close();
      }
    },
    async cancel() {
      upstream.abort();
      await events.return(undefined);
    },
  });
}

const typeOf = (status: number) =>
  status === 401
    ? "authentication_error"
    : status === 403
      ? "permission_error"
      : status === 404
        ? "not_found_error"
        : status === 429
          ? "rate_limit_error"
          : status >= 500
            ? "api_error"
            : "invalid_request_error";

/** Any thrown value as OpenAI's error shape, with the API's status, code and headers. */
export async function openAiErrorResponse(error: unknown): Promise<Response> {
  const response = errorResponse(error);
  const { error: detail } = (await response.json()) as {
    error: { code: string; message: string };
  };
  const code = error instanceof OpenAiError ? error.openAiCode : detail.code;
  const headers = new Headers(response.headers);
  headers.delete("content-length");
  return Response.json(
    { error: { message: detail.message, type: typeOf(response.status), code, param: null } },
    { status: response.status, headers },
  );
}
