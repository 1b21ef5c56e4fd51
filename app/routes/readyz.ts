// Readiness for orchestrators and load balancers: 200 once the start-up is over and the
// control database answers, 503 with the reason otherwise. A failed demo load does not hold
// the server back: it is reported here (`demo.state: "failed"`) and in the log.
import { readiness } from "#app/server/observability/health.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";

export async function loader() {
  const { ready, ...rest } = readiness(await getRuntime());
  return Response.json(
    { status: ready ? "ready" : "not_ready", ...rest },
    { status: ready ? 200 : 503, headers: { "Cache-Control": "no-store" } },
  );
}
