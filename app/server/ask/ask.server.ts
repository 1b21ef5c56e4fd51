// The ask pipeline: retrieve a tenant's passages, stream an answer that cites them, and
// record the exchange. Yields the events of app/shared/ask-events.ts in order:
// sources → token* → done (or error).
import { context, trace, type Span } from "@opentelemetry/api";
import type { AskEventMap, AskEventName, Citation, DoneEvent } from "#app/shared/ask-events.ts";
import { newConversationId, type StoredTurn } from "#tenants/conversations.ts";
import { knowledgeBaseVersion } from "#tenants/knowledge-base.ts";
import type { TenantRecord } from "../control-db.server.ts";
import { createExtractiveAnswerer, isAbstention } from "../llm/extractive.server.ts";
import { transcriptText } from "../pii/transcript.server.ts";
import type {
  AnswerProvider,
  DegradeReason,
  SourcePassage,
  TokenUsage,
} from "../llm/provider.server.ts";
import { recordAsk, metrics } from "../metrics.server.ts";
import { conversationHistory, recordAskExchange } from "../replication/writes.server.ts";
import { currentRequestContext } from "../request-context.server.ts";
import type { RetrievedChunk } from "../retrieval/types.server.ts";
import type { Runtime } from "../runtime/runtime.server.ts";
import { tenantDb } from "../tenancy/tenants.server.ts";
import {
  endSpan,
  recordRetrievalSpans,
  recordSpan,
  startSpan,
} from "../observability/tracing.server.ts";
import {
  answerCacheKey,
  cachedAnswerDone,
  streamPieces,
  type CachedAnswer,
} from "./answer-cache.server.ts";

export type AskEvent = { [K in AskEventName]: { event: K; data: AskEventMap[K] } }[AskEventName];

export interface AskInput {
  tenant: TenantRecord;
  query: string;
  /** An existing conversation to continue, or a new id the caller chose. */
  conversationId?: string;
  /**
   * The earlier turns as the caller holds them (the OpenAI-compatible API's `messages`),
   * instead of the stored conversation's; the last HISTORY_TURNS exchanges are used.
   */
  history?: StoredTurn[];
  signal?: AbortSignal;
  /** performance.now() when the request arrived: parsing and validating it is traced too. */
  receivedAt?: number;
}

type AskRuntime = Pick<
  Runtime,
  "tenants" | "embedder" | "answerer" | "config" | "logger" | "retrievalCache" | "answerCache"
> &
  Partial<Pick<Runtime, "replication">>;

const SNIPPET_CHARS = 240;
/** A follow-up this short ("and on Fly?") is searched together with the previous question. */
const SHORT_FOLLOW_UP_WORDS = 5;
const fallbackAnswerer = createExtractiveAnswerer();

export function toCitation(chunk: RetrievedChunk, n: number): Citation {
  const snippet =
    chunk.text.length > SNIPPET_CHARS ? `${chunk.text.slice(0, SNIPPET_CHARS - 1)}…` : chunk.text;
  return {
    n,
    documentId: chunk.documentId,
    title: chunk.title,
    url: chunk.url,
    fileName: chunk.fileName,
    headingPath: chunk.headingPath,
    snippet,
    score: Math.round(chunk.score * 10_000) / 10_000,
  };
}

/** The [n] markers an answer uses, in order of first use, limited to known sources. */
export function citedNumbers(answer: string, sourceCount: number): number[] {
  const seen = new Set<number>();
  for (const match of answer.matchAll(/\[(\d{1,3})\]/g)) {
    const n = Number(match[1]);
    if (n >= 1 && n <= sourceCount) seen.add(n);
  }
  return [...seen];
}

function retrievalQuery(query: string, history: ReadonlyArray<{ role: string; content: string }>) {
  const words = query.trim().split(/\s+/).length;
  const lastQuestion = [...history].reverse().find((t) => t.role === "user");
  return lastQuestion && words <= SHORT_FOLLOW_UP_WORDS
    ? `${lastQuestion.content} ${query}`
    : query;
}

