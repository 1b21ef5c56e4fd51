// Liveness and readiness in one: 200 once the runtime is up and the demo tenant is loaded.
import { getRuntime } from "#app/server/runtime/build.server.ts";

export async function loader() {
  const runtime = await getRuntime();
  const body = {
    status: runtime.ready ? "ok" : "starting",
    uptimeSeconds: Math.round((Date.now() - runtime.startedAt) / 1000),
  };
  return Response.json(body, {
    status: runtime.ready ? 200 : 503,
    headers: { "Cache-Control": "no-store" },
  });
}
