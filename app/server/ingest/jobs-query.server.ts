// The query of GET /api/tenants/:tenantId/jobs, shared by the route and the OpenAPI document
// (openapi/document.server.ts).
import { z } from "zod";

export const jobsQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(50),
});
