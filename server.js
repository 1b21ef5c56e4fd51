// The production server: starts the runtime from the built app (so both share one module
// graph), serves the built client assets, and hands every other request to React Router.
// Shuts down cleanly on SIGTERM/SIGINT: stops taking requests, lets requests and ingestion
// steps finish (unfinished jobs resume after restart), and closes every database.
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createRequestListener } from "@mjackson/node-fetch-server";
import { createRequestHandler } from "react-router";
import sirv from "sirv";

const root = path.dirname(fileURLToPath(import.meta.url));
const build = await import(path.join(root, "build/server/index.js"));
const {
  startRuntime,
  stopRuntime,
  parseConfig,
  loadEnvFile,
  ConfigError,
  assertServingConfig,
  withAllowedHosts,
  createHttpHandler,
  createCachedAskLane,
  startMetricsServer,
  createLogger,
  withBaseSecurityHeaders,
  withJsonApiFallback,
  withReplicaConsistency,
} = build.entry.module;

let config;
let envFile;
try {
  // `.env` in the working folder (or ENV_FILE), under what the environment already sets.
  envFile = loadEnvFile();
  config = parseConfig();
  assertServingConfig(config);
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}
const logger = createLogger({ level: config.LOG_LEVEL, pretty: config.NODE_ENV === "development" });
if (envFile) logger.info({ file: envFile }, "settings read from the environment and an env file");

// Both ports are bound before anything else starts: a process that cannot listen exits here,
// before it opens a database, starts the ingestion queue or any background duty (or a second
// process on a taken port would run a queue and seed the demo tenant beside the first).
// Requests that arrive meanwhile wait for the app, except the liveness probe: the process
// serves HTTP, so /healthz answers 200 at once (readiness is /readyz's, decision 046).
let handleHttp;
let appStarted = false;
const startedAt = Date.now();
const httpReady = new Promise((resolve) => (handleHttp = resolve)).then((handler) => {
  appStarted = true;
  return handler;
});
// A request naming a Host that is not this server's (PUBLIC_URL, ALLOWED_HOSTS) gets 421 here:
// no embed snippet, redirect, CSRF check or link is ever built from a foreign Host.
const server = http.createServer(
  { connectionsCheckingInterval: 1000 },
  withAllowedHosts(config, (req, res) => {
    if (!appStarted && req.method === "GET" && req.url?.split("?")[0] === "/healthz") {
      const uptimeSeconds = Math.round((Date.now() - startedAt) / 1000);
      res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
      res.end(JSON.stringify({ status: "ok", uptimeSeconds }));
      return;
    }
    void httpReady.then((handler) => handler(req, res));
  }),
);
server.keepAliveTimeout = 65_000;
// Slow clients (slowloris) get HTTP_HEADERS_TIMEOUT_MS for their headers and
// HTTP_REQUEST_TIMEOUT_MS for the whole request, checked every second; one client address may
// hold at most maxConnectionsPerAddress connections, more are closed on arrival.
server.headersTimeout = config.HTTP_HEADERS_TIMEOUT_MS;
server.requestTimeout = config.HTTP_REQUEST_TIMEOUT_MS;
const connectionsByAddress = new Map();
server.on("connection", (socket) => {
  const cap = config.maxConnectionsPerAddress;
  const address = socket.remoteAddress;
  if (cap === 0 || address === undefined) return;
  const open = connectionsByAddress.get(address) ?? 0;
  if (open >= cap) {
    socket.destroy();
    return;
  }
  connectionsByAddress.set(address, open + 1);
  socket.once("close", () => {
    const left = (connectionsByAddress.get(address) ?? 1) - 1;
    if (left <= 0) connectionsByAddress.delete(address);
    else connectionsByAddress.set(address, left);
  });
});
try {
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.PORT, config.HOST, () => {
      server.off("error", reject);
      resolve(undefined);
    });
  });
} catch (error) {
  logger.fatal({ err: error }, `cannot listen on ${config.HOST}:${config.PORT}: ${error.message}`);
  process.exit(1);
}
server.on("error", (error) => {
  logger.fatal({ err: error }, `server error on ${config.HOST}:${config.PORT}: ${error.message}`);
  process.exit(1);
});
let metricsServer;
try {
  metricsServer = await startMetricsServer(config, logger);
} catch (error) {
  logger.fatal(
    { err: error },
    `cannot listen on ${config.METRICS_HOST}:${config.METRICS_PORT} for metrics`,
  );
  process.exit(1);
}

const runtime = await startRuntime({ config, logger });
if (config.allowedHosts.length === 0) {
  logger.warn(
    "neither PUBLIC_URL nor ALLOWED_HOSTS is set: answering only localhost, 127.0.0.1 and [::1]",
  );
}

