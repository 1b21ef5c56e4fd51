// Who may read /metrics, and the optional internal listener. Two ways, either or both:
// - METRICS_TOKEN: GET /metrics on the main port with `Authorization: Bearer <token>`;
// - METRICS_PORT: a separate listener on METRICS_HOST (default 127.0.0.1) serving /metrics
//   (which also asks for the token when one is set).
// With neither, metrics are off and the server says so at start-up: a fresh install never
// publishes its internals by accident (docs/decisions/012-observability.md).
import { createHash, timingSafeEqual } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Config } from "../config.server.ts";
import { ApiError, errorResponse } from "../errors.server.ts";
import type { Logger } from "../logger.server.ts";
import { renderMetrics } from "../metrics.server.ts";

type MetricsConfig = Pick<Config, "METRICS_TOKEN" | "METRICS_PORT" | "METRICS_HOST">;

const digest = (value: string) => createHash("sha256").update(value).digest();

/** Constant-time check of an Authorization header against the token. */
export function bearerMatches(header: string | null | undefined, token: string): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  if (!match?.[1]) return false;
  return timingSafeEqual(digest(match[1]), digest(token));
}

async function exposition(): Promise<Response> {
  const { body, contentType } = await renderMetrics();
  return new Response(body, {
    headers: { "Content-Type": contentType, "Cache-Control": "no-store" },
  });
}

/** GET /metrics on the main port. 404 unless METRICS_TOKEN is set; 401 without it. */
export async function metricsOnMainPort(request: Request, config: MetricsConfig) {
  try {
    if (!config.METRICS_TOKEN) throw new ApiError("not_found", "Not found.");
    if (!bearerMatches(request.headers.get("authorization"), config.METRICS_TOKEN)) {
      throw new ApiError("unauthorized", "A valid metrics bearer token is required.", {
        "WWW-Authenticate": 'Bearer realm="metrics"',
      });
    }
    return await exposition();
  } catch (error) {
    return errorResponse(error);
  }
}

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/**
 * Starts the internal metrics listener when METRICS_PORT is set (resolves null otherwise),
 * and logs where metrics can be read, or that they are off.
 */
export async function startMetricsServer(
  config: MetricsConfig,
  logger: Logger,
): Promise<MetricsServer | null> {
  if (config.METRICS_PORT === undefined) {
    if (config.METRICS_TOKEN) {
      logger.info("metrics at /metrics on the main port (bearer token: METRICS_TOKEN)");
    } else {
      logger.info(
        "metrics are off: set METRICS_TOKEN (bearer-protected /metrics) or METRICS_PORT " +
          "(internal listener) to turn them on",
      );
    }
    return null;
  }
  const token = config.METRICS_TOKEN;
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const send = (status: number, body: string, type = "text/plain; charset=utf-8") => {
      res.writeHead(status, { "Content-Type": type, "Cache-Control": "no-store" }).end(body);
    };
    if (path !== "/metrics" || (req.method !== "GET" && req.method !== "HEAD")) {
      send(404, "Not found.\n");
      return;
    }
    if (token && !bearerMatches(req.headers.authorization, token)) {
      res.setHeader("WWW-Authenticate", 'Bearer realm="metrics"');
      send(401, "A valid metrics bearer token is required.\n");
      return;
    }
    renderMetrics().then(
      ({ body, contentType }) => send(200, body, contentType),
      (error: unknown) => {
        logger.error({ err: error }, "rendering metrics failed");
        send(500, "Metrics could not be rendered.\n");
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.METRICS_PORT, config.METRICS_HOST, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  logger.info(
    { host: config.METRICS_HOST, port, bearer: token ? "required" : "not required" },
    `metrics at http://${config.METRICS_HOST}:${port}/metrics`,
  );
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