/**
 * The ask's span (tracing.server.ts), whose tree is: validate, retrieve (embed, keyword,
 * vector, fuse), prompt, llm (to the first token), stream (the rest of the answer).
 */
function startAskSpan(input: AskInput, started: number): Span {
  const span = startSpan("ask", {
    startTime: input.receivedAt ?? started,
    attributes: {
      "bitb.tenant_id": input.tenant.id,
      "bitb.request_id": currentRequestContext()?.requestId ?? "",
    },
  });
  if (input.receivedAt !== undefined) recordSpan("ask.validate", span, input.receivedAt, started);
  return span;
}

export async function* askStream(runtime: AskRuntime, input: AskInput): AsyncGenerator<AskEvent> {
  const started = performance.now();
  const span = startAskSpan(input, started);
  let failure: unknown = null;
  try {
    yield* answerAsk(runtime, input, started, span);
  } catch (error) {
    failure = error;
    metrics.asks.inc({ outcome: "error" });
    throw error;
  } finally {
    endSpan(span, failure);
  }
}

/**
 * A cached answer's replay outside the event stream (the cached-answer lane,
 * cached-lane.server.ts): traced, recorded and counted exactly as askStream replays it;
 * returns the `done` event's data. The caller sends the sources and tokens before it.
 */
export function replayCachedAsk(
  runtime: AskRuntime,
  input: AskInput,
  conversationId: string,
  hit: CachedAnswer,
): DoneEvent {
  const started = performance.now();
  const span = startAskSpan(input, started);
  let failure: unknown = null;
  try {
    const sourcesAt = performance.now() - started;
    return recordCachedReplay(runtime, input, conversationId, hit, started, sourcesAt);
  } catch (error) {
    failure = error;
    metrics.asks.inc({ outcome: "error" });
    throw error;
  } finally {
    endSpan(span, failure);
  }
}

/**
 * Where a question stands with the answer cache: its conversation (a new id when the caller
 * named none), that conversation's history and, for a first question with the cache on, the
 * key and knowledge-base version to look it up by. A follow-up depends on its history, so it
 * is always answered afresh.
 */
export interface AnswerCacheLookup {
  conversationId: string;
  history: StoredTurn[];
  cache: { version: string; key: string } | null;
}

export function answerCacheLookup(
  runtime: Pick<AskRuntime, "tenants" | "answerer" | "config" | "answerCache"> &
    Partial<Pick<Runtime, "replication">>,
  input: Pick<AskInput, "tenant" | "query" | "conversationId" | "history">,
): AnswerCacheLookup {
  const conversationId = input.conversationId ?? newConversationId();
  const turns = runtime.config.HISTORY_TURNS;
  // A conversation id the server just made has no history to look up.
  const history = input.history
    ? turns > 0
      ? input.history.slice(-turns * 2)
      : []
    : input.conversationId
      ? conversationHistory(runtime, input.tenant, conversationId, turns)
      : [];
  const cache =
    history.length === 0 && runtime.answerCache.enabled
      ? {
          version: knowledgeBaseVersion(tenantDb(runtime, input.tenant)),
          key: answerCacheKey(
            input.tenant,
            { name: runtime.answerer.name, model: input.tenant.llmModel ?? runtime.answerer.model },
            input.query,
          ),
        }
      : null;
  return { conversationId, history, cache };
}

