// Answers with any OpenAI-compatible chat-completions server (OpenAI, Ollama, vLLM, LM Studio,
// OpenRouter) through the official `openai` client, streamed. Also home of the streaming loop
// and error shape that the Groq provider shares, since both speak the same chunk format.
// Touches only the configured endpoint; the API key never appears in an error.
import { context, propagation, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import OpenAI, { APIConnectionTimeoutError, APIError } from "openai";
import { estimateTokens } from "./extractive.server.ts";
import { tracer } from "../observability/tracing.server.ts";
import { buildMessages, type ChatMessage } from "./prompt.server.ts";
import type { AnswerChunk, AnswerProvider, AnswerRequest } from "./provider.server.ts";

export interface OpenAICompatibleOptions {
  /** The API root the client appends `/chat/completions` to, e.g. `http://localhost:11434/v1`. */
  baseUrl: string;
  apiKey?: string;
  model: string;
  maxTokens: number;
  /** The whole answer, first byte to last token, must arrive within this time. */
  timeoutMs: number;
}

/**
 * `protocol`: the server answered 200 but sent something that is not a chat-completion stream
 * (malformed JSON in a chunk); retrying will not help.
 */
export type AnswerProviderErrorKind = "http" | "timeout" | "connection" | "aborted" | "protocol";

export interface AnswerProviderErrorOptions extends ErrorOptions {
  /** How long the server asked us to wait (HTTP `Retry-After` / `retry-after-ms`), in ms. */
  retryAfterMs?: number | null;
}

/** Every failure of a hosted answerer, in one shape the ask route can turn into an SSE error. */
export class AnswerProviderError extends Error {
  override name = "AnswerProviderError";
  /** The server's requested wait before a retry, when it sent one. */
  readonly retryAfterMs: number | null;
  /**
   * Whether the same request may succeed when sent again: connection failures, timeouts,
   * HTTP 408, 429 and 5xx. Never an aborted ask, a malformed stream or another 4xx.
   */
  readonly retryable: boolean;
  constructor(
    message: string,
    readonly provider: string,
    readonly kind: AnswerProviderErrorKind,
    /** The upstream HTTP status, for `http` errors. */
    readonly status: number | null = null,
    options?: AnswerProviderErrorOptions,
  ) {
    super(message, options);
    this.retryAfterMs = options?.retryAfterMs ?? null;
    this.retryable = isRetryableFailure(kind, status);
  }
}

function isRetryableFailure(kind: AnswerProviderErrorKind, status: number | null): boolean {
  switch (kind) {
    case "connection":
    case "timeout":
      return true;
    case "http":
      return status === 408 || status === 429 || (status !== null && status >= 500);
    default:
      return false;
  }
}

type HeadersLike = { get(name: string): string | null } | Record<string, unknown>;

function header(headers: HeadersLike | null | undefined, name: string): string | null {
  if (!headers) return null;
  if (typeof headers.get === "function")
    return (headers as { get(n: string): string | null }).get(name);
  const value = (headers as Record<string, unknown>)[name];
  return typeof value === "string" ? value : null;
}

/**
 * The wait an HTTP response asks for, in ms: `retry-after-ms` (OpenAI), else `Retry-After` as
 * seconds or an HTTP date. Null when absent or unreadable; never negative.
 */
export function retryAfterFromHeaders(
  headers: HeadersLike | null | undefined,
  now: number = Date.now(),
): number | null {
  const ms = header(headers, "retry-after-ms");
  if (ms !== null && ms.trim() !== "" && Number.isFinite(Number(ms))) {
    return Math.max(0, Math.round(Number(ms)));
  }
  const value = header(headers, "retry-after")?.trim();
  if (!value) return null;
  if (/^\d+(?:\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

/** What we read from a streamed chunk; OpenAI and Groq chunks both fit. */
export interface ChatChunkLike {
  choices?: readonly { delta?: { content?: string | null } | null }[] | null;
  usage?: UsageLike | null;
  x_groq?: { usage?: UsageLike | null } | null;
}
interface UsageLike {
  prompt_tokens?: number | null;
  completion_tokens?: number | null;
}

/** The error classes of one SDK (openai and groq-sdk each have their own copies). */
export interface SdkErrorClasses {
  APIError: abstract new (
    ...args: never[]
  ) => Error & { status?: number | undefined; headers?: HeadersLike | undefined };
  APIConnectionTimeoutError: abstract new (...args: never[]) => Error;
}

interface StreamChatOptions {
  provider: string;
  request: AnswerRequest;
  timeoutMs: number;
  errors: SdkErrorClasses;
  /** The model asked for (the tenant's override, else the configured one). */
  model: string;
  /**
   * Starts the upstream request with the given messages, honouring `signal` and sending
   * `headers` (the W3C traceparent of the call's span when traced).
   */
  open(
    messages: ChatMessage[],
    signal: AbortSignal,
    headers: Record<string, string>,
  ): Promise<AsyncIterable<ChatChunkLike>>;
}

/**
 * Any failure of a chat-completions call as an AnswerProviderError: aborted by the caller,
 * past the deadline, an HTTP error (with the server's Retry-After), a malformed response, or
 * a connection failure. Shared by the streamed answer and the tool-calling turn.
 */
export function providerFailure(
  error: unknown,
  context: {
    provider: string;
    timeoutMs: number;
    errors: SdkErrorClasses;
    callerSignal?: AbortSignal;
    deadline: AbortSignal;
  },
): AnswerProviderError {
  const { provider, timeoutMs, errors } = context;
  if (context.callerSignal?.aborted) {
    return new AnswerProviderError(`${provider}: the ask was aborted`, provider, "aborted", null, {
      cause: error,
    });
  }
  if (context.deadline.aborted || error instanceof errors.APIConnectionTimeoutError) {
    return new AnswerProviderError(
      `${provider}: no complete answer within ${timeoutMs} ms`,
      provider,
      "timeout",
      null,
      { cause: error },
    );
  }
  if (error instanceof errors.APIError && typeof error.status === "number") {
    // The SDK's message is "<status> <upstream error message>": useful and key-free.
    return new AnswerProviderError(
      `${provider} answered HTTP ${error.status}: ${error.message.slice(0, 300)}`,
      provider,
      "http",
      error.status,
      { cause: error, retryAfterMs: retryAfterFromHeaders(error.headers) },
    );
  }
  if (error instanceof SyntaxError) {
    return new AnswerProviderError(
      `${provider}: the server sent a malformed stream chunk`,
      provider,
      "protocol",
      null,
      { cause: error },
    );
  }
  const reason = error instanceof Error ? error.message : String(error);
  return new AnswerProviderError(`${provider}: ${reason}`, provider, "connection", null, {
    cause: error,
  });
}

/**
 * Streams an OpenAI-format chat completion as answer chunks: text deltas as tokens, then
 * one usage chunk (the provider's own count, or an estimate if it sent none).
 */
export async function* streamChatCompletion(
  options: StreamChatOptions,
): AsyncGenerator<AnswerChunk> {
  const { provider, request, timeoutMs, errors } = options;
  const messages = buildMessages(request);
  const deadline = AbortSignal.timeout(timeoutMs);
  const signal = request.signal ? AbortSignal.any([request.signal, deadline]) : deadline;

  const fail = (error: unknown) =>
    providerFailure(error, { provider, timeoutMs, errors, callerSignal: request.signal, deadline });

  // The call as an OpenTelemetry CLIENT span with the GenAI conventions' attributes; its
  // traceparent goes upstream with the request.
  const parentContext = request.traceContext ?? context.active();
  const span = tracer().startSpan(
    `chat ${options.model}`,
    {
      kind: SpanKind.CLIENT,
      attributes: {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": provider,
        "gen_ai.system": provider,
        "gen_ai.request.model": options.model,
      },
    },
    parentContext,
  );
  const headers: Record<string, string> = {};
  propagation.inject(trace.setSpan(parentContext, span), headers);

  let answer = "";
  let usage: UsageLike | null = null;
  let failure: AnswerProviderError | undefined;
  try {
    yield* relay();
  } catch (error) {
    failure = error instanceof AnswerProviderError ? error : fail(error);
    throw error;
  } finally {
    if (failure) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: failure.message });
      span.setAttribute("error.type", failure.status ? String(failure.status) : failure.kind);
    }
    // Set by relay() below, which TypeScript's narrowing does not follow.
    const reported = usage as UsageLike | null;
    if (typeof reported?.prompt_tokens === "number")
      span.setAttribute("gen_ai.usage.input_tokens", reported.prompt_tokens);
    if (typeof reported?.completion_tokens === "number")
      span.setAttribute("gen_ai.usage.output_tokens", reported.completion_tokens);
    span.end();
  }

  async function* relay(): AsyncGenerator<AnswerChunk> {
    try {
      const stream = await options.open(messages, signal, headers);
      for await (const chunk of stream) {
        const text = chunk.choices?.[0]?.delta?.content;
        // A server that sends a non-string `content` has it ignored rather than concatenated.
        if (typeof text === "string" && text.length > 0) {
          answer += text;
          yield { type: "token", text };
        }
        usage = chunk.x_groq?.usage ?? chunk.usage ?? usage;
      }
    } catch (error) {
      throw fail(error);
    }
    // The SDKs end an aborted stream quietly instead of throwing: a cut-off answer must not
    // look complete.
    if (signal.aborted) throw fail(signal.reason);

    const reported =
      typeof usage?.prompt_tokens === "number" && typeof usage.completion_tokens === "number";
    yield {
      type: "usage",
      usage: reported
        ? {
            promptTokens: usage?.prompt_tokens as number,
            completionTokens: usage?.completion_tokens as number,
            estimated: false,
          }
        : {
            // Some servers ignore `stream_options.include_usage`; count roughly ourselves.
            promptTokens: estimateTokens(messages.map((m) => m.content).join("\n")),
            completionTokens: estimateTokens(answer),
            estimated: true,
          },
    };
  }
}

/**
 * The `openai` client for an OpenAI-compatible server, as every BiTB caller needs it (the
 * answerer, the tool caller): `timeoutMs` is the whole call's limit, and retries and circuit
 * breaking belong to the resilient wrapper, never the SDK.
 */
export function createOpenAIClient(options: {
  baseUrl: string;
  apiKey?: string;
  timeoutMs: number;
}): OpenAI {
  return new OpenAI({
    baseURL: options.baseUrl,
    // Local servers need no key, but the client refuses to start without one: pass a
    // placeholder and strip the Authorization header it would produce.
    apiKey: options.apiKey ?? "no-key",
    defaultHeaders: options.apiKey ? undefined : { authorization: null },
    // Explicit, so OPENAI_* variables in the environment cannot add headers to our requests.
    organization: null,
    project: null,
    timeout: options.timeoutMs,
    maxRetries: 0,
  });
}

/** The provider named `openai`, for any server that speaks OpenAI chat completions. */
export function createOpenAICompatibleAnswerer(options: OpenAICompatibleOptions): AnswerProvider {
  const client = createOpenAIClient(options);
  return {
    name: "openai",
    model: options.model,
    stream(request) {
      return streamChatCompletion({
        provider: "openai",
        request,
        timeoutMs: options.timeoutMs,
        errors: { APIError, APIConnectionTimeoutError },
        model: request.model ?? options.model,
        open: (messages, signal, headers) =>
          client.chat.completions.create(
            {
              // The tenant's model override, else the configured one.
              model: request.model ?? options.model,
              messages,
              stream: true,
              stream_options: { include_usage: true },
              max_tokens: options.maxTokens,
              // Low temperature: the answer should restate the sources, not improvise.
              temperature: 0.2,
            },
            { signal, headers },
          ),
      });
    },
  };
}
