// Batch asks: several questions of one visitor or admin answered together. Retrieval is
// shared (identical questions are searched once, a few searches at a time); answering is
// either ONE aggregated LLM call for a small batch (its numbered reply split back per
// question, with a fallback to one call per question when it cannot be split) or one call
// per question with a concurrency cap (large batches, and the local extractive answerer).
// Each answered question is recorded like a single ask. Yields the batch events of
// app/shared/ask-events.ts: batch → (progress | result)* → batch_done.
//
// Usage of a shared call is apportioned: prompt tokens evenly per question, completion
// tokens in proportion to each answer's length (integers that add up to the call's usage).
// The usage of an aggregated call whose reply could not be split is shared evenly by the
// questions that were then asked one by one. Shared usage is marked `apportioned: true`.
import type {
  BatchEventMap,
  BatchMode,
  BatchResult,
  Citation,
  ErrorEvent,
} from "#app/shared/ask-events.ts";
import type { TenantRecord } from "../control-db.server.ts";
import { createExtractiveAnswerer, isAbstention } from "../llm/extractive.server.ts";
import { numberQuestions } from "../llm/prompt.server.ts";
import { transcriptText } from "../pii/transcript.server.ts";
import type {
  AnswerProvider,
  AnswerRequest,
  DegradeReason,
  SourcePassage,
  TokenUsage,
} from "../llm/provider.server.ts";
import { metrics, recordTokens } from "../metrics.server.ts";
import { recordAskExchange } from "../replication/writes.server.ts";
import type { RetrievedChunk } from "../retrieval/types.server.ts";
import type { Runtime } from "../runtime/runtime.server.ts";
import { tenantDb } from "../tenancy/tenants.server.ts";
import { newConversationId } from "#tenants/conversations.ts";
import { citedNumbers, toCitation } from "./ask.server.ts";
import { splitBatchAnswer } from "./batch-parse.server.ts";
import { normaliseQuestion } from "#tenants/question.ts";

export type BatchEvent = {
  [K in keyof BatchEventMap]: { event: K; data: BatchEventMap[K] };
}[keyof BatchEventMap];

export interface BatchInput {
  tenant: TenantRecord;
  /** The questions, already trimmed and validated (1..BATCH_MAX_QUESTIONS). */
  queries: readonly string[];
  /** The conversation the answers are recorded in; a new one when absent. */
  conversationId?: string;
  /** Aborting stops further retrievals and LLM calls; unanswered questions fail. */
  signal?: AbortSignal;
}

type BatchRuntime = Pick<
  Runtime,
  "tenants" | "embedder" | "answerer" | "config" | "logger" | "retrievalCache"
> &
  Partial<Pick<Runtime, "replication">>;

const fallbackAnswerer = createExtractiveAnswerer();
const CANCELLED: ErrorEvent = { code: "cancelled", message: "The batch was cancelled." };
const UPSTREAM_FAILED: ErrorEvent = {
  code: "upstream_failed",
  message: "The answer could not be generated. Try again.",
};
const RETRIEVAL_FAILED: ErrorEvent = {
  code: "retrieval_failed",
  message: "The knowledge base could not be searched. Try again.",
};

/** Runs at most `max` tasks at once; the others wait in arrival order. */
export function createLimiter(max: number) {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async function limit<T>(task: () => Promise<T>): Promise<T> {
    if (active < max) active++;
    // A finishing task hands its slot straight to the next one, so `active` never overshoots.
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else active--;
    }
  };
}

/** Splits `total` into integers proportional to `weights` (even when all are 0) summing to it. */
export function apportion(total: number, weights: readonly number[]): number[] {
  if (weights.length === 0) return [];
  const sum = weights.reduce((a, b) => a + b, 0);
  const shares = weights.map((w) => (sum > 0 ? (total * w) / sum : total / weights.length));
  const parts = shares.map(Math.floor);
  let left = total - parts.reduce((a, b) => a + b, 0);
  // Largest remainders first, earlier questions on ties.
  const order = shares
    .map((share, i) => ({ i, rest: share - Math.floor(share) }))
    .sort((a, b) => b.rest - a.rest || a.i - b.i);
  for (const { i } of order) {
    if (left <= 0) break;
    parts[i] = (parts[i] as number) + 1;
    left--;
  }
  return parts;
}

