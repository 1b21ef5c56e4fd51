import { describe, expect, it } from "vitest";
import type { TenantRecord } from "../control-db.server.ts";
import { auditToolCall, maskToolArguments } from "./tool-audit.server.ts";

describe("maskToolArguments", () => {
  it("keeps free text only as its length and masks PII in every other string", () => {
    expect(
      maskToolArguments(
        {
          question: "Mail me at jane@example.com",
          email: "jane@example.com",
          phone: "+44 20 7946 0958",
          guests: 2,
          confirmed: true,
          note: null,
          items: [{ sku: "A-1", contact: "bob@example.org" }],
          deep: { a: { b: { c: { d: "too deep" } } } },
          long: "y".repeat(300),
          skipped: undefined,
        },
        ["question"],
      ),
    ).toEqual({
      question: "[text: 27 chars]",
      email: "[EMAIL]",
      phone: "[PHONE]",
      guests: 2,
      confirmed: true,
      note: null,
      items: [{ sku: "A-1", contact: "[EMAIL]" }],
      deep: { a: { b: { c: "[…]" } } },
      long: `${"y".repeat(119)}…`,
      skipped: undefined,
    });
  });
});

describe("auditToolCall", () => {
  it("logs instead of failing when the audit cannot be written", () => {
    const errors: unknown[] = [];
    const tenant = { id: "t_missing" } as TenantRecord;
    auditToolCall(
      {
        tenants: {
          get: () => {
            throw new Error("closed");
          },
        } as never,
        logger: { error: (...args: unknown[]) => errors.push(args) } as never,
      },
      tenant,
      {
        via: "mcp",
        tool: "ask",
        actor: "key:1",
        arguments: {},
        question: null,
        outcome: "ok",
        latencyMs: 1,
      },
    );
    expect(errors).toHaveLength(1);
  });
});