async function* answerAsk(
  runtime: AskRuntime,
  input: AskInput,
  started: number,
  span: Span,
): AsyncGenerator<AskEvent> {
  // A conversation's first question may have been answered before.
  const { conversationId, history, cache } = answerCacheLookup(runtime, input);
  const hit = cache && runtime.answerCache.get(input.tenant.id, cache.version, cache.key);
  if (hit) {
    yield* replayCachedAnswer(runtime, input, conversationId, hit, started);
    return;
  }

  const retrieveStarted = performance.now();
  const { chunks, stats } = await runtime.retrievalCache.retrieve(
    input.tenant.id,
    // Taken again after the query embedding: asks to other tenants may have closed it.
    () => tenantDb(runtime, input.tenant),
    runtime.embedder,
    retrievalQuery(input.query, history),
    { topK: runtime.config.RETRIEVAL_TOP_K },
  );
  const retrievalMs = performance.now() - started;
  recordRetrievalSpans(span, retrieveStarted, stats, { "bitb.chunks": chunks.length });
  const sources = chunks.map((chunk, i) => toCitation(chunk, i + 1));
  yield { event: "sources", data: { conversationId, sources } };

  const promptStarted = performance.now();
  const passages: SourcePassage[] = chunks.map((chunk, i) => ({
    n: i + 1,
    title: chunk.title,
    headingPath: chunk.headingPath,
    text: chunk.text,
    score: chunk.score,
    similarity: chunk.similarity,
  }));
  // With nothing retrieved there is nothing to ground an LLM answer in: abstain locally.
  const answerer: AnswerProvider = passages.length === 0 ? fallbackAnswerer : runtime.answerer;
  const llmStarted = performance.now();
  recordSpan("ask.prompt", span, promptStarted, llmStarted, {
    "bitb.passages": passages.length,
    "bitb.history_turns": history.length,
  });
  const llmSpan = startSpan("ask.llm", {
    parent: span,
    startTime: llmStarted,
    attributes: { "bitb.provider": answerer.name, "bitb.model": answerer.model },
  });
  let streamSpan: Span | null = null;

  let answer = "";
  let provider = { name: answerer.name, model: answerer.model };
  let degradedReason: DegradeReason | null = null;
  let firstTokenMs: number | null = null;
  let usage: TokenUsage = { promptTokens: 0, completionTokens: 0, estimated: true };
  try {
    for await (const chunk of answerer.stream({
      question: input.query,
      history,
      sources: passages,
      model: input.tenant.llmModel ?? undefined,
      signal: input.signal,
      // The upstream call's CLIENT span is a child of the ask, beside ask.llm and ask.stream.
      traceContext: trace.setSpan(context.active(), span),
    })) {
      if (chunk.type === "token") {
        if (chunk.text.length === 0) continue;
        if (firstTokenMs === null) {
          const now = performance.now();
          firstTokenMs = now - started;
          llmSpan.setAttributes({
            "bitb.provider": provider.name,
            "bitb.model": provider.model,
            "bitb.degraded_reason": degradedReason ?? "",
          });
          endSpan(llmSpan, undefined, now);
          streamSpan = startSpan("ask.stream", { parent: span, startTime: now });
        }
        answer += chunk.text;
        yield { event: "token", data: { text: chunk.text } };
      } else if (chunk.type === "usage") {
        usage = chunk.usage;
      } else {
        degradedReason = chunk.reason;
        provider = { name: chunk.provider, model: chunk.model };
      }
    }
  } catch (error) {
    endSpan(streamSpan ?? llmSpan, error);
    if (input.signal?.aborted) return;
    metrics.asks.inc({ outcome: "error" });
    runtime.logger.warn(
      { err: error, tenantId: input.tenant.id, provider: answerer.name },
      "answer provider failed",
    );
    yield {
      event: "error",
      data: { code: "upstream_failed", message: "The answer could not be generated. Try again." },
    };
    return;
  }

  const answered = {
    "bitb.provider": provider.name,
    "bitb.model": provider.model,
    "bitb.degraded_reason": degradedReason ?? "",
    "bitb.prompt_tokens": usage.promptTokens,
    "bitb.completion_tokens": usage.completionTokens,
  };
  (streamSpan ?? llmSpan).setAttributes(answered);
  endSpan(streamSpan ?? llmSpan);

  const abstained = passages.length === 0 || isAbstention(answer);
  const citations = abstained
    ? []
    : citedNumbers(answer, sources.length).map((n) => sources[n - 1] as Citation);
  const totalMs = performance.now() - started;
  if (cache && degradedReason === null) {
    runtime.answerCache.set(input.tenant.id, cache.version, cache.key, {
      answer,
      sources,
      citations,
      abstained,
      provider: provider.name,
      model: provider.model,
    });
  }
  const messageId = recordAskExchange(runtime, input.tenant, {
    conversationId,
    // PII-masked when the tenant asks (the visitor still sees the answer as it was).
    question: transcriptText(input.tenant, input.query),
    answer: transcriptText(input.tenant, answer),
    citations,
    provider: `${provider.name}:${provider.model}`,
    promptTokens: usage.promptTokens,
    completionTokens: usage.completionTokens,
    latencyMs: Math.round(totalMs),
    abstained,
  });
  recordAsk({
    embedMs: stats.embedMs > 0 ? stats.embedMs : null,
    retrievalMs: stats.totalMs,
    firstTokenMs,
    totalMs,
    abstained,
    degradedReason,
    provider: provider.name,
    promptTokens: usage.promptTokens,
    completionTokens: usage.completionTokens,
  });
  span.setAttributes({ ...answered, "bitb.abstained": abstained });
  yield {
    event: "done",
    data: {
      conversationId,
      messageId,
      answer,
      citations,
      abstained,
      degraded: degradedReason !== null,
      degradedReason,
      cached: false,
      provider: provider.name,
      model: provider.model,
      usage,
      latency: {
        retrievalMs: Math.round(retrievalMs),
        firstTokenMs: firstTokenMs === null ? null : Math.round(firstTokenMs),
        totalMs: Math.round(totalMs),
      },
    },
  };
}

