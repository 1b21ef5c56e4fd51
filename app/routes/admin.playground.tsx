// /admin/tenants/:tenantId/playground — ask the tenant's knowledge base as a visitor would,
// through the same streaming POST /api/ask the widget uses: the answer appears token by token,
// then its numbered sources and how it was made (provider, latency, tokens). Follow-up
// questions continue the conversation until "New conversation". Like the widget, it asks
// with the tenant's publishable key and a visitor session token (one per conversation).
// Batch mode (app/admin/batch-playground.tsx) sends several questions as one batch ask.
import { useEffect, useRef, useState } from "react";
import { Link } from "react-router";
import { readAskEvents, type Citation, type DoneEvent } from "#app/shared/ask-events.ts";
import { requireTenantAccess } from "#app/server/access/auth.server.ts";
import { getWidgetKey } from "#app/server/access/keys.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";
import { TenantNav } from "#app/admin/tenant-nav.tsx";
import { BatchPlayground } from "#app/admin/batch-playground.tsx";
import type { Route } from "./+types/admin.playground";

export const meta: Route.MetaFunction = ({ data }) => [
  { title: `Playground: ${data?.tenant.name ?? "tenant"} — BiTB admin` },
];

export async function loader({ request, params }: Route.LoaderArgs) {
  const runtime = await getRuntime();
  const { tenant } = await requireTenantAccess(runtime, request, params.tenantId);
  const { config, control } = await getRuntime();
  return {
    tenant: { id: tenant.id, name: tenant.name },
    widgetKey: getWidgetKey(control, tenant.id),
    maxQueryChars: config.MAX_QUERY_CHARS,
    batch: {
      enabled: config.BATCH_ENABLED,
      maxQuestions: config.BATCH_MAX_QUESTIONS,
      maxQueryChars: config.MAX_QUERY_CHARS,
    },
  };
}

interface Turn {
  question: string;
  answer: string;
  sourcesFound: number | null;
  done: DoneEvent | null;
  error: string | null;
}

type AskStatus = "idle" | "asking";

async function errorMessageOf(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as { error?: { message?: string } };
    if (body.error?.message) return body.error.message;
  } catch {
    // Not the API's JSON error shape; fall through to the status.
  }
  return `The server answered ${response.status}. Try again in a moment.`;
}

type Mode = "single" | "batch";

export default function Playground({ loaderData }: Route.ComponentProps) {
  const { tenant, widgetKey, maxQueryChars, batch } = loaderData;
  const [mode, setMode] = useState<Mode>("single");
  return (
    <main className="page">
      <p className="breadcrumbs">
        <Link to="/admin">Tenants</Link> /{" "}
        <Link to={`/admin/tenants/${tenant.id}`}>{tenant.name}</Link> / Playground
      </p>
      <h1>Playground</h1>
      <TenantNav tenantId={tenant.id} />
      <p className="muted">
        Ask {tenant.name}&rsquo;s knowledge base what a visitor might ask. Answers come from the
        same service the widget uses.
      </p>
      <fieldset className="mode-toggle">
        <legend className="visually-hidden">How many questions</legend>
        {(["single", "batch"] as const).map((value) => (
          <label key={value}>
            <input
              type="radio"
              name="playground-mode"
              value={value}
              checked={mode === value}
              onChange={() => setMode(value)}
            />
            {value === "single" ? "Single" : "Batch"}
          </label>
        ))}
      </fieldset>
      {/* Both stay mounted, so switching keeps what was typed and what was answered. */}
      <div hidden={mode !== "single"}>
        <SingleAsk tenant={tenant} widgetKey={widgetKey} maxQueryChars={maxQueryChars} />
      </div>
      <div hidden={mode !== "batch"}>
        <BatchPlayground tenantId={tenant.id} widgetKey={widgetKey} limits={batch} />
      </div>
    </main>
  );
}

