import { type RouteConfig, index, route } from "@react-router/dev/routes";

export default [
  index("routes/home.tsx"),
  route("healthz", "routes/healthz.ts"),
  route("readyz", "routes/readyz.ts"),
  route("api/health/rag-pipeline", "routes/api.health.rag-pipeline.ts"),
  route("demo", "routes/demo.tsx"),
  route("metrics", "routes/metrics.ts"),

  // Public and server-to-server API (JSON, one error shape).
  route("api/ask", "routes/api.ask.ts"),
  route("api/widget/:tenantId/config", "routes/api.widget-config.ts"),
  route("api/widget/:tenantId/session", "routes/api.widget-session.ts"),
  route("api/feedback", "routes/api.feedback.ts"),
  route("api/tenants", "routes/api.tenants.ts"),
  route("api/tenants/:tenantId", "routes/api.tenant.ts"),
  route("api/tenants/:tenantId/documents", "routes/api.tenant-documents.ts"),
  route("api/tenants/:tenantId/documents/:documentId", "routes/api.tenant-document.ts"),
  route("api/tenants/:tenantId/jobs", "routes/api.tenant-jobs.ts"),
  route("api/tenants/:tenantId/unanswered", "routes/api.tenant-unanswered.ts"),
  // Embeds, secret keys, plan and quota, audit log (docs/decisions/016, 017).
  route("api/tenants/:tenantId/embed", "routes/api.tenant-embed.ts"),
  route("api/tenants/:tenantId/keys", "routes/api.tenant-keys.ts"),
  route("api/tenants/:tenantId/keys/:keyId", "routes/api.tenant-key.ts"),
  route("api/tenants/:tenantId/plan", "routes/api.tenant-plan.ts"),
  route("api/tenants/:tenantId/audit", "routes/api.tenant-audit.ts"),
  route("api/tenants/:tenantId/export", "routes/api.tenant-export.ts"), // deploy: export
  // Replica-safe writes: replicas forward their outbox to the primary (docs/decisions/023).
  route("api/internal/outbox", "routes/api.internal-outbox.ts"),
  // MCP (Streamable HTTP) for a tenant's secret key (docs/decisions/026).
  route("api/mcp", "routes/api.mcp.ts", { id: "api-mcp" }),
  route("api/tenants/:tenantId/mcp", "routes/api.mcp.ts", { id: "api-tenant-mcp" }),

  // Admin web app.
  route("login", "routes/login.tsx"),
  route("logout", "routes/logout.ts"),
  route("setup", "routes/setup.tsx"),
  route("admin", "routes/admin.tsx", [
    index("routes/admin._index.tsx"),
    route("tenants/:tenantId", "routes/admin.tenant.tsx"),
    route("tenants/:tenantId/playground", "routes/admin.playground.tsx"),
    route("tenants/:tenantId/usage", "routes/admin.tenant-usage.tsx"),
    route("tenants/:tenantId/conversations", "routes/admin.tenant-conversations.tsx"),
  ]),
] satisfies RouteConfig;
