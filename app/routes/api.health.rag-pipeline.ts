// GET /api/health/rag-pipeline — each provider's breaker state, recent failure rate and
// queue depth, the embedder, the databases and the ingestion workers. 200 when everything
// answers, 503 while starting or when a part is down (answers may then be degraded).
import { pipelineHealth } from "#app/server/observability/health.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";

export async function loader() {
  const health = await pipelineHealth(await getRuntime());
  return Response.json(health, {
    status: health.status === "ok" ? 200 : 503,
    headers: { "Cache-Control": "no-store" },
  });
}
