// Wraps a hosted answerer (Groq, OpenAI-compatible) in the resilience policy of the ask
// pipeline, built from cockatiel: bulkhead → circuit breaker → retry → first-token timeout.
// When the LLM is slow, failing or overloaded the visitor still gets an answer: the
// fallback's (the extractive answerer), announced by a `degraded` chunk.
//
// Decisions (see also the policy fields):
// - Only the part up to the primary's FIRST TOKEN is retried or replaced by the fallback.
//   Once a token has reached the caller, a failure is an error (the ask route sends an
//   `error` event): we can neither take back what was shown nor append a second answer.
// - Retryable: connection errors, first-token timeouts, HTTP 408, 429 and 5xx (see
//   AnswerProviderError.retryable). A 429's Retry-After is honoured as the least backoff; one
//   longer than `maxRetryAfterMs` (10 s) or than what is left of the total timeout is not
//   waited for: the ask degrades at once with `retries_exhausted`. Never retried: other
//   4xx (degrade with `upstream_error`), malformed streams (kind `protocol`, also
//   `upstream_error`), unknown errors of other providers, and aborted asks.
// - Backoff: retryBaseMs × 2^(n−1), with jitter drawn from [½, 1) of that, capped at 10 s.
// - The breaker counts one call per ask (it wraps the retries): a success is a stream that
//   produced its first token and then completed; every other outcome except the visitor's
//   abort is a failure, including a failure mid-stream and 4xx answers (a bad key or model
//   fails every ask). An aborted ask is not counted.
// - The total timeout starts when the ask gets its bulkhead slot and covers retries,
//   backoffs and the whole stream; it aborts the upstream request. Before the first token it
//   degrades with `first_token_timeout`, after it it is an error.
import {
  BulkheadRejectedError,
  CircuitState,
  SamplingBreaker,
  TaskCancelledError,
  TimeoutStrategy,
  bulkhead,
  circuitBreaker,
  handleWhen,
  isBrokenCircuitError,
  retry,
  timeout,
  type IBackoff,
  type IRetryBackoffContext,
} from "cockatiel";
import type { Config } from "../config.server.ts";
import { recordBreakerState } from "../metrics.server.ts";
import { AnswerProviderError } from "./openai-compatible.server.ts";
import type {
  AnswerChunk,
  AnswerProvider,
  AnswerRequest,
  DegradeReason,
} from "./provider.server.ts";

export interface ResiliencePolicy {
  /** The first token of an attempt must arrive within this time (LLM_FIRST_TOKEN_TIMEOUT_MS). */
  firstTokenTimeoutMs: number;
  /** The whole answer, retries included, must be complete within this time (LLM_TIMEOUT_MS). */
  totalTimeoutMs: number;
  /** Retries after the first attempt, before the first token only (LLM_MAX_RETRIES). */
  maxRetries: number;
  /** The first backoff; each further one doubles (LLM_RETRY_BASE_MS). */
  retryBaseMs: number;
  breaker: {
    /** Opens when at least this share (0–1] of the calls in the window failed. */
    threshold: number;
    /** The sliding window the failure rate is measured over, in ms. */
    windowMs: number;
    /** ...and only once the window holds at least this many calls. */
    minCalls: number;
    /** An open breaker lets one probe call through after this long. */
    halfOpenAfterMs: number;
  };
  /** Asks streaming from the provider at once (LLM_MAX_CONCURRENT). */
  maxConcurrent: number;
  /** Asks waiting for a slot (LLM_QUEUE_SIZE); one more degrades with `queue_full`. */
  queueSize: number;
  /** The longest Retry-After we wait for; default 10 s. */
  maxRetryAfterMs?: number;
}

export interface ProviderHealth {
  provider: string;
  model: string;
  /**
   * `half-open` while a probe call runs, and also once an open breaker's halfOpenAfterMs has
   * passed (the next ask will be the probe).
   */
  breaker: "closed" | "open" | "half-open";
  /** Failed share of the calls counted in the last windowMs (0 when there were none). */
  recentFailureRate: number;
  recentCalls: number;
  inFlight: number;
  queued: number;
}

