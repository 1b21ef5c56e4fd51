import { describe, expect, it } from "vitest";
import { withJsonApiFallback } from "./api-fallback.server.ts";

const html = (status: number, headers: Record<string, string> = {}) =>
  new Response("<!doctype html><h1>Not Found</h1>", {
    status,
    headers: { "content-type": "text/html; charset=utf-8", ...headers },
  });
const get = (path: string, method = "GET") => new Request(`http://localhost${path}`, { method });

describe("withJsonApiFallback", () => {
  it("turns an HTML 404 under /api/ into the one error shape", async () => {
    const res = await withJsonApiFallback(get("/api/nope"), html(404));
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(await res.json()).toEqual({
      error: { code: "not_found", message: "No such endpoint: /api/nope." },
    });
  });

  it("turns a 405 into method_not_allowed and keeps Allow", async () => {
    const res = await withJsonApiFallback(
      get("/api/feedback", "PUT"),
      html(405, { allow: "POST" }),
    );
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("POST");
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe(
      "method_not_allowed",
    );
  });

  it("answers OpenAI's error shape under /v1/", async () => {
    const res = await withJsonApiFallback(get("/v1/embeddings", "POST"), html(404));
    expect(await res.json()).toEqual({
      error: {
        message: "No such endpoint: /v1/embeddings.",
        type: "invalid_request_error",
        code: "not_found",
      },
    });
  });

  it("replaces React Router's own JSON 405 of a resource route without that method", async () => {
    const routerOwn = Response.json({ message: "Unexpected Server Error" }, { status: 405 });
    const res = await withJsonApiFallback(get("/api/openapi.json", "POST"), routerOwn);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe(
      "method_not_allowed",
    );
  });

  it("keeps a route's own JSON 404 and every page outside the API", async () => {
    const own = Response.json(
      { error: { code: "not_found", message: "No such tenant." } },
      {
        status: 404,
      },
    );
    expect(await withJsonApiFallback(get("/api/tenants/x"), own)).toBe(own);
    const page = html(404);
    expect(await withJsonApiFallback(get("/admin/nope"), page)).toBe(page);
    const ok = new Response("ok");
    expect(await withJsonApiFallback(get("/api/nope"), ok)).toBe(ok);
  });
});
