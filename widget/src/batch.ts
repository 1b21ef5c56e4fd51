// widget-batch.js: an optional add-on for asking several questions at once through the batch
// API (`POST /api/ask` with `queries`, streaming `batch`, `progress`, `result`, `batch_done`).
// It defines no global: it plugs into `window.BiTB` (now or on `bitb:ready`), making
// `BiTB.askMany(questions)` work and adding a "several questions" toggle to the chat, where
// each line of the input is one question. Answers join the conversation as they would one
// by one.
import type { BatchResult, DoneEvent } from "#app/shared/ask-events.ts";
import type { AddOnContext } from "./api.ts";
import { readSse } from "./sse.ts";

export interface BatchRequest {
  origin: string;
  tenantId: string;
  queries: string[];
  key: string;
  sessionToken: string;
}

export interface BatchProgress {
  onStart?(conversationId: string): void;
  onProgress?(index: number, state: string): void;
}

/** Streams one batch; the results in question order, or an Error with the server's message. */
export async function askBatch(
  request: BatchRequest,
  progress: BatchProgress = {},
  fetchImpl: typeof fetch = fetch,
): Promise<BatchResult[]> {
  const body = {
    tenant_id: request.tenantId,
    queries: request.queries,
    key: request.key,
    session_token: request.sessionToken,
  };
  const response = await fetchImpl(`${request.origin}/api/ask`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "text/event-stream" },
    body: JSON.stringify(body),
    credentials: "omit",
  });
  if (!response.ok || !response.body) {
    const error = (await response.json().catch(() => null)) as {
      error?: { message?: string };
    } | null;
    throw new Error(error?.error?.message || `The request failed (HTTP ${response.status}).`);
  }
  const results: BatchResult[] = [];
  let finished: BatchResult[] | null = null;
  let failure: string | null = null;
  await readSse(response.body, ({ event, data }) => {
    const record = JSON.parse(data) as Record<string, unknown>;
    if (event === "batch") progress.onStart?.(String(record.conversationId ?? ""));
    else if (event === "progress") {
      progress.onProgress?.(Number(record.index), String(record.state));
    } else if (event === "result") results[Number(record.index)] = record as unknown as BatchResult;
    else if (event === "batch_done" && Array.isArray(record.results)) {
      finished = record.results as BatchResult[];
    } else if (event === "error") failure = String(record.message ?? "error");
  });
  if (failure) throw new Error(failure);
  return finished ?? results.filter(Boolean);
}

/** A batch result as the chat's `done` event, so it renders like any other answer. */
export function resultAsDone(result: BatchResult, conversationId: string): DoneEvent {
  return {
    conversationId,
    messageId: null as unknown as number,
    answer: result.error ? result.error.message : result.answer,
    citations: result.citations ?? [],
    abstained: result.error ? true : result.abstained,
    degraded: result.degraded,
    degradedReason: result.degradedReason,
    cached: false,
    provider: result.provider,
    model: result.model,
    usage: result.usage,
    latency: { retrievalMs: 0, firstTokenMs: 0, totalMs: result.latencyMs },
  };
}

/** Splits the composer's text into questions: one per non-empty line. */
export function questionsOf(text: string): string[] {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean);
}

export function installBatch(context: AddOnContext): void {
  const { view } = context;
  const t = view.strings;
  const doc = view.header.ownerDocument;
  let running = false;

  async function askMany(questions: string[]): Promise<BatchResult[]> {
    if (running) throw new Error("[BiTB] a batch is already on its way");
    running = true;
    const status = doc.createElement("p");
    status.className = "msg assistant pending";
    status.textContent = t.thinking;
    view.messages.append(status);
    let conversationId = context.conversationId() ?? "";
    const done = new Set<number>();
    try {
      const sessionToken = await context.sessionToken();
      if (!sessionToken) throw new Error(t.connectionLost);
      const results = await askBatch(
        {
          origin: context.origin,
          tenantId: context.tenantId,
          queries: questions,
          key: context.key,
          sessionToken,
        },
        {
          onStart: (id) => {
            conversationId = id || conversationId;
          },
          onProgress(index, state) {
            if (state === "done" || state === "failed") done.add(index);
            status.textContent = `${t.thinking} ${done.size}/${questions.length}`;
          },
        },
      );
      status.remove();
      for (const result of results) {
        context.addAnswer(result.query, resultAsDone(result, conversationId));
      }
      view.announce(`${results.length}/${questions.length}`);
      return results;
    } catch (error) {
      status.className = "msg assistant error";
      status.setAttribute("role", "alert");
      status.textContent = (error as Error).message;
      throw error;
    } finally {
      running = false;
    }
  }
  context.provideBatch(askMany);

  const toggle = doc.createElement("button");
  toggle.type = "button";
  toggle.className = "icon many";
  toggle.textContent = "≡";
  toggle.title = t.many;
  toggle.setAttribute("aria-label", t.many);
  toggle.setAttribute("aria-pressed", "false");
  const placeholder = view.input.placeholder;
  toggle.addEventListener("click", () => {
    const on = toggle.getAttribute("aria-pressed") !== "true";
    toggle.setAttribute("aria-pressed", String(on));
    view.input.placeholder = on ? t.manyHint : placeholder;
    view.setSubmit(
      on
        ? (text) => {
            const questions = questionsOf(text);
            if (questions.length === 0 || running) return false;
            askMany(questions).catch(() => {});
            return true;
          }
        : null,
    );
    view.input.focus();
  });
  view.header.insertBefore(toggle, view.header.querySelector(".close"));
}

/** Plugs into the widget now, or when it announces itself. */
export function register(win: Window): void {
  if (win.BiTB) win.BiTB.addOn(installBatch);
  else win.addEventListener("bitb:ready", () => win.BiTB?.addOn(installBatch), { once: true });
}

// Built as its own script: it registers itself when it runs on a page.
if (typeof window !== "undefined" && typeof document !== "undefined") register(window);