export type ResilientAnswerer = AnswerProvider & { health(): ProviderHealth };

/** What the wrapper logs: pino's Logger fits. Messages never contain keys or prompts. */
export interface ResilienceLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface ResilientAnswererOptions {
  primary: AnswerProvider;
  fallback: AnswerProvider;
  policy: ResiliencePolicy;
  logger: ResilienceLogger;
  /** Clock for the health window (tests); cockatiel keeps its own Date.now(). */
  now?: () => number;
}

export type ResilienceSettings = Pick<
  Config,
  | "LLM_TIMEOUT_MS"
  | "LLM_FIRST_TOKEN_TIMEOUT_MS"
  | "LLM_MAX_RETRIES"
  | "LLM_RETRY_BASE_MS"
  | "LLM_BREAKER_THRESHOLD"
  | "LLM_BREAKER_WINDOW_MS"
  | "LLM_BREAKER_MIN_CALLS"
  | "LLM_BREAKER_HALF_OPEN_MS"
  | "LLM_MAX_CONCURRENT"
  | "LLM_QUEUE_SIZE"
>;

export function policyFromConfig(config: ResilienceSettings): ResiliencePolicy {
  return {
    firstTokenTimeoutMs: config.LLM_FIRST_TOKEN_TIMEOUT_MS,
    totalTimeoutMs: config.LLM_TIMEOUT_MS,
    maxRetries: config.LLM_MAX_RETRIES,
    retryBaseMs: config.LLM_RETRY_BASE_MS,
    breaker: {
      threshold: config.LLM_BREAKER_THRESHOLD,
      windowMs: config.LLM_BREAKER_WINDOW_MS,
      minCalls: config.LLM_BREAKER_MIN_CALLS,
      halfOpenAfterMs: config.LLM_BREAKER_HALF_OPEN_MS,
    },
    maxConcurrent: config.LLM_MAX_CONCURRENT,
    queueSize: config.LLM_QUEUE_SIZE,
  };
}

const DEFAULT_MAX_RETRY_AFTER_MS = 10_000;
const MAX_BACKOFF_MS = 10_000;
/** The health ring never holds more samples than this, however busy the window. */
const MAX_SAMPLES = 10_000;

/**
 * cockatiel's SamplingBreaker opens when `failures > threshold × total` and
 * `total ≥ duration × minimumRps / 1000`, with threshold strictly inside (0, 1). We want
 * "failures ≥ threshold × total, with at least minCalls calls in the window", so:
 * - threshold − 1e-9 turns its `>` into our `≥` (and maps a threshold of 1 into range);
 * - minimumRps = (minCalls − ½) × 1000 / windowMs makes its bar minCalls − ½ calls per window,
 *   i.e. at least minCalls for a whole number of calls; the ½ absorbs float error and the
 *   rounding of the window into cockatiel's buckets (at least 5, at most 1 s each).
 * Note: cockatiel advances one bucket per call, so after a long idle spell some old buckets
 * can still count; health() keeps its own exact ring of timestamps.
 */
export function samplingBreakerOptions(breaker: ResiliencePolicy["breaker"]) {
  return {
    threshold: Math.min(Math.max(breaker.threshold - 1e-9, 1e-9), 1 - 1e-9),
    duration: breaker.windowMs,
    minimumRps: ((Math.max(1, breaker.minCalls) - 0.5) * 1000) / breaker.windowMs,
  };
}

/** A failure the breaker counts: anything but the visitor going away. */
class CountedFailure extends Error {
  override name = "CountedFailure";
  constructor(
    readonly reason: DegradeReason,
    readonly error: unknown,
  ) {
    super(reason);
  }
}

class FirstTokenTimeoutError extends Error {
  override name = "FirstTokenTimeoutError";
}

interface Opened {
  iterator: AsyncIterator<AnswerChunk>;
  /** Chunks up to and including the first token. */
  buffered: AnswerChunk[];
  /** The stream ended before any token (an empty answer). */
  done: boolean;
}

