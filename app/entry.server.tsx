// Server rendering entry. Also re-exports the runtime's start/stop and the config parser so
// server.js reaches them through the built bundle (one module graph, one runtime).
import { PassThrough } from "node:stream";
import { createReadableStreamFromReadable } from "@react-router/node";
import { isbot } from "isbot";
import { renderToPipeableStream } from "react-dom/server";
import type { EntryContext } from "react-router";
import { ServerRouter } from "react-router";
import { NonceContext } from "./nonce.ts";
import { applyDocumentSecurityHeaders, createNonce } from "./server/security-headers.server.ts";

export { startRuntime, stopRuntime } from "./server/runtime/build.server.ts";
export {
  parseConfig,
  ConfigError,
  assertServingConfig,
  loadEnvFile,
} from "./server/config.server.ts";
export { withAllowedHosts } from "./server/access/allowed-hosts.server.ts";
export { createHttpHandler } from "./server/observability/http-observer.server.ts";
export { createCachedAskLane } from "./server/ask/cached-lane.server.ts";
export { startMetricsServer } from "./server/observability/metrics-endpoint.server.ts";
export { createLogger } from "./server/logger.server.ts";
export { withBaseSecurityHeaders } from "./server/security-headers.server.ts";
export { withJsonApiFallback } from "./server/api-fallback.server.ts";
export { withReplicaConsistency } from "./server/replication/consistency.server.ts";

export const streamTimeout = 5_000;

export default function handleRequest(
  request: Request,
  responseStatusCode: number,
  responseHeaders: Headers,
  routerContext: EntryContext,
) {
  return new Promise<Response>((resolve, reject) => {
    let shellRendered = false;
    const userAgent = request.headers.get("user-agent");
    const readyOption =
      (userAgent && isbot(userAgent)) || routerContext.isSpaMode ? "onAllReady" : "onShellReady";
    // A new nonce per document: the CSP allows only inline scripts that carry it.
    const nonce = createNonce();
    const { pipe, abort } = renderToPipeableStream(
      <NonceContext.Provider value={nonce}>
        <ServerRouter context={routerContext} url={request.url} nonce={nonce} />
      </NonceContext.Provider>,
      {
        nonce,
        [readyOption]() {
          shellRendered = true;
          const body = new PassThrough();
          const stream = createReadableStreamFromReadable(body);
          responseHeaders.set("Content-Type", "text/html; charset=utf-8");
          applyDocumentSecurityHeaders(
            responseHeaders,
            nonce,
            new URL(request.url).protocol === "https:",
          );
          resolve(new Response(stream, { headers: responseHeaders, status: responseStatusCode }));
          pipe(body);
        },
        onShellError(error: unknown) {
          reject(error);
        },
        onError(error: unknown) {
          responseStatusCode = 500;
          if (shellRendered) console.error(error);
        },
      },
    );
    setTimeout(abort, streamTimeout + 1000);
  });
}
