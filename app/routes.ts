import { type RouteConfig, index, route } from "@react-router/dev/routes";

export default [
  index("routes/home.tsx"),
  route("healthz", "routes/healthz.ts"),
  route("readyz", "routes/readyz.ts"),
  route("api/health/rag-pipeline", "routes/api.health.rag-pipeline.ts"),
  route("demo", "routes/demo.tsx"),
  route("metrics", "routes/metrics.ts"),

  // Public and server-to-server API (JSON, one error shape), its OpenAPI document and
  // reference page (docs/decisions/044).
  route("api/openapi.json", "routes/api.openapi.ts"),
  route("api/docs", "routes/api.docs.ts"),
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
  // Website crawls (docs/decisions/029).
  route("api/tenants/:tenantId/crawls", "routes/api.tenant-crawls.ts"),
  route("api/tenants/:tenantId/crawls/:crawlId", "routes/api.tenant-crawl.ts"),
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
  // The OpenAI-compatible API of a tenant's secret key (docs/decisions/044).
  route("v1/models", "routes/v1.models.ts"),
  route("v1/chat/completions", "routes/v1.chat-completions.ts"),
  // Actions: the visitor's confirmation and free slots, the admin's settings and records
  // (docs/decisions/027).
  route("api/actions/confirm", "routes/api.actions-confirm.ts"),
  route("api/actions/slots", "routes/api.actions-slots.ts"),
  route("api/tenants/:tenantId/actions", "routes/api.tenant-actions.ts"),
  route("api/tenants/:tenantId/actions/secret", "routes/api.tenant-actions-secret.ts"),
  route("api/tenants/:tenantId/actions/records", "routes/api.tenant-actions-records.ts"),
  route("api/tenants/:tenantId/actions/records/:recordId", "routes/api.tenant-actions-record.ts"),
  // The knowledge-base check and suggested actions (docs/decisions/032).
  route("api/tenants/:tenantId/check", "routes/api.tenant-check.ts"),
  route("api/tenants/:tenantId/suggestions/:suggestionId", "routes/api.tenant-suggestion.ts"),

  // Admin web app.
  route("login", "routes/login.tsx"),
  route("logout", "routes/logout.ts"),
  route("setup", "routes/setup.tsx"),
  // The self-serve trial in four steps, the widget preview and test pages (docs/decisions/030).
  route("signup", "routes/signup.tsx", [
    index("routes/signup._index.tsx"),
    route("knowledge", "routes/signup.knowledge.tsx"),
    route("widget", "routes/signup.widget.tsx"),
    route("embed", "routes/signup.embed.tsx"),
  ]),
  route("admin/tenants/:tenantId/widget/preview", "routes/admin.tenant-widget-preview.ts"),
  route("embed-test/:tenantId", "routes/embed-test.ts"),
  route("admin", "routes/admin.tsx", [
    index("routes/admin._index.tsx"),
    route("tenants/:tenantId", "routes/admin.tenant.tsx"),
    route("tenants/:tenantId/playground", "routes/admin.playground.tsx"),
    route("tenants/:tenantId/knowledge", "routes/admin.tenant-knowledge.tsx"),
    route("tenants/:tenantId/check", "routes/admin.tenant-check.tsx"),
    route("tenants/:tenantId/actions", "routes/admin.tenant-actions.tsx"),
    route("tenants/:tenantId/widget", "routes/admin.tenant-widget.tsx"),
    route("tenants/:tenantId/usage", "routes/admin.tenant-usage.tsx"),
    route("tenants/:tenantId/conversations", "routes/admin.tenant-conversations.tsx"),
  ]),
] satisfies RouteConfig;
