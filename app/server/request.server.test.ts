import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ApiError } from "./errors.server.ts";
import {
  readBodyBytes,
  readFormData,
  readJson,
  requireMediaType,
  wantsJson,
} from "./request.server.ts";

const schema = z.strictObject({ a: z.number() });
const post = (body: BodyInit | null, headers: Record<string, string> = {}) =>
  new Request("http://x/api", { method: "POST", body, headers, duplex: "half" } as RequestInit);

async function apiError(promise: Promise<unknown>): Promise<ApiError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error("expected an ApiError");
}

describe("request bodies", () => {
  it("reads a JSON body within the limit", async () => {
    await expect(
      readJson(post('{"a":1}', { "content-type": "application/json; charset=utf-8" }), schema),
    ).resolves.toEqual({ a: 1 });
  });

  it("refuses other content types with 415", async () => {
    const error = await apiError(readJson(post("a=1", { "content-type": "text/plain" }), schema));
    expect(error.status).toBe(415);
    expect(() => requireMediaType(post(new Uint8Array([1])), "application/json")).toThrow(
      /no content type/,
    );
  });

  it("refuses bodies over the limit with 413, declared or streamed", async () => {
    const big = JSON.stringify({ a: 1, pad: "x".repeat(200) });
    const declared = await apiError(
      readJson(
        post(big, { "content-type": "application/json", "content-length": "5000" }),
        schema,
        100,
      ),
    );
    expect(declared.status).toBe(413);
    const stream = new ReadableStream({
      start(c) {
        for (let i = 0; i < 10; i++) c.enqueue(new TextEncoder().encode("x".repeat(50)));
        c.close();
      },
    });
    const streamed = await apiError(readBodyBytes(post(stream), 100));
    expect(streamed.status).toBe(413);
  });

  it("refuses malformed JSON with 400 and unknown fields with a validation error", async () => {
    const bad = await apiError(readJson(post("{", { "content-type": "application/json" }), schema));
    expect(bad.status).toBe(400);
    await expect(
      readJson(post('{"a":1,"b":2}', { "content-type": "application/json" }), schema),
    ).rejects.toBeInstanceOf(z.ZodError);
  });

  it("reads an empty body as empty", async () => {
    expect((await readBodyBytes(post(null), 10)).byteLength).toBe(0);
  });

  it("reads form data with a size cap", async () => {
    const form = new FormData();
    form.set("name", "Acme");
    const request = new Request("http://x/", { method: "POST", body: form });
    expect((await readFormData(request, 10_000)).get("name")).toBe("Acme");
    const broken = post("garbage", { "content-type": "multipart/form-data; boundary=zzz" });
    expect((await apiError(readFormData(broken, 10_000))).status).toBe(400);
  });

  it("chooses JSON only when asked for it", () => {
    expect(wantsJson(post(null, { accept: "application/json" }))).toBe(true);
    expect(wantsJson(post(null, { accept: "text/event-stream" }))).toBe(false);
    expect(wantsJson(post(null))).toBe(false);
  });
});
