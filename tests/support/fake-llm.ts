// A stand-in for hosted LLM and embedding APIs in tests: a real HTTP server on 127.0.0.1 that
// speaks OpenAI chat completions (streamed as SSE) at /v1/chat/completions, the same at Groq's
// /openai/v1/chat/completions (with `x_groq.usage`), and OpenAI /v1/embeddings. Tests drive
// the real `openai` and `groq-sdk` clients against it, change its behaviour between cases and
// read back what it received.
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeLlmBehaviour {
  /** The answer streamed back, split into word-sized chunks. */
  reply: string;
  /** Wait between streamed chunks, in ms. */
  tokenDelayMs: number;
  /** Answer every request (or the next `failCount`) with this HTTP status and a JSON error. */
  failStatus: number | null;
  /** How many requests fail with `failStatus` before it recovers; Infinity = all. */
  failCount: number;
  /** Usage reported in the final chunk; null to send none (servers that ignore include_usage). */
  usage: { prompt_tokens: number; completion_tokens: number } | null;
  /** Streams this many chunks, then hangs until the client goes away. */
  hangAfterChunks: number | null;
  /** Wait before the first streamed chunk (after the 200 headers), in ms. */
  firstTokenDelayMs: number;
  /** The error message of `failStatus` answers; null for `fake failure <status>`. */
  errorMessage: string | null;
  /** `Retry-After` header value sent with `failStatus` answers; null for none. */
  retryAfter: string | null;
  /** Streams this many chunks, then one that is not JSON, then ends the response. */
  malformedAfterChunks: number | null;
  /** Streams this many chunks, then destroys the socket (a connection cut mid-answer). */
  cutAfterChunks: number | null;
  /** Vector for one embeddings input; the default is a deterministic 8-dim hash of the text. */
  embed: (text: string, index: number) => number[];
  /** Wait before answering an embeddings request, in ms. */
  embedDelayMs: number;
  /**
   * Turns of a non-streamed chat with `tools` (the tool loop), answered in order, one per
   * request; when none is left (or the request forbids tools) the answer is `reply` as text.
   */
  toolTurns: FakeToolTurn[];
}

/** One scripted model turn: text, and/or calls of tools with their JSON argument text. */
export interface FakeToolTurn {
  text?: string;
  toolCalls?: Array<{ name: string; arguments: string }>;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  /** The parsed JSON body (null when it was not JSON). */
  body: unknown;
}

export interface FakeLlm {
  /** `http://127.0.0.1:<port>`: append `/v1` for OpenAI clients; Groq's client takes it as is. */
  url: string;
  /** Every request received, oldest first. */
  requests: RecordedRequest[];
  /** Requests whose client disconnected before the response was finished. */
  readonly aborted: number;
  /** Chat/embedding requests currently being answered. */
  readonly open: number;
  setBehaviour(change: Partial<FakeLlmBehaviour>): void;
  close(): Promise<void>;
}

/** A deterministic stand-in vector: character codes folded into 8 buckets. */
export function hashEmbedding(text: string): number[] {
  const vector = new Array<number>(8).fill(0);
  for (let i = 0; i < text.length; i++)
    vector[i % 8] = (vector[i % 8] as number) + text.charCodeAt(i);
  return vector.map((value) => value / 1000 + 0.01);
}

