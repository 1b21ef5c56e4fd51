// The OpenAI-compatible API's pure parts: which message is the question and which are the
// history, and how the API's errors become OpenAI's error shape (status, type, code, headers).
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ApiError } from "../errors.server.ts";
import {
  chatCompletionRequestSchema,
  openAiErrorResponse,
  questionAndHistory,
} from "./chat.server.ts";

describe("questionAndHistory", () => {
  it("takes the last user message as the question and earlier turns as the history", () => {
    const { question, history } = questionAndHistory([
      { role: "system", content: "Be brief." },
      { role: "user", content: "How often is the X2 descaled?" },
      { role: "assistant", content: [{ type: "text", text: "Every 3 weeks [1]." }] },
      { role: "tool", content: "ignored" },
      {
        role: "user",
        content: [
          { type: "text", text: "And " },
          { type: "text", text: "the X3?" },
        ],
      },
    ]);
    expect(question).toBe("And the X3?");
    expect(history).toEqual([
      { role: "user", content: "How often is the X2 descaled?" },
      { role: "assistant", content: "Every 3 weeks [1]." },
    ]);
  });

  it("refuses a conversation that does not end with the user's question", () => {
    expect(() => questionAndHistory([{ role: "assistant", content: "Hi" }])).toThrow(ApiError);
  });

  it("accepts OpenAI's other parameters and ignores them", () => {
    const body = chatCompletionRequestSchema.parse({
      model: "tn_x",
      messages: [{ role: "user", content: "Hi" }],
      temperature: 0.2,
      max_tokens: 100,
      user: "someone",
    });
    expect(body.model).toBe("tn_x");
  });
});

describe("openAiErrorResponse", () => {
  it("keeps the status and headers, and names the type OpenAI clients expect", async () => {
    const res = await openAiErrorResponse(
      new ApiError("rate_limited", "Slow down. Try again in 3 s.", { "Retry-After": "3" }),
    );
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("3");
    expect(await res.json()).toEqual({
      error: {
        message: "Slow down. Try again in 3 s.",
        type: "rate_limit_error",
        code: "rate_limited",
        param: null,
      },
    });
  });

  it("turns a validation error into invalid_request_error and anything else into an opaque 500", async () => {
    const invalid = z.object({ model: z.string() }).safeParse({});
    const bad = await openAiErrorResponse(invalid.error);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { type: string } }).error.type).toBe(
      "invalid_request_error",
    );
    const boom = await openAiErrorResponse(new Error("secret detail"));
    expect(boom.status).toBe(500);
    const body = JSON.stringify(await boom.json());
    expect(body).toContain("api_error");
    expect(body).not.toContain("secret detail");
  });
});
