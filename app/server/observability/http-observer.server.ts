// The Node-level front of every HTTP request (server.js mounts it): gives the request its id
// (a sane incoming X-Request-Id, or a new one), echoes it in the response, runs the rest of
// the request inside its request context (so every log line carries it), and counts the
// request in the HTTP metrics by ROUTE PATTERN — never the raw URL, whose values are
// unbounded — then writes one access-log line.
import type { IncomingMessage, ServerResponse } from "node:http";
import {
  context as otelContext,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import { matchRoutes, type RouteObject } from "react-router";
import type { Logger } from "../logger.server.ts";
import { metrics } from "../metrics.server.ts";
import { tracer } from "./tracing.server.ts";
import {
  requestIdFrom,
  runWithRequestContext,
  type RequestContext,
} from "../request-context.server.ts";

/** The part of React Router's build manifest (`build.routes`) the matcher reads. */
export interface RouteManifestEntry {
  id: string;
  parentId?: string;
  path?: string;
  index?: boolean;
  caseSensitive?: boolean;
}

type Manifest = Record<string, RouteManifestEntry | undefined>;

/** Turns a URL path into the pattern of the route that serves it, or null when none does. */
export function createRoutePatternMatcher(manifest: Manifest): (pathname: string) => string | null {
  const entries = Object.values(manifest).filter((e): e is RouteManifestEntry => e !== undefined);
  const build = (parentId: string | undefined): RouteObject[] =>
    entries
      .filter((entry) => entry.parentId === parentId)
      .map((entry) =>
        entry.index
          ? { id: entry.id, path: entry.path, index: true, caseSensitive: entry.caseSensitive }
          : {
              id: entry.id,
              path: entry.path,
              caseSensitive: entry.caseSensitive,
              children: build(entry.id),
            },
      );
  const tree = build(undefined);
  return (pathname) => {
    // Client navigations fetch a route's data at `<path>.data` (`/_root.data` for "/").
    const path = pathname === "/_root.data" ? "/" : pathname.replace(/\.data$/, "");
    const matches = matchRoutes(tree, path);
    if (!matches || matches.length === 0) return null;
    const segments = matches
      .map((m) => m.route.path ?? "")
      .join("/")
      .split("/")
      .filter((s) => s !== "");
    return `/${segments.join("/")}`;
  };
}

const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);
/** Polled by load balancers and Prometheus: logged at debug, not info. */
const QUIET_ROUTES = new Set(["/healthz", "/readyz", "/metrics", "static"]);

type Next = () => void;

export interface HttpHandlerOptions {
  routes: Manifest;
  logger: Logger;
  /** Static files (sirv): calls next() when it has no such file. */
  assets: (req: IncomingMessage, res: ServerResponse, next: Next) => void;
  /** The React Router app. */
  app: (req: IncomingMessage, res: ServerResponse) => void;
  /** A lane in front of the app for the requests it takes (ask/cached-lane.server.ts). */
  lane?: {
    readonly route: string;
    takes(req: IncomingMessage): boolean;
    serve(req: IncomingMessage, res: ServerResponse): void;
  };
}

export function createHttpHandler(options: HttpHandlerOptions) {
  const routeOf = createRoutePatternMatcher(options.routes);
  const { logger } = options;
  return (req: IncomingMessage, res: ServerResponse): void => {
    const started = performance.now();
    const context: RequestContext = { requestId: requestIdFrom(req.headers["x-request-id"]) };
    res.setHeader("X-Request-Id", context.requestId);
    let route = "static";
    const method = METHODS.has(req.method ?? "") ? (req.method as string) : "OTHER";
    const pathname = (req.url ?? "/").split("?")[0] ?? "/";
    // The HTTP SERVER span (OpenTelemetry's HTTP conventions), a child of the caller's trace
    // when the request carries a W3C traceparent; every span of the request is below it.
    const parent = propagation.extract(ROOT_CONTEXT, req.headers);
    const span = tracer().startSpan(
      method === "OTHER" ? "HTTP" : method,
      {
        kind: SpanKind.SERVER,
        attributes: {
          "http.request.method": method === "OTHER" ? "_OTHER" : method,
          "url.path": pathname,
          "url.scheme": "http",
          "network.protocol.version": req.httpVersion,
        },
      },
      parent,
    );
    res.once("close", () => {
      const seconds = (performance.now() - started) / 1000;
      // A response cut off before it was complete (the visitor left mid-stream) keeps its
      // status; the log line says it was aborted.
      const status = String(res.statusCode);
      const labels = { method, route, status };
      metrics.httpRequests.inc(labels);
      metrics.httpRequestDuration.observe(labels, seconds);
      const line = {
        requestId: context.requestId,
        ...(context.tenantId ? { tenantId: context.tenantId } : {}),
        method,
        route,
        status: res.statusCode,
        ms: Math.round(seconds * 1000),
        ...(res.writableFinished ? {} : { aborted: true }),
      };
      otelContext.with(trace.setSpan(parent, span), () => {
        if (QUIET_ROUTES.has(route)) logger.debug(line, "request completed");
        else logger.info(line, "request completed");
      });
      if (span.isRecording()) {
        const known = route !== "static" && route !== "unmatched";
        if (known) span.updateName(`${method === "OTHER" ? "HTTP" : method} ${route}`);
        span.setAttributes({
          ...(known ? { "http.route": route } : {}),
          "http.response.status_code": res.statusCode,
          "bitb.request_id": context.requestId,
        });
        if (res.statusCode >= 500) {
          span.setStatus({ code: SpanStatusCode.ERROR });
          span.setAttribute("error.type", String(res.statusCode));
        }
        if (!res.writableFinished) span.setAttribute("bitb.aborted", true);
      }
      span.end();
    });
    otelContext.with(trace.setSpan(parent, span), () =>
      runWithRequestContext(context, () => {
        if (options.lane?.takes(req)) {
          route = options.lane.route;
          options.lane.serve(req, res);
          return;
        }
        options.assets(req, res, () => {
          route = routeOf(pathname) ?? "unmatched";
          options.app(req, res);
        });
      }),
    );
  };
}
