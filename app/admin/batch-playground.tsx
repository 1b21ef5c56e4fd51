// The playground's batch mode: several questions sent as one batch ask (`queries`, README
// "Batch questions", docs/decisions/008) through the same POST /api/ask the widget uses. Each
// question shows its progress from the batch's `progress` events and opens, in an accordion,
// its answer with tokens, latency and sources as soon as its `result` arrives.
import { useEffect, useId, useRef, useState } from "react";
import {
  readAskEvents,
  type BatchDoneEvent,
  type BatchQuestionState,
  type BatchResult,
  type Citation,
} from "#app/shared/ask-events.ts";

export interface BatchLimits {
  /** BATCH_MAX_QUESTIONS: questions in one batch. */
  maxQuestions: number;
  /** MAX_QUERY_CHARS: characters in one question. */
  maxQueryChars: number;
  /** BATCH_ENABLED. */
  enabled: boolean;
}

interface Field {
  key: number;
  text: string;
}

type QuestionState = BatchQuestionState | "queued";

interface Run {
  questions: string[];
  states: QuestionState[];
  results: Array<BatchResult | null>;
  done: BatchDoneEvent | null;
  error: string | null;
}

/** Why each field cannot be sent (null: fine), and a message for the whole list. */
export function validateBatch(
  texts: readonly string[],
  limits: Pick<BatchLimits, "maxQuestions" | "maxQueryChars">,
): { fields: Array<string | null>; list: string | null } {
  const fields = texts.map((text) => {
    const trimmed = text.trim();
    if (trimmed === "") return "Write a question or remove this field.";
    if (trimmed.length > limits.maxQueryChars) {
      return `Shorten this question to ${limits.maxQueryChars} characters (it has ${trimmed.length}).`;
    }
    return null;
  });
  let list: string | null = null;
  if (texts.length === 0) list = "Add at least one question.";
  else if (texts.length > limits.maxQuestions) {
    list = `A batch holds at most ${limits.maxQuestions} questions: remove ${texts.length - limits.maxQuestions}.`;
  }
  return { fields, list };
}

async function errorMessageOf(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as { error?: { message?: string } };
    if (body.error?.message) return body.error.message;
  } catch {
    // Not the API's JSON error shape; fall through to the status.
  }
  return `The server answered ${response.status}. Try again in a moment.`;
}

const stateLabel: Record<QuestionState, string> = {
  queued: "waiting",
  retrieving: "searching",
  answering: "answering",
  done: "done",
  failed: "failed",
};