const DEFAULTS: FakeLlmBehaviour = {
  reply: "The answer is in the sources [1].",
  tokenDelayMs: 0,
  failStatus: null,
  errorMessage: null,
  failCount: Infinity,
  usage: { prompt_tokens: 42, completion_tokens: 7 },
  hangAfterChunks: null,
  firstTokenDelayMs: 0,
  retryAfter: null,
  malformedAfterChunks: null,
  cutAfterChunks: null,
  embed: (text) => hashEmbedding(text),
  embedDelayMs: 0,
  toolTurns: [],
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function startFakeLlm(options: Partial<FakeLlmBehaviour> = {}): Promise<FakeLlm> {
  let behaviour: FakeLlmBehaviour = { ...DEFAULTS, ...options };
  behaviour.toolTurns = [...behaviour.toolTurns];
  let failuresLeft = behaviour.failCount;
  let aborted = 0;
  let open = 0;
  const requests: RecordedRequest[] = [];
  const cut = new WeakSet<http.ServerResponse>();

  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    let body: unknown = null;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      body = null;
    }
    const path = new URL(req.url ?? "/", "http://fake").pathname;
    requests.push({ method: req.method ?? "GET", path, headers: req.headers, body });
    open++;
    res.on("close", () => {
      open--;
      // A cut we made ourselves (cutAfterChunks) is not the client going away.
      if (!res.writableFinished && !cut.has(res)) aborted++;
    });

    const isChat = path === "/v1/chat/completions" || path === "/openai/v1/chat/completions";
    if (req.method !== "POST" || (!isChat && path !== "/v1/embeddings")) {
      sendJson(res, 404, { error: { message: `no route ${req.method} ${path}` } });
      return;
    }
    if (behaviour.failStatus !== null && failuresLeft > 0) {
      failuresLeft--;
      sendJson(
        res,
        behaviour.failStatus,
        {
          error: {
            message: behaviour.errorMessage ?? `fake failure ${behaviour.failStatus}`,
            type: "server_error",
          },
        },
        behaviour.retryAfter === null ? {} : { "retry-after": behaviour.retryAfter },
      );
      return;
    }
    const request = (body ?? {}) as {
      model?: string;
      input?: unknown;
      stream?: boolean;
      tools?: unknown[];
      tool_choice?: string;
    };
    if (path === "/v1/embeddings") {
      if (behaviour.embedDelayMs > 0) {
        await new Promise((resolve) => setTimeout(resolve, behaviour.embedDelayMs));
      }
      const inputs = Array.isArray(request.input) ? request.input : [request.input];
      // Reversed on purpose: the protocol orders by `index`, and clients must honour it.
      const data = inputs
        .map((text, index) => ({
          object: "embedding",
          index,
          embedding: behaviour.embed(String(text), index),
        }))
        .reverse();
      sendJson(res, 200, { object: "list", data, model: request.model, usage: {} });
      return;
    }
    if (isChat && !request.stream) {
      const scripted =
        Array.isArray(request.tools) && request.tool_choice !== "none"
          ? behaviour.toolTurns.shift()
          : undefined;
      const toolCalls = (scripted?.toolCalls ?? []).map((call, i) => ({
        id: `call_${requests.length}_${i}`,
        type: "function",
        function: call,
      }));
      sendJson(res, 200, {
        id: "chatcmpl-fake",
        object: "chat.completion",
        created: 0,
        model: request.model ?? "unknown",
        choices: [
          {
            index: 0,
            message: {
              role: "assistant",
              content: scripted ? (scripted.text ?? null) : behaviour.reply,
              ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
            },
            finish_reason: toolCalls.length > 0 ? "tool_calls" : "stop",
          },
        ],
        ...(behaviour.usage ? { usage: behaviour.usage } : {}),
      });
      return;
    }
    await streamChat(res, path.startsWith("/openai/"), request.model ?? "unknown");
  });

  async function streamChat(res: http.ServerResponse, groq: boolean, model: string) {
    const current = behaviour;
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    const base = { id: "chatcmpl-fake", object: "chat.completion.chunk", created: 0, model };
    const send = (chunk: object) => res.write(`data: ${JSON.stringify({ ...base, ...chunk })}\n\n`);
    const pieces = current.reply.match(/\S+\s*/g) ?? [];
    if (current.firstTokenDelayMs > 0) await sleep(current.firstTokenDelayMs);
    for (const [i, piece] of pieces.entries()) {
      if (current.cutAfterChunks !== null && i >= current.cutAfterChunks) {
        cut.add(res);
        // Let the chunks already written reach the client first, as a real cut would.
        await sleep(20);
        res.socket?.destroy();
        return;
      }
      if (current.malformedAfterChunks !== null && i >= current.malformedAfterChunks) {
        res.end('data: {"choices": [{"delta": {"content": "oops"\n\n');
        return;
      }
      if (current.hangAfterChunks !== null && i >= current.hangAfterChunks) {
        // Hold the stream open; the client's abort closes the socket and ends the test.
        if (!res.destroyed) await new Promise((resolve) => res.on("close", resolve));
        return;
      }
      if (current.tokenDelayMs > 0) await sleep(current.tokenDelayMs);
      // The client may have gone away during the delay (an aborted ask).
      if (res.destroyed) return;
      const delta = i === 0 ? { role: "assistant", content: piece } : { content: piece };
      send({ choices: [{ index: 0, delta, finish_reason: null }] });
    }
    if (res.destroyed) return;
    const finish = { choices: [{ index: 0, delta: {}, finish_reason: "stop" }] };
    if (groq) {
      send(
        current.usage ? { ...finish, x_groq: { id: "req_fake", usage: current.usage } } : finish,
      );
    } else {
      send(finish);
      if (current.usage) send({ choices: [], usage: current.usage });
    }
    res.end("data: [DONE]\n\n");
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    get aborted() {
      return aborted;
    },
    get open() {
      return open;
    },
    setBehaviour(change) {
      behaviour = { ...behaviour, ...change };
      if (change.toolTurns) behaviour.toolTurns = [...change.toolTurns];
      if ("failStatus" in change || "failCount" in change) failuresLeft = behaviour.failCount;
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      );
    },
  };
}

function sendJson(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}
