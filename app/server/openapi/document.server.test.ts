// The OpenAPI document is valid OpenAPI 3.1 (swagger-parser, as CI lints it), carries this
// server's limits from the ask's own schema, and its reference page renders every operation.
import SwaggerParser from "@apidevtools/swagger-parser";
import { describe, expect, it } from "vitest";
import { openApiDocument } from "./document.server.ts";
import { renderReferencePage } from "./reference-page.server.ts";

const limits = { MAX_QUERY_CHARS: 500, BATCH_MAX_QUESTIONS: 7 };

describe("the OpenAPI document", () => {
  it("is a valid OpenAPI 3.1 document", async () => {
    const document = structuredClone(openApiDocument(limits));
    await expect(SwaggerParser.validate(document as never)).resolves.toBeTruthy();
    expect(document.openapi).toBe("3.1.0");
  });

  it("describes the ask under this server's limits, from the route's own schema", () => {
    const ask = openApiDocument(limits).components?.schemas?.AskRequest as {
      properties: Record<string, { maxLength?: number; maxItems?: number }>;
      additionalProperties: boolean;
    };
    expect(ask.properties.query?.maxLength).toBe(500);
    expect(ask.properties.queries?.maxItems).toBe(7);
    expect(ask.additionalProperties).toBe(false);
  });

  it("covers the public, MCP and OpenAI-compatible routes", () => {
    const paths = Object.keys(openApiDocument(limits).paths ?? {});
    expect(paths).toEqual(
      expect.arrayContaining([
        "/api/ask",
        "/api/widget/{tenantId}/config",
        "/api/widget/{tenantId}/session",
        "/api/feedback",
        "/api/tenants/{tenantId}/documents",
        "/api/tenants/{tenantId}/jobs",
        "/api/mcp",
        "/api/openapi.json",
        "/v1/models",
        "/v1/chat/completions",
      ]),
    );
  });

  it("renders as a page that lists every operation and escapes what it shows", () => {
    const page = renderReferencePage(openApiDocument(limits) as never);
    expect(page).toContain("<code>POST /v1/chat/completions</code>");
    expect(page).toContain("<code>POST /api/ask</code>");
    expect(page).not.toMatch(/<script/i);
  });
});