type Outcome = { ok: true } | { ok: false; error: unknown };

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Rejects as soon as `signal` aborts, whatever `promise` is still doing. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

export function createResilientAnswerer(options: ResilientAnswererOptions): ResilientAnswerer {
  const { primary, fallback, policy, logger } = options;
  const now = options.now ?? Date.now;
  const maxRetryAfterMs = policy.maxRetryAfterMs ?? DEFAULT_MAX_RETRY_AFTER_MS;
  const where = { provider: primary.name, model: primary.model };

  const slots = bulkhead(policy.maxConcurrent, policy.queueSize);
  const breaker = circuitBreaker(
    handleWhen((error) => error instanceof CountedFailure),
    {
      halfOpenAfter: policy.breaker.halfOpenAfterMs,
      breaker: new SamplingBreaker(samplingBreakerOptions(policy.breaker)),
    },
  );
  let openedAt = 0;
  recordBreakerState(primary.name, "closed", true);
  breaker.onBreak(() => {
    openedAt = Date.now();
    recordBreakerState(primary.name, "open");
    logger.warn(
      { ...where, failureRate: failureRate(), halfOpenAfterMs: policy.breaker.halfOpenAfterMs },
      "LLM circuit breaker opened: answering from the fallback",
    );
  });
  breaker.onHalfOpen(() => {
    recordBreakerState(primary.name, "half_open");
    logger.info(where, "LLM circuit breaker half-open: probing");
  });
  breaker.onReset(() => {
    recordBreakerState(primary.name, "closed");
    logger.info(where, "LLM circuit breaker closed");
  });
  const firstTokenTimeout = timeout(policy.firstTokenTimeoutMs, {
    strategy: TimeoutStrategy.Aggressive,
    abortOnReturn: false,
  });

  // The health window: one sample per counted call, oldest first.
  const samples: { at: number; ok: boolean }[] = [];
  const record = (ok: boolean) => {
    samples.push({ at: now(), ok });
    if (samples.length > MAX_SAMPLES) samples.shift();
  };
  const prune = () => {
    const since = now() - policy.breaker.windowMs;
    while (samples.length > 0 && (samples[0] as { at: number }).at <= since) samples.shift();
  };
  function failureRate(): number {
    prune();
    if (samples.length === 0) return 0;
    return samples.filter((s) => !s.ok).length / samples.length;
  }

  const abortedError = (cause?: unknown) =>
    new AnswerProviderError(`${primary.name}: the ask was aborted`, primary.name, "aborted", null, {
      cause,
    });

  /** Waits for a bulkhead slot; resolves with its release function. */
  function acquireSlot(signal: AbortSignal | undefined): Promise<() => void> {
    let abandoned = false;
    const slot = new Promise<() => void>((resolve, reject) => {
      slots
        .execute(
          () =>
            new Promise<void>((release) => {
              // An ask aborted while queued passes its turn straight on. (The visitor's signal
              // is not given to cockatiel: a cancelled queue entry would stall the queue.)
              if (abandoned) release();
              else resolve(release);
            }),
        )
        .catch(reject);
    });
    if (!signal) return slot;
    return untilAborted(slot, signal).catch((error: unknown) => {
      abandoned = true;
      // The slot may have been granted just before the abort: hand it straight back.
      slot.then(
        (release) => release(),
        () => undefined,
      );
      throw error;
    });
  }

  async function* degrade(
    reason: DegradeReason,
    request: AnswerRequest,
  ): AsyncGenerator<AnswerChunk> {
    yield { type: "degraded", reason, provider: fallback.name, model: fallback.model };
    yield* fallback.stream(request);
  }

  /** One attempt: starts the upstream stream and reads it up to its first token. */
  async function openAttempt(request: AnswerRequest, signal: AbortSignal): Promise<Opened> {
    const attempt = new AbortController();
    const chunks = primary.stream({
      ...request,
      signal: AbortSignal.any([signal, attempt.signal]),
    });
    const iterator = chunks[Symbol.asyncIterator]();
    try {
      return await firstTokenTimeout.execute(async ({ signal: timedOut }) => {
        const stop = () => attempt.abort(timedOut.reason);
        timedOut.addEventListener("abort", stop, { once: true });
        try {
          const buffered: AnswerChunk[] = [];
          for (;;) {
            const next = await iterator.next();
            if (next.done) return { iterator, buffered, done: true };
            buffered.push(next.value);
            if (next.value.type === "token" && next.value.text.length > 0) {
              return { iterator, buffered, done: false };
            }
          }
        } finally {
          timedOut.removeEventListener("abort", stop);
        }
      });
    } catch (error) {
      attempt.abort();
      if (error instanceof TaskCancelledError) {
        throw new FirstTokenTimeoutError(
          `${primary.name}: no first token within ${policy.firstTokenTimeoutMs} ms`,
          { cause: error },
        );
      }
      throw error;
    }
  }

  async function* stream(request: AnswerRequest): AsyncGenerator<AnswerChunk> {
    const visitor = request.signal;
    if (visitor?.aborted) throw abortedError(visitor.reason);
    // A probe is running: do not queue behind it (cockatiel would make us wait for it).
    if (breaker.state === CircuitState.HalfOpen) {
      logger.debug({ ...where, reason: "breaker_open" }, "LLM answer degraded");
      yield* degrade("breaker_open", request);
      return;
    }

    let release: () => void;
    try {
      release = await acquireSlot(visitor);
    } catch (error) {
      if (error instanceof BulkheadRejectedError) {
        logger.info(
          { ...where, reason: "queue_full", maxConcurrent: policy.maxConcurrent },
          "LLM answer degraded",
        );
        yield* degrade("queue_full", request);
        return;
      }
      throw abortedError(error);
    }

    const startedAt = Date.now();
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), policy.totalTimeoutMs);
    const upstream = new AbortController();
    const signal = AbortSignal.any(
      visitor ? [visitor, deadline.signal, upstream.signal] : [deadline.signal, upstream.signal],
    );
    let released = false;
    const cleanUp = () => {
      if (released) return;
      released = true;
      clearTimeout(timer);
      upstream.abort();
      release();
    };

    const shouldRetry = (error: Error): boolean => {
      if (signal.aborted) return false;
      if (error instanceof FirstTokenTimeoutError) return true;
      if (!(error instanceof AnswerProviderError) || !error.retryable) return false;
      const left = startedAt + policy.totalTimeoutMs - Date.now();
      return error.retryAfterMs === null || error.retryAfterMs <= Math.min(maxRetryAfterMs, left);
    };
    const backoff = (context: IRetryBackoffContext<unknown>): IBackoff<typeof context> => {
      const exponential = Math.min(policy.retryBaseMs * 2 ** (context.attempt - 1), MAX_BACKOFF_MS);
      const jittered = exponential / 2 + (Math.random() * exponential) / 2;
      const error = "error" in context.result ? context.result.error : null;
      const asked = error instanceof AnswerProviderError ? (error.retryAfterMs ?? 0) : 0;
      return { duration: Math.round(Math.max(jittered, asked)), next: backoff };
    };
    const retries = retry(handleWhen(shouldRetry), {
      maxAttempts: policy.maxRetries,
      backoff: { next: backoff },
    });
    retries.onRetry(({ attempt, delay, ...result }) => {
      const error = "error" in result ? result.error : null;
      logger.debug(
        { ...where, attempt, delayMs: delay, error: error instanceof Error ? error.message : null },
        "retrying the LLM",
      );
    });

    /** What a failure before the first token means: a counted failure, or an abort. */
    const classify = (error: unknown): Error => {
      if (visitor?.aborted) return abortedError(error);
      if (deadline.signal.aborted) return new CountedFailure("first_token_timeout", error);
      if (error instanceof FirstTokenTimeoutError) {
        return new CountedFailure("first_token_timeout", error);
      }
      if (error instanceof AnswerProviderError && error.retryable) {
        return new CountedFailure("retries_exhausted", error);
      }
      return new CountedFailure("upstream_error", error);
    };

    const opened = deferred<Opened>();
    const outcome = deferred<Outcome>();
    let settled = false;
    const settle = (result: Outcome) => {
      if (settled) return;
      settled = true;
      outcome.resolve(result);
    };
    // The breaker's call spans the whole stream: it succeeds when the stream completes.
    const run = breaker.execute(async () => {
      let first: Opened;
      try {
        first = await untilAborted(
          retries.execute(() => openAttempt(request, signal), signal),
          signal,
        );
      } catch (error) {
        const failure = classify(error);
        // Recorded before the breaker sees it, so its "opened" log shows the current rate.
        if (failure instanceof CountedFailure) record(false);
        throw failure;
      }
      opened.resolve(first);
      const end = await outcome.promise;
      if (!end.ok) throw end.error;
    });
    run.catch((error: unknown) => opened.reject(error));

    let reading: AsyncIterator<AnswerChunk> | null = null;
    try {
      let first: Opened;
      try {
        first = await opened.promise;
      } catch (error) {
        if (isBrokenCircuitError(error)) {
          cleanUp();
          logger.debug({ ...where, reason: "breaker_open" }, "LLM answer degraded");
          yield* degrade("breaker_open", request);
          return;
        }
        if (error instanceof CountedFailure) {
          cleanUp();
          logFailure(error);
          yield* degrade(error.reason, request);
          return;
        }
        throw error;
      }

      reading = first.iterator;
      try {
        for (const chunk of first.buffered) yield chunk;
        if (!first.done) {
          for (;;) {
            const next = await first.iterator.next();
            if (next.done) break;
            yield next.value;
          }
        }
      } catch (error) {
        if (visitor?.aborted) {
          settle({ ok: false, error: abortedError(error) });
          throw error;
        }
        const failure = deadline.signal.aborted
          ? new AnswerProviderError(
              `${primary.name}: no complete answer within ${policy.totalTimeoutMs} ms`,
              primary.name,
              "timeout",
              null,
              { cause: error },
            )
          : error;
        record(false);
        settle({ ok: false, error: new CountedFailure("upstream_error", failure) });
        logger.warn(
          { ...where, error: failure instanceof Error ? failure.message : String(failure) },
          "LLM stream failed after its first token",
        );
        throw failure;
      }
      reading = null;
      record(true);
      settle({ ok: true });
    } finally {
      // Reached too when the caller stops reading early: that is not the provider's fault.
      settle({ ok: false, error: abortedError() });
      cleanUp();
      if (reading) {
        // Let the provider's generator close its upstream stream too.
        Promise.resolve(reading.return?.()).catch(() => undefined);
      }
      await run.catch(() => undefined);
    }
  }

  function logFailure(failure: CountedFailure): void {
    const error = failure.error;
    const detail =
      error instanceof AnswerProviderError
        ? { kind: error.kind, status: error.status, retryAfterMs: error.retryAfterMs }
        : {};
    logger.warn(
      {
        ...where,
        reason: failure.reason,
        ...detail,
        error: error instanceof Error ? error.message : String(error),
      },
      "LLM answer degraded",
    );
  }

  function breakerState(): ProviderHealth["breaker"] {
    switch (breaker.state) {
      case CircuitState.Closed:
        return "closed";
      case CircuitState.HalfOpen:
        return "half-open";
      default:
        return Date.now() - openedAt >= policy.breaker.halfOpenAfterMs ? "half-open" : "open";
    }
  }

  return {
    name: primary.name,
    model: primary.model,
    stream,
    health() {
      const recentFailureRate = failureRate();
      return {
        ...where,
        breaker: breakerState(),
        recentFailureRate,
        recentCalls: samples.length,
        inFlight: policy.maxConcurrent - slots.executionSlots,
        queued: policy.queueSize - slots.queueSlots,
      };
    },
  };
}
