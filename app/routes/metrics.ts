// GET /metrics — Prometheus metrics on the main port, for bearers of METRICS_TOKEN only
// (404 when it is not set). The internal METRICS_PORT listener serves the same text.
import { metricsOnMainPort } from "#app/server/observability/metrics-endpoint.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";
import type { Route } from "./+types/metrics";

export async function loader({ request }: Route.LoaderArgs) {
  const runtime = await getRuntime();
  return metricsOnMainPort(request, runtime.config);
}
