import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeAskServer, startFakeAskServer } from "../test/fake-ask-server.ts";
import { sendFeedback } from "./feedback.ts";

let server: FakeAskServer;
beforeAll(async () => {
  server = await startFakeAskServer(() => {});
});
afterAll(() => server.close());

describe("sendFeedback", () => {
  const request = () => ({
    origin: server.origin,
    tenantId: "trial",
    key: "pk_test",
    sessionToken: "tok_1",
    messageId: 7,
    rating: "down" as const,
  });

  it("posts the rating and reports whether it was stored", async () => {
    expect(await sendFeedback(request())).toBe(true);
    expect(server.feedback.at(-1)).toEqual({
      tenant_id: "trial",
      key: "pk_test",
      session_token: "tok_1",
      message_id: 7,
      rating: "down",
    });
    server.feedbackStatus = 404;
    expect(await sendFeedback(request())).toBe(false);
    server.feedbackStatus = 204;
    expect(await sendFeedback({ ...request(), origin: "http://127.0.0.1:1" })).toBe(false);
  });
});
