import { describe, expect, it } from "vitest";
import type { TenantId } from "#tenants/id.ts";
import type { ApiError } from "../errors.server.ts";
import { issueVisitorSession, verifyVisitorSession } from "./visitor-session.server.ts";

const A = `tn_${"a".repeat(32)}` as TenantId;
const B = `tn_${"b".repeat(32)}` as TenantId;
const code = (f: () => unknown) => {
  try {
    f();
  } catch (error) {
    return (error as ApiError).code;
  }
  return "ok";
};

describe("visitor sessions", () => {
  it("prove their tenant and conversation until they expire", () => {
    const { token, session } = issueVisitorSession("s", A, 60, 1_000_000);
    expect(session.conversationId).toMatch(/^cv_[0-9a-f]{24}$/);
    expect(verifyVisitorSession("s", token, A, 1_000_000)).toEqual(session);
    expect(code(() => verifyVisitorSession("s", token, A, 1_000_000 + 60_000))).toBe(
      "session_expired",
    );
  });

  it("refuse another tenant, another secret, forgeries and junk", () => {
    const { token } = issueVisitorSession("s", A, 60, 0);
    expect(code(() => verifyVisitorSession("s", token, B, 0))).toBe("unauthorized");
    expect(code(() => verifyVisitorSession("other", token, A, 0))).toBe("unauthorized");
    expect(code(() => verifyVisitorSession("s", token.replace(A, B), B, 0))).toBe("unauthorized");
    const parts = token.split(".");
    parts[3] = String(Number(parts[3]) + 1000);
    expect(code(() => verifyVisitorSession("s", parts.join("."), A, 0))).toBe("unauthorized");
    for (const junk of ["", "a.b.c", "x".repeat(500), `${token}.x`]) {
      expect(code(() => verifyVisitorSession("s", junk, A, 0))).toBe("unauthorized");
    }
  });
});
