// The cached-answer lane (docs/decisions/034): a POST /api/ask whose answer is already in the
// tenant's answer cache is answered straight from node's request and response, in front of
// React Router — like a response cache in front of an app. It runs the route's own prologue
// (ask-request.server.ts: schema, caller, serving, rate limits, quota), replays the answer
// through the ask pipeline's own replay (ask.server.ts: the exchange, the day's usage, the
// metrics, the span), sends the same events (bytes encoded once per cached answer) with the
// same CORS and security headers, and writes the same audit entry. server.js mounts it inside
// createHttpHandler, so request ids, the access log and the HTTP metrics cover it too.
//
// Everything else goes on to React Router with the body already read: a cache miss, a batch,
// a follow-up question, a widget visitor whose tenant may offer actions, and any refusal or
// doubt before admission — so the route answers those the one way it always has. A request
// goes on only before its rate-limit tokens are taken (the cache is peeked, not counted,
// until then), so no ask pays twice. Once admitted, the lane answers it, whatever happens.
// Its writes are group-committed per turn of the event loop (turn-commit.server.ts), and each
// answer is sent only after its writes are committed.
import type { IncomingMessage, ServerResponse } from "node:http";
import {
  createHeaders,
  sendResponse,
  type ClientAddress,
  type FetchHandler,
} from "@mjackson/node-fetch-server";
import type { DoneEvent } from "#app/shared/ask-events.ts";
import { offerableActionsOf } from "./ask-with-actions.server.ts";
import { errorResponse } from "../errors.server.ts";
import { assertServing } from "../tenancy/platform.server.ts";
import {
  DEFAULT_JSON_LIMIT,
  mediaTypeOf,
  parseJsonBody,
  type RequestHead,
  wantsJson,
} from "../request.server.ts";
import type { Runtime } from "../runtime/runtime.server.ts";
import { baseSecurityHeaders, withBaseSecurityHeaders } from "../security-headers.server.ts";
import { cachedAnswerSse, type CachedAnswer } from "./answer-cache.server.ts";
import {
  admitAsk,
  askAuditor,
  askSchema,
  type Caller,
  identifyCaller,
  mayOfferActions,
} from "./ask-request.server.ts";
import { answerCacheLookup, replayCachedAsk } from "./ask.server.ts";
import { encodeEvent, sseHeaders } from "./sse.server.ts";
import { TurnCommit } from "./turn-commit.server.ts";

/** The path the lane serves, and the route pattern its requests are counted under. */
export const ASK_ROUTE = "/api/ask";

export interface AskLaneOptions {
  /** The protocol browsers reach us by (PUBLIC_URL's), as server.js gives React Router. */
  protocol?: string;
  /** server.js's fetch handler of the React Router app, for what the lane does not answer. */
  app: FetchHandler;
  /** server.js's answer to an error the app or the lane throws. */
  onError: (error: unknown) => Response | Promise<Response>;
}

export interface AskLane {
  /** The route pattern of the requests the lane takes (for the HTTP metrics). */
  readonly route: string;
  /** Whether the lane takes this request: a POST to /api/ask with a small, sized body. */
  takes(req: IncomingMessage): boolean;
  serve(req: IncomingMessage, res: ServerResponse): void;
}

interface Eligible {
  caller: Caller;
  query: string;
  conversationId: string;
  hit: CachedAnswer;
}