/** An unbounded mailbox of events that concurrent workers fill and the generator drains. */
function createChannel<T>() {
  const buffer: T[] = [];
  let wake: (() => void) | null = null;
  let closed = false;
  let failure: { error: unknown } | null = null;
  const notify = () => {
    wake?.();
    wake = null;
  };
  return {
    push(item: T) {
      buffer.push(item);
      notify();
    },
    close(error?: { error: unknown }) {
      closed = true;
      failure = error ?? null;
      notify();
    },
    async *drain(): AsyncGenerator<T> {
      for (;;) {
        while (buffer.length > 0) yield buffer.shift() as T;
        if (closed) {
          if (failure) throw failure.error;
          return;
        }
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
  };
}

/** Identical questions (by normaliseQuestion), asked once for all their positions. */
interface Group {
  query: string;
  indexes: number[];
}

/** What one answer call produced for a group. */
interface Outcome {
  answer: string;
  /** The passages retrieved for the group, numbered as the answer cites them. */
  sources: Citation[];
  /** Every source the answer's [n] may refer to (the union in an aggregated call). */
  citeable: Citation[];
  usage: TokenUsage;
  /** The usage is a share of a call other questions shared. */
  shared: boolean;
  provider: string;
  model: string;
  degradedReason: DegradeReason | null;
}

interface CallResult {
  answer: string;
  usage: TokenUsage;
  provider: string;
  model: string;
  degradedReason: DegradeReason | null;
}

class Cancelled extends Error {
  override name = "Cancelled";
}

function groupQuestions(queries: readonly string[]): Group[] {
  const groups = new Map<string, Group>();
  queries.forEach((query, index) => {
    const key = normaliseQuestion(query);
    const group = groups.get(key);
    if (group) group.indexes.push(index);
    else groups.set(key, { query, indexes: [index] });
  });
  return [...groups.values()];
}

function toPassages(chunks: readonly RetrievedChunk[]): SourcePassage[] {
  return chunks.map((chunk, i) => ({
    n: i + 1,
    title: chunk.title,
    headingPath: chunk.headingPath,
    text: chunk.text,
    score: chunk.score,
    similarity: chunk.similarity,
  }));
}

/** Runs one answer call to the end, collecting its text, usage and degradation. */
async function runCall(answerer: AnswerProvider, request: AnswerRequest): Promise<CallResult> {
  if (request.signal?.aborted) throw new Cancelled();
  let answer = "";
  let usage: TokenUsage = { promptTokens: 0, completionTokens: 0, estimated: true };
  let provider = { name: answerer.name, model: request.model ?? answerer.model };
  let degradedReason: DegradeReason | null = null;
  for await (const chunk of answerer.stream(request)) {
    if (chunk.type === "token") answer += chunk.text;
    else if (chunk.type === "usage") usage = chunk.usage;
    else {
      degradedReason = chunk.reason;
      provider = { name: chunk.provider, model: chunk.model };
    }
  }
  return {
    answer: answer.trim(),
    usage,
    provider: provider.name,
    model: provider.model,
    degradedReason,
  };
}

function addUsage(a: TokenUsage, b: TokenUsage | null): TokenUsage {
  if (!b) return a;
  return {
    promptTokens: a.promptTokens + b.promptTokens,
    completionTokens: a.completionTokens + b.completionTokens,
    estimated: a.estimated || b.estimated,
  };
}

/** `usage` split across parts: prompt tokens by `promptWeights`, completion by `answerWeights`. */
function splitUsage(
  usage: TokenUsage,
  promptWeights: readonly number[],
  answerWeights: readonly number[],
): TokenUsage[] {
  const prompt = apportion(usage.promptTokens, promptWeights);
  const completion = apportion(usage.completionTokens, answerWeights);
  return prompt.map((promptTokens, i) => ({
    promptTokens,
    completionTokens: completion[i] as number,
    estimated: usage.estimated,
  }));
}

export async function* askBatch(
  runtime: BatchRuntime,
  input: BatchInput,
): AsyncGenerator<BatchEvent> {
  const started = performance.now();
  const { config, logger } = runtime;
  const { tenant, queries } = input;
  const conversationId = input.conversationId ?? newConversationId();
  // Aborted by the caller, or by us when the consumer stops reading.
  const stop = new AbortController();
  const signal = input.signal ? AbortSignal.any([input.signal, stop.signal]) : stop.signal;
  const aggregate =
    runtime.answerer.name !== "extractive" && queries.length <= config.BATCH_AGGREGATE_MAX;
  const mode: BatchMode = aggregate ? "aggregated" : "parallel";
  const results: BatchResult[] = [];
  const channel = createChannel<BatchEvent>();
  const retrievalLimit = createLimiter(config.BATCH_RETRIEVAL_CONCURRENCY);
  const llmLimit = createLimiter(config.BATCH_LLM_CONCURRENCY);
  const elapsed = () => Math.round(performance.now() - started);
  // The tenant's model override (the local extractive answerer ignores it).
  const model = tenant.llmModel ?? undefined;

  const progress = (group: Group, state: "retrieving" | "answering") => {
    for (const index of group.indexes) channel.push({ event: "progress", data: { index, state } });
  };

  const deliver = (result: BatchResult) => {
    results[result.index] = result;
    const state = result.error ? "failed" : "done";
    channel.push({ event: "progress", data: { index: result.index, state } });
    channel.push({ event: "result", data: result });
  };

  const settle = (group: Group, outcome: Outcome) => {
    const abstained = outcome.sources.length === 0 || isAbstention(outcome.answer);
    const citations = abstained
      ? []
      : citedNumbers(outcome.answer, outcome.citeable.length).map(
          (n) => outcome.citeable[n - 1] as Citation,
        );
    const ones = group.indexes.map(() => 1);
    const usages = splitUsage(outcome.usage, ones, ones);
    const latencyMs = elapsed();
    group.indexes.forEach((index, j) => {
      const usage = usages[j] as TokenUsage;
      const query = queries[index] as string;
      let messageId: number | null = null;
      try {
        messageId = recordAskExchange(runtime, tenant, {
          conversationId,
          question: transcriptText(tenant, query),
          answer: transcriptText(tenant, outcome.answer),
          citations,
          provider: `${outcome.provider}:${outcome.model}`,
          promptTokens: usage.promptTokens,
          completionTokens: usage.completionTokens,
          latencyMs,
          abstained,
        });
      } catch (error) {
        logger.error({ err: error, tenantId: tenant.id }, "batch answer could not be recorded");
      }
      deliver({
        index,
        query,
        messageId,
        answer: outcome.answer,
        citations,
        sources: outcome.sources,
        abstained,
        degraded: outcome.degradedReason !== null,
        degradedReason: outcome.degradedReason,
        provider: outcome.provider,
        model: outcome.model,
        usage: { ...usage, apportioned: outcome.shared || group.indexes.length > 1 },
        latencyMs,
        error: null,
      });
    });
  };

  const fail = (
    group: Group,
    error: unknown,
    known: ErrorEvent,
    sources: Citation[] = [],
    usage: TokenUsage | null = null,
  ) => {
    const reported = signal.aborted ? CANCELLED : known;
    if (!signal.aborted) {
      logger.warn(
        { err: error, tenantId: tenant.id, provider: runtime.answerer.name },
        `batch question failed: ${reported.code}`,
      );
    }
    const ones = group.indexes.map(() => 1);
    const usages = usage ? splitUsage(usage, ones, ones) : [];
    const latencyMs = elapsed();
    group.indexes.forEach((index, j) => {
      deliver({
        index,
        query: queries[index] as string,
        messageId: null,
        answer: "",
        citations: [],
        sources,
        abstained: false,
        degraded: false,
        degradedReason: null,
        provider: runtime.answerer.name,
        model: runtime.answerer.model,
        usage: {
          ...(usages[j] ?? { promptTokens: 0, completionTokens: 0, estimated: false }),
          apportioned: usage !== null,
        },
        latencyMs,
        error: reported,
      });
    });
  };

  const retrieveGroup = (group: Group): Promise<RetrievedChunk[]> =>
    retrievalLimit(async () => {
      if (signal.aborted) throw new Cancelled();
      progress(group, "retrieving");
      const { chunks } = await runtime.retrievalCache.retrieve(
        tenant.id,
        () => tenantDb(runtime, tenant),
        runtime.embedder,
        group.query,
        { topK: config.RETRIEVAL_TOP_K },
      );
      return chunks;
    });

  /** One question, one call; nothing retrieved means a local abstention, no LLM call. */
  const answerAlone = async (
    group: Group,
    chunks: RetrievedChunk[],
    extraUsage: TokenUsage | null = null,
  ) => {
    const sources = chunks.map((chunk, i) => toCitation(chunk, i + 1));
    const answerer = chunks.length === 0 ? fallbackAnswerer : runtime.answerer;
    try {
      const call = await llmLimit(() => {
        progress(group, "answering");
        return runCall(answerer, {
          question: group.query,
          model,
          history: [],
          sources: toPassages(chunks),
          signal,
        });
      });
      settle(group, {
        answer: call.answer,
        sources,
        citeable: sources,
        usage: addUsage(call.usage, extraUsage),
        shared: extraUsage !== null,
        provider: call.provider,
        model: call.model,
        degradedReason: call.degradedReason,
      });
    } catch (error) {
      fail(group, error, UPSTREAM_FAILED, sources, extraUsage);
    }
  };

  /**
   * One call for every question with sources. Returns false (after spending `usage`) when the
   * reply could not be split or the call failed, so the caller asks them one by one.
   */
  const answerTogether = async (
    asked: { group: Group; chunks: RetrievedChunk[] }[],
  ): Promise<{ ok: true } | { ok: false; wasted: TokenUsage | null }> => {
    // The union of the questions' passages, each chunk once, numbered [1..N].
    const union: RetrievedChunk[] = [];
    const numberOf = new Map<number, number>();
    for (const { chunks } of asked) {
      for (const chunk of chunks) {
        if (numberOf.has(chunk.chunkId)) continue;
        union.push(chunk);
        numberOf.set(chunk.chunkId, union.length);
      }
    }
    const citeable = union.map((chunk, i) => toCitation(chunk, i + 1));
    const questions = asked.map(({ group }) => group.query);
    let call: CallResult;
    try {
      call = await llmLimit(() => {
        for (const { group } of asked) progress(group, "answering");
        return runCall(runtime.answerer, {
          question: numberQuestions(questions),
          questions,
          model,
          history: [],
          sources: toPassages(union),
          signal,
        });
      });
    } catch (error) {
      if (signal.aborted) throw error;
      logger.warn(
        { err: error, tenantId: tenant.id, provider: runtime.answerer.name },
        "aggregated batch call failed; asking the questions one by one",
      );
      return { ok: false, wasted: null };
    }
    // A degraded call was answered by the extractive fallback, which cannot number answers.
    if (call.degradedReason !== null) return { ok: false, wasted: null };
    const answers = splitBatchAnswer(call.answer, asked.length);
    if (!answers) {
      logger.warn(
        { tenantId: tenant.id, provider: call.provider, questions: asked.length },
        "aggregated batch reply could not be split; asking the questions one by one",
      );
      return { ok: false, wasted: call.usage };
    }
    const sizes = asked.map(({ group }) => group.indexes.length);
    const usages = splitUsage(
      call.usage,
      sizes,
      answers.map((answer, i) => answer.length * (sizes[i] as number)),
    );
    asked.forEach(({ group, chunks }, i) => {
      settle(group, {
        answer: answers[i] as string,
        sources: chunks.map((chunk) => citeable[(numberOf.get(chunk.chunkId) as number) - 1]!),
        citeable,
        usage: usages[i] as TokenUsage,
        shared: true,
        provider: call.provider,
        model: call.model,
        degradedReason: null,
      });
    });
    return { ok: true };
  };

  const runParallel = async (groups: Group[]) => {
    await Promise.all(
      groups.map(async (group) => {
        let chunks: RetrievedChunk[];
        try {
          chunks = await retrieveGroup(group);
        } catch (error) {
          fail(group, error, RETRIEVAL_FAILED);
          return;
        }
        await answerAlone(group, chunks);
      }),
    );
  };

  const runAggregated = async (groups: Group[]) => {
    const retrieved = await Promise.all(
      groups.map(async (group) => {
        try {
          return { group, chunks: await retrieveGroup(group) };
        } catch (error) {
          fail(group, error, RETRIEVAL_FAILED);
          return null;
        }
      }),
    );
    const ready = retrieved.filter((r) => r !== null);
    // Questions nothing was found for abstain locally, without taking part in the call.
    const asked = ready.filter((r) => r.chunks.length > 0);
    await Promise.all(
      ready.filter((r) => r.chunks.length === 0).map((r) => answerAlone(r.group, r.chunks)),
    );
    let wasted: TokenUsage | null = null;
    if (asked.length > 1) {
      try {
        const outcome = await answerTogether(asked);
        if (outcome.ok) return;
        wasted = outcome.wasted;
      } catch (error) {
        for (const { group, chunks } of asked) {
          fail(
            group,
            error,
            UPSTREAM_FAILED,
            chunks.map((c, i) => toCitation(c, i + 1)),
          );
        }
        return;
      }
    }
    const shares = wasted
      ? splitUsage(
          wasted,
          asked.map((r) => r.group.indexes.length),
          asked.map((r) => r.group.indexes.length),
        )
      : [];
    await Promise.all(asked.map((r, i) => answerAlone(r.group, r.chunks, shares[i] ?? null)));
  };

  metrics.batchAsks.inc({ mode });
  metrics.batchQuestions.inc({ mode }, queries.length);
  yield { event: "batch", data: { conversationId, mode, count: queries.length } };
  const groups = groupQuestions(queries);
  const work = (aggregate ? runAggregated(groups) : runParallel(groups)).then(
    () => channel.close(),
    (error: unknown) => channel.close({ error }),
  );
  try {
    yield* channel.drain();
  } finally {
    // Done, failed or abandoned by the reader: nothing more may be sent upstream.
    stop.abort();
  }
  await work;
  for (const result of results) {
    recordTokens(result.provider, result.usage.promptTokens, result.usage.completionTokens);
    if (result.degradedReason) metrics.degradedAnswers.inc({ reason: result.degradedReason });
  }

  const usage = results.reduce(
    (total, r) => ({
      promptTokens: total.promptTokens + r.usage.promptTokens,
      completionTokens: total.completionTokens + r.usage.completionTokens,
      estimated: total.estimated || r.usage.estimated,
    }),
    { promptTokens: 0, completionTokens: 0, estimated: false },
  );
  yield {
    event: "batch_done",
    data: { conversationId, mode, results, usage, latencyMs: elapsed() },
  };
}