export function BatchPlayground(props: {
  tenantId: string;
  widgetKey: string;
  limits: BatchLimits;
}) {
  const { tenantId, widgetKey, limits } = props;
  const idBase = useId();
  const nextKey = useRef(3);
  const [fields, setFields] = useState<Field[]>([
    { key: 1, text: "" },
    { key: 2, text: "" },
  ]);
  const [showErrors, setShowErrors] = useState(false);
  const [run, setRun] = useState<Run | null>(null);
  const [asking, setAsking] = useState(false);
  const abortRef = useRef<AbortController | null>(null);
  const focusKey = useRef<number | null>(null);

  useEffect(() => () => abortRef.current?.abort(), []);
  // A new field takes the focus, so keyboard users can type straight away.
  useEffect(() => {
    if (focusKey.current === null) return;
    document.getElementById(`${idBase}-q-${focusKey.current}`)?.focus();
    focusKey.current = null;
  }, [fields, idBase]);

  const validation = validateBatch(
    fields.map((f) => f.text),
    limits,
  );
  const invalid = validation.list !== null || validation.fields.some((e) => e !== null);

  function add() {
    if (fields.length >= limits.maxQuestions) return;
    const key = nextKey.current++;
    focusKey.current = key;
    setFields((all) => [...all, { key, text: "" }]);
  }

  function remove(key: number) {
    setFields((all) => {
      const index = all.findIndex((f) => f.key === key);
      const rest = all.filter((f) => f.key !== key);
      const neighbour = rest[Math.min(index, rest.length - 1)];
      focusKey.current = neighbour?.key ?? null;
      return rest;
    });
  }

  function update(change: (run: Run) => Run) {
    setRun((current) => (current ? change(current) : current));
  }

  async function send(questions: string[]) {
    const controller = new AbortController();
    abortRef.current = controller;
    setAsking(true);
    setRun({
      questions,
      states: questions.map(() => "queued"),
      results: questions.map(() => null),
      done: null,
      error: null,
    });
    try {
      // A batch is its own conversation: a fresh visitor session each time.
      const started = await fetch(`/api/widget/${tenantId}/session`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ key: widgetKey }),
        signal: controller.signal,
      });
      if (!started.ok) {
        const message = await errorMessageOf(started);
        update((r) => ({ ...r, error: message }));
        return;
      }
      const { token } = (await started.json()) as { token: string };
      const response = await fetch("/api/ask", {
        method: "POST",
        headers: { "content-type": "application/json", accept: "text/event-stream" },
        body: JSON.stringify({
          tenant_id: tenantId,
          queries: questions,
          key: widgetKey,
          session_token: token,
        }),
        signal: controller.signal,
      });
      if (!response.ok || !response.body) {
        const message = await errorMessageOf(response);
        update((r) => ({ ...r, error: message }));
        return;
      }
      for await (const item of readAskEvents(response.body)) {
        switch (item.event) {
          case "progress":
            update((r) => ({
              ...r,
              states: r.states.map((s, i) => (i === item.data.index ? item.data.state : s)),
            }));
            break;
          case "result":
            update((r) => ({
              ...r,
              states: r.states.map((s, i) =>
                i === item.data.index ? (item.data.error ? "failed" : "done") : s,
              ),
              results: r.results.map((res, i) => (i === item.data.index ? item.data : res)),
            }));
            break;
          case "batch_done":
            update((r) => ({
              ...r,
              done: item.data,
              results: r.results.map((res, i) => item.data.results[i] ?? res),
            }));
            break;
          case "error":
            update((r) => ({ ...r, error: item.data.message }));
            break;
          default:
            break;
        }
      }
    } catch (error) {
      if (controller.signal.aborted) return;
      update((r) => ({
        ...r,
        error: `The connection broke (${error instanceof Error ? error.message : "unknown error"}). Send the batch again.`,
      }));
    } finally {
      if (abortRef.current === controller) {
        abortRef.current = null;
        setAsking(false);
      }
    }
  }

  function submit() {
    if (asking) return;
    if (invalid) {
      setShowErrors(true);
      const first = fields[validation.fields.findIndex((e) => e !== null)];
      if (first) document.getElementById(`${idBase}-q-${first.key}`)?.focus();
      return;
    }
    setShowErrors(false);
    void send(fields.map((f) => f.text.trim()));
  }

  const finished = run ? run.states.filter((s) => s === "done" || s === "failed").length : 0;

  return (
    <>
      {!limits.enabled ? (
        <p className="card error" role="alert">
          Batch questions are switched off on this server (BATCH_ENABLED=false). Ask one question at
          a time.
        </p>
      ) : null}
      <form
        className="card"
        noValidate
        aria-labelledby={`${idBase}-heading`}
        onSubmit={(event) => {
          event.preventDefault();
          submit();
        }}
      >
        <h2 id={`${idBase}-heading`} className="small-heading">
          Questions ({fields.length} of at most {limits.maxQuestions})
        </h2>
        <ol className="batch-questions">
          {fields.map((field, index) => {
            const error = showErrors ? validation.fields[index] : null;
            const id = `${idBase}-q-${field.key}`;
            return (
              <li key={field.key}>
                <div className="field">
                  <label htmlFor={id}>Question {index + 1}</label>
                  <input
                    id={id}
                    type="text"
                    value={field.text}
                    maxLength={limits.maxQueryChars}
                    aria-invalid={error ? true : undefined}
                    aria-describedby={error ? `${id}-error` : undefined}
                    onChange={(event) => {
                      const text = event.target.value;
                      setFields((all) =>
                        all.map((f) => (f.key === field.key ? { ...f, text } : f)),
                      );
                    }}
                  />
                  {error ? (
                    <p id={`${id}-error`} className="error hint">
                      {error}
                    </p>
                  ) : null}
                </div>
                <button
                  type="button"
                  className="secondary remove-question"
                  onClick={() => remove(field.key)}
                  disabled={fields.length <= 1 || asking}
                  aria-label={`Remove question ${index + 1}`}
                >
                  Remove
                </button>
              </li>
            );
          })}
        </ol>
        {showErrors && (validation.list || invalid) ? (
          <p className="error" role="alert">
            {validation.list ?? "Some questions need attention before the batch can be sent."}
          </p>
        ) : null}
        <div className="row">
          <button
            type="button"
            className="secondary"
            onClick={add}
            disabled={fields.length >= limits.maxQuestions || asking}
          >
            Add a question
          </button>
          <button type="submit" disabled={asking || !limits.enabled}>
            {asking
              ? "Answering…"
              : `Ask ${fields.length} question${fields.length === 1 ? "" : "s"}`}
          </button>
          {asking ? (
            <button type="button" className="secondary" onClick={() => abortRef.current?.abort()}>
              Stop
            </button>
          ) : null}
        </div>
        <p className="hint muted">
          Up to {limits.maxQuestions} questions of {limits.maxQueryChars} characters each. Identical
          questions are answered once; batch questions do not use earlier turns.
        </p>
      </form>

      {run ? (
        <section className="card" aria-labelledby={`${idBase}-results`}>
          <h2 id={`${idBase}-results`} className="small-heading">
            Results
          </h2>
          <div
            className="progress"
            role="progressbar"
            aria-label="Questions answered"
            aria-valuemin={0}
            aria-valuemax={run.questions.length}
            aria-valuenow={finished}
            aria-valuetext={`${finished} of ${run.questions.length} answered`}
          >
            <span style={{ width: `${(finished / run.questions.length) * 100}%` }} />
          </div>
          <p role="status" className="muted small">
            {run.done
              ? `All ${run.questions.length} answered in ${run.done.latencyMs} ms (${run.done.mode}); ${run.done.usage.promptTokens + run.done.usage.completionTokens} tokens${run.done.usage.estimated ? " (estimated)" : ""}.`
              : `${finished} of ${run.questions.length} answered…`}
          </p>
          {run.error ? (
            <p className="error" role="alert">
              {run.error}
            </p>
          ) : null}
          <ol className="accordion">
            {run.questions.map((question, index) => (
              <ResultItem
                key={index}
                index={index}
                question={question}
                state={run.states[index] ?? "queued"}
                result={run.results[index] ?? null}
              />
            ))}
          </ol>
        </section>
      ) : null}
    </>
  );
}