export function createCachedAskLane(runtime: Runtime, options: AskLaneOptions): AskLane {
  const { logger } = runtime;
  const turnCommit = new TurnCommit((tenantId) => runtime.tenants.get(tenantId));

  async function fallThrough(req: IncomingMessage, res: ServerResponse, body: Buffer) {
    // What node-fetch-server's request listener does, with the body the lane has read.
    let response: Response;
    try {
      // As node-fetch-server's listener does: a socket closed meanwhile has no address.
      response = await options.app(bufferedRequest(req, res, body, options.protocol), {
        address: req.socket.remoteAddress,
        family: req.socket.remoteFamily,
        port: req.socket.remotePort,
      } as ClientAddress);
    } catch (error) {
      response = await options.onError(error);
    }
    await sendResponse(res, response);
  }

  /** The ask if the cache can answer it; null sends it on to the route. Takes no token. */
  function eligible(head: RequestHead, bytes: Buffer): Eligible | null {
    if (mediaTypeOf(head.headers.get("content-type")) !== "application/json") return null;
    const body = parseJsonBody(bytes, askSchema(runtime.config));
    if (body.query === undefined) return null;
    const caller = identifyCaller(runtime, head, body);
    assertServing(caller.tenant, caller.cors);
    // An answer that may carry an action offer is never a replay.
    if (mayOfferActions(caller) && offerableActionsOf(runtime, caller.tenant)) return null;
    const lookup = answerCacheLookup(runtime, {
      tenant: caller.tenant,
      query: body.query,
      conversationId: caller.conversationId,
    });
    if (!lookup.cache) return null;
    const hit = runtime.answerCache.peek(caller.tenant.id, lookup.cache.version, lookup.cache.key);
    return hit ? { caller, query: body.query, conversationId: lookup.conversationId, hit } : null;
  }

  /** Answers the ask from the cache; false when it belongs to the route. */
  async function answer(
    req: IncomingMessage,
    res: ServerResponse,
    bytes: Buffer,
    receivedAt: number,
  ): Promise<boolean> {
    let head: RequestHead;
    let ask: Eligible | null;
    try {
      head = requestHead(req, options.protocol);
      ask = eligible(head, bytes);
    } catch {
      // Refused or malformed: the route refuses it again, the one way (nothing was written).
      return false;
    }
    if (!ask) return false;

    const { caller, hit } = ask;
    const { tenant, cors } = caller;
    const audit = askAuditor(runtime, caller, [ask.query], false);
    try {
      admitAsk(runtime, head, { clientAddress: req.socket.remoteAddress }, caller, audit);
    } catch (error) {
      await sendResponse(res, withBaseSecurityHeaders(head, errorResponse(error, cors)));
      return true;
    }

    runtime.answerCache.countLookup(tenant.id, true);
    const json = wantsJson(head);
    let done: DoneEvent;
    try {
      // The exchange, the day's usage and the audit entry, committed with the other asks of
      // this turn (turn-commit.server.ts); the answer goes out once they are.
      done = await turnCommit.run(tenant.id, () => {
        const replayed = replayCachedAsk(
          runtime,
          { tenant, query: ask.query, conversationId: caller.conversationId, receivedAt },
          ask.conversationId,
          hit,
        );
        audit(hit.abstained ? "abstained" : "answered", replayed.usage, true);
        return replayed;
      });
    } catch (error) {
      // As on the route: a JSON ask gets the opaque 500, a stream ends with an error event.
      audit("internal_error");
      if (json) {
        await sendResponse(res, withBaseSecurityHeaders(head, errorResponse(error, cors)));
        return true;
      }
      logger.error({ err: error }, "ask failed");
      send(
        res,
        head,
        sseHeaders,
        cors,
        Buffer.from(
          encodeEvent("error", { code: "internal_error", message: "Something went wrong." }),
        ),
      );
      return true;
    }
    send(
      res,
      head,
      json ? JSON_HEADERS : sseHeaders,
      cors,
      Buffer.from(json ? JSON.stringify(done) : cachedAnswerSse(hit, done)),
    );
    return true;
  }

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const receivedAt = performance.now();
    const body = await readBody(req);
    // The client went away before sending its whole question: nothing to answer.
    if (body === null) return;
    if (!(await answer(req, res, body, receivedAt))) await fallThrough(req, res, body);
  }

  return {
    route: ASK_ROUTE,
    takes(req) {
      if (req.method !== "POST") return false;
      const url = req.url ?? "";
      if (url !== ASK_ROUTE && !url.startsWith(`${ASK_ROUTE}?`)) return false;
      // A body of known, acceptable size; anything else (chunked, too large) is the route's.
      if (req.headers["transfer-encoding"] !== undefined) return false;
      const length = Number(req.headers["content-length"]);
      return Number.isInteger(length) && length > 0 && length <= DEFAULT_JSON_LIMIT;
    },
    serve(req, res) {
      serve(req, res).catch(async (error: unknown) => {
        // server.js's onError logs it and makes the opaque 500; a stream already under way
        // can only be cut.
        try {
          const response = await options.onError(error);
          if (res.headersSent) res.destroy();
          else await sendResponse(res, response);
        } catch {
          res.destroy();
        }
      });
    },
  };
}

const JSON_HEADERS = { "Content-Type": "application/json" } as const;

function send(
  res: ServerResponse,
  head: RequestHead,
  type: Readonly<Record<string, string>>,
  cors: Readonly<Record<string, string>>,
  bytes: Buffer,
): void {
  res.writeHead(200, {
    ...type,
    ...cors,
    ...baseSecurityHeaders(head.url.startsWith("https:")),
    "Content-Length": String(bytes.length),
  });
  // One write for the whole answer.
  res.end(bytes);
}

/** The body, whole; null when the client went away first. */
function readBody(req: IncomingMessage): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.once("end", () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.once("close", () => {
      if (!req.complete) resolve(null);
    });
    req.once("error", () => resolve(null));
  });
}

function protocolOf(req: IncomingMessage, protocol: string | undefined): string {
  return protocol ?? ("encrypted" in req.socket && req.socket.encrypted ? "https:" : "http:");
}

/**
 * What the guards read of the request, as node-fetch-server would give it to the route: the
 * same URL, and each header as `Headers.get` returns it (repeats joined with ", ").
 */
export function requestHead(req: IncomingMessage, protocol?: string): RequestHead {
  const values = new Map<string, string>();
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (name.startsWith(":")) continue;
    const value = raw[i + 1]!;
    const before = values.get(name);
    values.set(name, before === undefined ? value : `${before}, ${value}`);
  }
  const base = `${protocolOf(req, protocol)}//${values.get("host") ?? "localhost"}`;
  return {
    url: new URL(req.url ?? "/", base).href,
    headers: { get: (name: string) => values.get(name.toLowerCase()) ?? null },
  };
}

/** The Web request node-fetch-server would have made, with the body the lane has read. */
function bufferedRequest(
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
  protocol: string | undefined,
): Request {
  const controller = new AbortController();
  res.on("close", () => controller.abort());
  const headers = createHeaders(req);
  const url = new URL(
    req.url ?? "/",
    `${protocolOf(req, protocol)}//${headers.get("host") ?? "localhost"}`,
  );
  return new Request(url, {
    method: req.method ?? "POST",
    headers,
    // A copy the Request owns (a miss is about to embed and search: the copy is nothing).
    body: new Uint8Array(body),
    signal: controller.signal,
  });
}
