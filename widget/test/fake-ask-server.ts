// A local stand-in for BiTB's public widget API, for the widget's tests: `POST /api/ask`,
// `GET /api/widget/:tenantId/config`, `POST /api/widget/:tenantId/session` (tokens
// `tok_1`, `tok_2`, …) and `POST /api/feedback`, as real HTTP on a random port
// with CORS like the real public API (so a page on another origin can call it), and helpers
// to write the SSE vocabulary of app/shared/ask-events.ts. Each test decides how to answer.
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { AskEventMap, AskEventName, Citation, DoneEvent } from "#app/shared/ask-events.ts";

export interface AskRequestRecord {
  headers: http.IncomingHttpHeaders;
  body: {
    tenant_id?: string;
    query?: string;
    queries?: string[];
    key?: string;
    session_token?: string;
  };
}

export type AskResponder = (
  request: AskRequestRecord,
  response: http.ServerResponse,
) => void | Promise<void>;

export interface FakeAskServer {
  origin: string;
  /** Every POST /api/ask received, in order. */
  requests: AskRequestRecord[];
  /** How many CORS preflights (OPTIONS /api/ask) were answered. */
  readonly preflights: number;
  /** Replaces how the next asks are answered. */
  respond(responder: AskResponder): void;
  /** Serves extra static files (path → [content type, body]), e.g. a host page. */
  files: Map<string, [string, string | Buffer]>;
  /** Each tenant's widget settings; a tenant not in here gets a 404, like an unknown one. */
  settings: Map<string, Record<string, unknown>>;
  /** How many GET .../config requests arrived, and the last one's `key` parameter. */
  readonly configRequests: number;
  readonly configKey: string | null;
  /** Every POST .../session body received, in order. */
  sessions: Array<Record<string, unknown>>;
  /** The status POST .../session answers with (201 unless a test changes it). */
  sessionStatus: number;
  /** Every POST /api/feedback body received, in order. */
  feedback: Array<Record<string, unknown>>;
  /** The status POST /api/feedback answers with (204 unless a test changes it). */
  feedbackStatus: number;
  close(): Promise<void>;
}

const CORS = {
  "access-control-allow-origin": "*",
  "access-control-allow-methods": "POST, OPTIONS",
  "access-control-allow-headers": "content-type, accept",
  "access-control-max-age": "600",
};

export async function startFakeAskServer(responder: AskResponder): Promise<FakeAskServer> {
  let current = responder;
  const requests: AskRequestRecord[] = [];
  const files = new Map<string, [string, string | Buffer]>();
  let preflights = 0;
  let configRequests = 0;
  const settings = new Map<string, Record<string, unknown>>();
  const feedback: Array<Record<string, unknown>> = [];
  const state = { feedbackStatus: 204, sessionStatus: 201, configKey: null as string | null };
  const sessions: Array<Record<string, unknown>> = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const config = /^\/api\/widget\/([^/]+)\/config$/.exec(url.pathname);
    if (config && req.method === "GET") {
      configRequests++;
      state.configKey = url.searchParams.get("key");
      const found = settings.get(decodeURIComponent(config[1]!));
      res
        .writeHead(found ? 200 : 404, {
          "content-type": "application/json",
          "access-control-allow-origin": "*",
          "cache-control": "no-store",
        })
        .end(JSON.stringify(found ?? { error: { code: "not_found", message: "No such tenant." } }));
      return;
    }
    const session = /^\/api\/widget\/([^/]+)\/session$/.exec(url.pathname);
    if (session && req.method === "OPTIONS") {
      res.writeHead(204, CORS).end();
      return;
    }
    if (session && req.method === "POST") {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        sessions.push(JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}"));
        const ok = state.sessionStatus === 201;
        res.writeHead(state.sessionStatus, { ...CORS, "content-type": "application/json" }).end(
          JSON.stringify(
            ok
              ? {
                  token: `tok_${sessions.length}`,
                  conversationId: `cv_${sessions.length}`,
                  expiresAt: Math.floor(Date.now() / 1000) + 3600,
                }
              : { error: { code: "forbidden", message: "Refused." } },
          ),
        );
      });
      return;
    }
    if (url.pathname === "/api/feedback" && req.method === "OPTIONS") {
      res.writeHead(204, CORS).end();
      return;
    }
    if (url.pathname === "/api/feedback" && req.method === "POST") {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        feedback.push(JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}"));
        res.writeHead(state.feedbackStatus, CORS).end();
      });
      return;
    }
    if (url.pathname === "/api/ask" && req.method === "OPTIONS") {
      preflights++;
      res.writeHead(204, CORS).end();
      return;
    }
    if (url.pathname === "/api/ask" && req.method === "POST") {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        const record: AskRequestRecord = {
          headers: req.headers,
          body: JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}"),
        };
        requests.push(record);
        for (const [name, value] of Object.entries(CORS)) res.setHeader(name, value);
        void Promise.resolve(current(record, res)).catch(() => res.destroy());
      });
      return;
    }
    const file = files.get(url.pathname);
    if (file && req.method === "GET") {
      res.writeHead(200, { "content-type": file[0], "cache-control": "no-store" }).end(file[1]);
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" }).end("not found");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    get preflights() {
      return preflights;
    },
    files,
    settings,
    get configRequests() {
      return configRequests;
    },
    get configKey() {
      return state.configKey;
    },
    sessions,
    get sessionStatus() {
      return state.sessionStatus;
    },
    set sessionStatus(status: number) {
      state.sessionStatus = status;
    },
    feedback,
    get feedbackStatus() {
      return state.feedbackStatus;
    },
    set feedbackStatus(status: number) {
      state.feedbackStatus = status;
    },
    respond(next) {
      current = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function startSse(response: http.ServerResponse): void {
  response.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-store",
  });
  response.flushHeaders();
}

export function writeEvent<K extends AskEventName>(
  response: http.ServerResponse,
  event: K,
  data: AskEventMap[K],
): void {
  response.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

export function citation(n: number, overrides: Partial<Citation> = {}): Citation {
  return {
    n,
    documentId: n,
    title: `Document ${n}`,
    url: `https://docs.example.com/${n}`,
    fileName: null,
    headingPath: "",
    snippet: `Snippet ${n}`,
    score: 1 / n,
    ...overrides,
  };
}

export function doneEvent(overrides: Partial<DoneEvent> = {}): DoneEvent {
  return {
    conversationId: "conv_1",
    messageId: 1,
    answer: "",
    citations: [],
    abstained: false,
    degraded: false,
    degradedReason: null,
    cached: false,
    provider: "fake",
    model: "fake-model",
    usage: { promptTokens: 10, completionTokens: 5, estimated: true },
    latency: { retrievalMs: 1, firstTokenMs: 2, totalMs: 3 },
    ...overrides,
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Answers like the real server: sources, the answer in small tokens, then done. */
export function streamAnswer(options: {
  answer: string;
  citations: Citation[];
  conversationId?: string;
  tokenDelayMs?: number;
  abstained?: boolean;
}): AskResponder {
  return async (_request, response) => {
    const conversationId = options.conversationId ?? "conv_1";
    startSse(response);
    writeEvent(response, "sources", { conversationId, sources: options.citations });
    for (const token of options.answer.match(/\S+\s*|\s+/g) ?? []) {
      await sleep(options.tokenDelayMs ?? 0);
      writeEvent(response, "token", { text: token });
    }
    writeEvent(
      response,
      "done",
      doneEvent({
        conversationId,
        answer: options.answer,
        citations: options.citations,
        abstained: options.abstained ?? false,
      }),
    );
    response.end();
  };
}
