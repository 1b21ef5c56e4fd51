// Readiness for orchestrators: 200 once the demo tenant is loaded and the control database
// answers; 503 otherwise. (/healthz is the liveness probe.)
import { controlDatabaseOk } from "#app/server/observability/health.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";

export async function loader() {
  const runtime = await getRuntime();
  const ready = runtime.ready && controlDatabaseOk(runtime);
  return Response.json(
    { status: ready ? "ready" : "not_ready" },
    { status: ready ? 200 : 503, headers: { "Cache-Control": "no-store" } },
  );
}