function SingleAsk(props: {
  tenant: { id: string; name: string };
  widgetKey: string;
  maxQueryChars: number;
}) {
  const { tenant, widgetKey, maxQueryChars } = props;
  const [question, setQuestion] = useState("");
  const [turns, setTurns] = useState<Turn[]>([]);
  const [sessionToken, setSessionToken] = useState<string | null>(null);
  const [status, setStatus] = useState<AskStatus>("idle");
  const abortRef = useRef<AbortController | null>(null);
  const answerBox = useRef<HTMLDivElement>(null);

  const current = turns.at(-1) ?? null;
  const earlier = turns.slice(0, -1);

  // Keep the newest text in view while it streams into the fixed-height box.
  const currentAnswer = current?.answer;
  useEffect(() => {
    const box = answerBox.current;
    if (box) box.scrollTop = box.scrollHeight;
  }, [currentAnswer]);

  useEffect(() => () => abortRef.current?.abort(), []);

  function updateCurrent(change: (turn: Turn) => Turn) {
    setTurns((all) => {
      const last = all.at(-1);
      return last ? [...all.slice(0, -1), change(last)] : all;
    });
  }

  async function ask(query: string) {
    const controller = new AbortController();
    abortRef.current = controller;
    setStatus("asking");
    setTurns((all) => [
      ...all,
      { question: query, answer: "", sourcesFound: null, done: null, error: null },
    ]);
    try {
      let token = sessionToken;
      if (token === null) {
        const started = await fetch(`/api/widget/${tenant.id}/session`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ key: widgetKey }),
          signal: controller.signal,
        });
        if (!started.ok) {
          const message = await errorMessageOf(started);
          updateCurrent((turn) => ({ ...turn, error: message }));
          return;
        }
        token = ((await started.json()) as { token: string }).token;
        setSessionToken(token);
      }
      const response = await fetch("/api/ask", {
        method: "POST",
        headers: { "content-type": "application/json", accept: "text/event-stream" },
        body: JSON.stringify({ tenant_id: tenant.id, query, key: widgetKey, session_token: token }),
        signal: controller.signal,
      });
      if (!response.ok || !response.body) {
        // An expired session: the next question starts a new conversation.
        if (response.status === 401) setSessionToken(null);
        const message = await errorMessageOf(response);
        updateCurrent((turn) => ({ ...turn, error: message }));
        return;
      }
      for await (const item of readAskEvents(response.body)) {
        switch (item.event) {
          case "sources":
            updateCurrent((turn) => ({ ...turn, sourcesFound: item.data.sources.length }));
            break;
          case "token":
            updateCurrent((turn) => ({ ...turn, answer: turn.answer + item.data.text }));
            break;
          case "done":
            updateCurrent((turn) => ({ ...turn, answer: item.data.answer, done: item.data }));
            break;
          case "error":
            updateCurrent((turn) => ({ ...turn, error: item.data.message }));
            break;
        }
      }
    } catch (error) {
      if (controller.signal.aborted) return;
      updateCurrent((turn) => ({
        ...turn,
        error: `The connection broke (${error instanceof Error ? error.message : "unknown error"}). Ask again.`,
      }));
    } finally {
      if (abortRef.current === controller) {
        abortRef.current = null;
        setStatus("idle");
      }
    }
  }

  function submit() {
    const query = question.trim();
    if (query === "" || status === "asking") return;
    setQuestion("");
    void ask(query);
  }

  function newConversation() {
    abortRef.current?.abort();
    abortRef.current = null;
    setStatus("idle");
    setTurns([]);
    setSessionToken(null);
    setQuestion("");
  }

  return (
    <>
      {earlier.length > 0 ? (
        <section aria-labelledby="earlier" className="card">
          <h2 id="earlier" className="small-heading">
            Earlier in this conversation
          </h2>
          <ol className="transcript">
            {earlier.map((turn, index) => (
              <li key={index}>
                <p className="transcript-question">{turn.question}</p>
                <p className="transcript-answer">{turn.error ?? turn.answer}</p>
              </li>
            ))}
          </ol>
        </section>
      ) : null}

      <section className="card" aria-labelledby="answer-heading">
        <h2 id="answer-heading" className="small-heading">
          {current ? current.question : "Answer"}
        </h2>
        <div
          ref={answerBox}
          className="answer answer-box"
          aria-busy={status === "asking"}
          tabIndex={0}
          aria-label="Answer"
        >
          {current === null ? (
            <span className="muted">The answer will appear here.</span>
          ) : current.answer === "" && !current.error ? (
            <span className="muted">
              {current.sourcesFound === null
                ? "Searching the knowledge base…"
                : `Found ${current.sourcesFound} passage${current.sourcesFound === 1 ? "" : "s"}; writing…`}
            </span>
          ) : (
            current.answer
          )}
        </div>
        <div role="status" className="visually-hidden">
          {current?.done ? "Answer complete." : ""}
        </div>
        {current?.error ? (
          <p className="error" role="alert">
            {current.error}
          </p>
        ) : null}
        {current?.done ? <AnswerDetails done={current.done} /> : null}
      </section>

      <form
        className="card"
        onSubmit={(event) => {
          event.preventDefault();
          submit();
        }}
      >
        <label htmlFor="question">
          {turns.length > 0 ? "Follow-up question" : "Your question"}
        </label>
        <textarea
          id="question"
          name="question"
          rows={3}
          required
          maxLength={maxQueryChars}
          value={question}
          onChange={(event) => setQuestion(event.target.value)}
          onKeyDown={(event) => {
            if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) {
              event.preventDefault();
              submit();
            }
          }}
          aria-describedby="question-hint"
        />
        <p id="question-hint" className="hint muted">
          Enter sends; Shift+Enter starts a new line.
        </p>
        <div className="row">
          <button type="submit" disabled={status === "asking" || question.trim() === ""}>
            {status === "asking" ? "Answering…" : "Ask"}
          </button>
          <button
            type="button"
            className="secondary"
            onClick={newConversation}
            disabled={turns.length === 0}
          >
            New conversation
          </button>
        </div>
      </form>
    </>
  );
}

function AnswerDetails({ done }: { done: DoneEvent }) {
  const { usage, latency } = done;
  const timing = [
    `retrieval ${latency.retrievalMs} ms`,
    latency.firstTokenMs === null ? null : `first token ${latency.firstTokenMs} ms`,
    `total ${latency.totalMs} ms`,
  ]
    .filter(Boolean)
    .join(", ");
  return (
    <>
      {done.abstained ? (
        <p className="notice-text">The knowledge base does not cover this question.</p>
      ) : null}
      {done.citations.length > 0 ? (
        <>
          <h3 className="small-heading">Sources</h3>
          <ol className="citations">
            {done.citations.map((citation) => (
              <CitationItem key={citation.n} citation={citation} />
            ))}
          </ol>
        </>
      ) : null}
      <p className="muted small answer-meta">
        {done.provider} · {done.model} · {timing} · {usage.promptTokens} prompt +{" "}
        {usage.completionTokens} completion tokens{usage.estimated ? " (estimated)" : ""}
      </p>
    </>
  );
}

function CitationItem({ citation }: { citation: Citation }) {
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