// Behind a TLS-terminating proxy PUBLIC_URL says whether browsers reach us over https.
const httpsOrigin = config.PUBLIC_URL?.startsWith("https:") ?? false;
const assets = sirv(path.join(root, "build/client"), {
  etag: true,
  gzip: true,
  brotli: true,
  setHeaders(res, pathname) {
    // The widget's bundle is named by its content hash: cache it for good. The loader
    // (/widget.js) and its add-on keep a short max-age so a release reaches every site fast.
    // All of them are loaded by customers' pages on other origins.
    if (/^\/widget\/bitb\.[0-9a-f]+\.js$/.test(pathname) || pathname.startsWith("/assets/")) {
      res.setHeader("Cache-Control", "public, max-age=31536000, immutable");
    } else {
      res.setHeader("Cache-Control", "public, max-age=300");
    }
    res.setHeader("X-Content-Type-Options", "nosniff");
    if (httpsOrigin)
      res.setHeader("Strict-Transport-Security", "max-age=31536000; includeSubDomains");
    if (
      pathname === "/widget.js" ||
      pathname === "/widget-batch.js" ||
      pathname.startsWith("/widget/")
    ) {
      res.setHeader("Access-Control-Allow-Origin", "*");
      res.setHeader("Cross-Origin-Resource-Policy", "cross-origin");
    }
  },
});
const routerHandler = createRequestHandler(build, process.env.NODE_ENV ?? "production");
// Behind a TLS-terminating proxy (Fly, a load balancer) the request reaches us over http, but
// browsers send an https Origin: PUBLIC_URL's protocol makes request.url match what they see.
// The client's address reaches loaders and actions as load context (failed sign-ins are
// counted per client). Under LiteFS, writes reaching a replica are replayed on the primary and
// admins read their own writes (docs/decisions/023).
const handleRequest = withReplicaConsistency(
  runtime,
  { catchUpMs: config.REPLICA_CATCH_UP_MS, secureCookie: httpsOrigin },
  routerHandler,
);
// Unknown paths and wrong methods under /api/ and /v1/ answer JSON, not the HTML error page.
const app = async (request, client) =>
  withBaseSecurityHeaders(
    request,
    await withJsonApiFallback(
      request,
      await handleRequest(request, { clientAddress: client.address }),
    ),
  );
const protocol = config.PUBLIC_URL ? new URL(config.PUBLIC_URL).protocol : undefined;
const onError = (error) => {
  logger.error({ err: error }, "unhandled error in a request");
  return Response.json(
    { error: { code: "internal_error", message: "Something went wrong on our side." } },
    { status: 500 },
  );
};
const handle = createRequestListener(app, { protocol, onError });
// A repeated question whose answer is cached is answered in front of React Router, with the
// route's own checks; everything else goes on to the app (docs/decisions/034).
const lane = createCachedAskLane(runtime, { protocol, app, onError });

// Request ids, the request context of the logs, HTTP metrics and the access log wrap all three.
handleHttp(createHttpHandler({ routes: build.routes, logger, assets, app: handle, lane }));
{
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : config.PORT;
  logger.info({ port, host: config.HOST }, `BiTB listening on http://localhost:${port}`);
}

// ---- shutdown (deploy: docs/decisions/021) ------------------------------------------------
// Stop accepting connections, let requests in flight (a streamed answer) and running ingestion
// steps finish within SHUTDOWN_TIMEOUT_MS, then close every database. Jobs not finished by then
// stay persisted in their tenant's database and are claimed again after the restart.
let stopping = false;
async function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  const graceMs = config.SHUTDOWN_TIMEOUT_MS;
  logger.info({ signal, graceMs }, "shutting down");
  const forced = setTimeout(() => {
    logger.error("shutdown did not finish in time; exiting");
    process.exit(1);
  }, graceMs + 5_000);
  forced.unref();
  const requestsDone = new Promise((resolve) => server.close(() => resolve(undefined)));
  // Keep-alive connections become idle once their response ends: close them as they do.
  const idleSweep = setInterval(() => server.closeIdleConnections(), 100);
  const cutOff = setTimeout(() => server.closeAllConnections(), graceMs);
  server.closeIdleConnections();
  await metricsServer?.close();
  try {
    await Promise.all([requestsDone, runtime.queue.stop()]);
    clearTimeout(cutOff);
    clearInterval(idleSweep);
    await stopRuntime();
    logger.info("stopped: every database closed");
  } catch (error) {
    logger.error({ err: error }, "error while stopping");
    process.exit(1);
  }
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("unhandledRejection", (reason) => {
  logger.error({ err: reason }, "unhandled rejection");
});
