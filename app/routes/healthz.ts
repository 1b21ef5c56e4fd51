// Liveness: 200 whenever the process serves HTTP, also while it starts (the demo tenant's
// first load takes minutes). Whether it can answer yet is /readyz's question.
import { getRuntime } from "#app/server/runtime/build.server.ts";

export async function loader() {
  const runtime = await getRuntime();
  return Response.json(
    { status: "ok", uptimeSeconds: Math.round((Date.now() - runtime.startedAt) / 1000) },
    { headers: { "Cache-Control": "no-store" } },
  );
}