/** Streams a cached answer as sources, tokens and done, and records the exchange. */
async function* replayCachedAnswer(
  runtime: AskRuntime,
  input: AskInput,
  conversationId: string,
  hit: CachedAnswer,
  started: number,
): AsyncGenerator<AskEvent> {
  yield { event: "sources", data: { conversationId, sources: hit.sources } };
  const retrievalMs = performance.now() - started;
  for (const text of streamPieces(hit.answer)) yield { event: "token", data: { text } };
  yield {
    event: "done",
    data: recordCachedReplay(runtime, input, conversationId, hit, started, retrievalMs),
  };
}

/**
 * Records the replay of a cached answer — the exchange (with the day's usage) and the ask's
 * metrics — and returns its `done` event's data. `retrievalMs`: when the sources went out.
 */
function recordCachedReplay(
  runtime: AskRuntime,
  input: AskInput,
  conversationId: string,
  hit: CachedAnswer,
  started: number,
  retrievalMs: number,
): DoneEvent {
  const totalMs = performance.now() - started;
  const messageId = recordAskExchange(runtime, input.tenant, {
    conversationId,
    question: transcriptText(input.tenant, input.query),
    answer: transcriptText(input.tenant, hit.answer),
    citations: hit.citations,
    provider: `${hit.provider}:${hit.model}`,
    promptTokens: 0,
    completionTokens: 0,
    latencyMs: Math.round(totalMs),
    abstained: hit.abstained,
    cached: true,
  });
  recordAsk({
    embedMs: null,
    retrievalMs,
    firstTokenMs: retrievalMs,
    totalMs,
    abstained: hit.abstained,
    degradedReason: null,
    provider: hit.provider,
    promptTokens: 0,
    completionTokens: 0,
  });
  return cachedAnswerDone(hit, conversationId, messageId, {
    retrievalMs: Math.round(retrievalMs),
    firstTokenMs: Math.round(retrievalMs),
    totalMs: Math.round(totalMs),
  });
}
