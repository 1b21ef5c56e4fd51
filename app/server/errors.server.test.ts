import { describe, expect, it } from "vitest";
import { z } from "zod";
import type { TenantId } from "#tenants/id.ts";
import { TenantUnavailableError } from "#tenants/store.ts";
import {
  ApiError,
  errorResponse,
  formatZodError,
  reportStorageFailuresTo,
} from "./errors.server.ts";

describe("errorResponse", () => {
  it("gives ApiErrors their status and the one error shape", async () => {
    const res = errorResponse(new ApiError("not_found", "No such tenant."), { "x-a": "1" });
    expect(res.status).toBe(404);
    expect(res.headers.get("x-a")).toBe("1");
    expect(await res.json()).toEqual({ error: { code: "not_found", message: "No such tenant." } });
  });

  it("passes headers of the error itself", () => {
    const res = errorResponse(new ApiError("rate_limited", "Slow down.", { "Retry-After": "3" }));
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("3");
  });

  it("turns validation errors into 400 with the field path", async () => {
    const result = z.strictObject({ query: z.string() }).safeParse({ query: 1, extra: true });
    expect(result.success).toBe(false);
    const res = errorResponse(result.error);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("validation_failed");
    expect(body.error.message).toMatch(/query/);
    expect(formatZodError(result.error!)).toMatch(/extra/);
  });

  it("hides unknown errors behind an opaque 500", async () => {
    const res = errorResponse(new Error("secret path /etc/x"));
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(text).not.toMatch(/secret/);
    expect(JSON.parse(text).error.code).toBe("internal_error");
  });

  it("returns thrown Responses as they are", () => {
    const thrown = new Response(null, { status: 302 });
    expect(errorResponse(thrown)).toBe(thrown);
  });

  it("answers 503 tenant_unavailable for an unavailable tenant, and for a storage error the runtime confirms", async () => {
    const id = `tn_${"f".repeat(32)}` as TenantId;
    const down = errorResponse(new TenantUnavailableError(id, "its file is empty"), { "x-a": "1" });
    expect(down.status).toBe(503);
    expect(down.headers.get("retry-after")).toBe("30");
    expect(down.headers.get("x-a")).toBe("1");
    const body = (await down.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("tenant_unavailable");
    expect(body.error.message).not.toContain(id);

    const corrupt = Object.assign(new Error("database disk image is malformed"), {
      code: "SQLITE_CORRUPT",
    });
    const seen: unknown[] = [];
    try {
      reportStorageFailuresTo((error) => (seen.push(error), true));
      expect(errorResponse(corrupt).status).toBe(503);
      reportStorageFailuresTo(() => false);
      expect(errorResponse(corrupt).status).toBe(500);
      // Not a storage error: the runtime is not even asked.
      expect(errorResponse(Object.assign(new Error("busy"), { code: "SQLITE_BUSY" })).status).toBe(
        500,
      );
      expect(seen).toEqual([corrupt]);
    } finally {
      reportStorageFailuresTo(undefined);
    }
  });
});