function ResultItem(props: {
  index: number;
  question: string;
  state: QuestionState;
  result: BatchResult | null;
}) {
  const { result, state } = props;
  return (
    <li>
      <details>
        <summary>
          <span>
            {props.index + 1}. {props.question}
          </span>
          <span className={`badge badge-${state}`}>{stateLabel[state]}</span>
          {result && !result.error ? (
            <span className="muted small">{result.latencyMs} ms</span>
          ) : null}
        </summary>
        {result === null ? (
          <p className="muted">Not answered yet.</p>
        ) : result.error ? (
          <p className="error">{result.error.message}</p>
        ) : (
          <>
            <p className="answer">{result.answer}</p>
            {result.abstained ? (
              <p className="notice-text">The knowledge base does not cover this question.</p>
            ) : null}
            {result.citations.length > 0 ? (
              <>
                <h3 className="small-heading">Sources</h3>
                <ol className="citations">
                  {result.citations.map((citation) => (
                    <SourceItem key={citation.n} citation={citation} />
                  ))}
                </ol>
              </>
            ) : null}
            <p className="muted small answer-meta">
              {result.provider} · {result.model} · {result.latencyMs} ms ·{" "}
              {result.usage.promptTokens} prompt + {result.usage.completionTokens} completion tokens
              {result.usage.apportioned ? " (a share of a call)" : ""}
              {result.usage.estimated ? " (estimated)" : ""}
            </p>
          </>
        )}
      </details>
    </li>
  );
}

function SourceItem({ citation }: { citation: Citation }) {
  return (
    <li value={citation.n}>
      <strong>
        {citation.url ? (
          <a href={citation.url} target="_blank" rel="noreferrer noopener">
            {citation.title}
          </a>
        ) : (
          citation.title
        )}
      </strong>
      {citation.headingPath ? <span className="muted"> — {citation.headingPath}</span> : null}
      <p className="snippet">{citation.snippet}</p>
    </li>
  );
}
