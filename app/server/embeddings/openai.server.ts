// Embeddings from any server that speaks the OpenAI `/embeddings` protocol (OpenAI, Ollama,
// vLLM, text-embeddings-inference, LM Studio). Plain `fetch`, no SDK: the protocol is one POST.
// Touches only the configured endpoint; the API key goes in one header and nowhere else.
import { l2Normalise } from "./local.server.ts";
import { context, propagation, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { tracer } from "../observability/tracing.server.ts";
import type { EmbeddingProvider } from "./provider.server.ts";

export interface OpenAIEmbedderOptions {
  /** The API root, e.g. `https://api.openai.com/v1` or `http://localhost:11434/v1`. */
  baseUrl: string;
  apiKey?: string;
  model: string;
  /** Texts per request. */
  batchSize: number;
  /** Per request, including reading the body. */
  timeoutMs: number;
  fetch?: typeof fetch;
}

export class EmbeddingProviderError extends Error {
  override name = "EmbeddingProviderError";
  constructor(
    message: string,
    /** The HTTP status, when the server answered. */
    readonly status: number | null = null,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

interface EmbeddingsResponse {
  data?: { index?: number; embedding?: unknown }[];
}

const BODY_EXCERPT_CHARS = 200;

/** Creates the provider after one probe request that learns the model's dimension. */
export async function createOpenAIEmbedder(
  options: OpenAIEmbedderOptions,
): Promise<EmbeddingProvider> {
  const fetchImpl = options.fetch ?? fetch;
  const endpoint = `${options.baseUrl.replace(/\/+$/, "")}/embeddings`;
  // Shown in errors: origin and path only, so credentials in the URL never reach a log.
  const shownEndpoint = (() => {
    const url = new URL(endpoint);
    return `${url.origin}${url.pathname}`;
  })();
  const batchSize = Math.max(1, Math.floor(options.batchSize));
  const redact = (text: string) => {
    const withoutUrl = text.replaceAll(endpoint, shownEndpoint);
    return options.apiKey ? withoutUrl.replaceAll(options.apiKey, "[redacted]") : withoutUrl;
  };

  // Each call as an OpenTelemetry CLIENT span (the GenAI conventions' embeddings operation),
  // its traceparent sent with the request.
  const request = async (input: string[]): Promise<number[][]> => {
    const span = tracer().startSpan(`embeddings ${options.model}`, {
      kind: SpanKind.CLIENT,
      attributes: {
        "gen_ai.operation.name": "embeddings",
        "gen_ai.request.model": options.model,
        "http.request.method": "POST",
        "server.address": new URL(endpoint).hostname,
        "bitb.inputs": input.length,
      },
    });
    const headers: Record<string, string> = {};
    propagation.inject(trace.setSpan(context.active(), span), headers);
    try {
      return await requestOnce(input, headers);
    } catch (error) {
      const status = error instanceof EmbeddingProviderError ? error.status : null;
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      span.setAttribute("error.type", status ? String(status) : "connection");
      throw error;
    } finally {
      span.end();
    }
  };

  const requestOnce = async (
    input: string[],
    headers: Record<string, string>,
  ): Promise<number[][]> => {
    headers["content-type"] = "application/json";
    if (options.apiKey) headers.authorization = `Bearer ${options.apiKey}`;
    let response: Response;
    let body: string;
    try {
      response = await fetchImpl(endpoint, {
        method: "POST",
        headers,
        body: JSON.stringify({ model: options.model, input }),
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      body = await response.text();
    } catch (error) {
      const timedOut = error instanceof Error && error.name === "TimeoutError";
      throw new EmbeddingProviderError(
        timedOut
          ? `embedding request to ${shownEndpoint} timed out after ${options.timeoutMs} ms`
          : `embedding request to ${shownEndpoint} failed: ${redact(describe(error))}`,
        null,
        { cause: error },
      );
    }
    if (!response.ok) {
      const excerpt = redact(body.replace(/\s+/g, " ").trim().slice(0, BODY_EXCERPT_CHARS));
      throw new EmbeddingProviderError(
        `embedding server ${shownEndpoint} answered HTTP ${response.status}` +
          (excerpt ? `: ${excerpt}` : ""),
        response.status,
      );
    }
    let parsed: EmbeddingsResponse;
    try {
      parsed = JSON.parse(body) as EmbeddingsResponse;
    } catch (error) {
      throw new EmbeddingProviderError(
        `embedding server ${shownEndpoint} answered with invalid JSON`,
        response.status,
        { cause: error },
      );
    }
    const data = Array.isArray(parsed.data) ? parsed.data : [];
    if (data.length !== input.length) {
      throw new EmbeddingProviderError(
        `embedding server ${shownEndpoint} returned ${data.length} vectors for ${input.length} inputs`,
        response.status,
      );
    }
    // The protocol allows any order; `index` says which input each vector belongs to.
    const ordered = data
      .map((item, position) => ({ index: item.index ?? position, embedding: item.embedding }))
      .sort((a, b) => a.index - b.index);
    return ordered.map(({ index, embedding }, position) => {
      const valid =
        index === position &&
        Array.isArray(embedding) &&
        embedding.length > 0 &&
        embedding.every((value) => typeof value === "number" && Number.isFinite(value));
      if (!valid) {
        throw new EmbeddingProviderError(
          `embedding server ${shownEndpoint} returned a malformed vector for input ${position}`,
          response.status,
        );
      }
      return embedding as number[];
    });
  };

  const [probe] = await request(["dimension probe"]);
  const dimension = (probe as number[]).length;

  return {
    model: `openai:${options.model}`,
    dimension,
    // The protocol has no query/passage distinction, so `kind` is not sent.
    async embed(texts) {
      const vectors: Float32Array[] = [];
      for (let start = 0; start < texts.length; start += batchSize) {
        for (const values of await request(texts.slice(start, start + batchSize))) {
          if (values.length !== dimension) {
            throw new EmbeddingProviderError(
              `embedding model ${options.model} returned ${values.length} dimensions, expected ${dimension}`,
            );
          }
          vectors.push(l2Normalise(values));
        }
      }
      return vectors;
    },
  };
}

/** An error's message plus its cause's (undici hides ECONNREFUSED in `cause`). */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause;
  const detail =
    cause instanceof Error ? cause.message || (cause as NodeJS.ErrnoException).code : undefined;
  return detail ? `${error.message} (${detail})` : error.message;
}
