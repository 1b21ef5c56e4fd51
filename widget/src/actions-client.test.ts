import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeActionsServer, startFakeActionsServer } from "../test/fake-actions-server.ts";
import { confirmAction, fetchSlots } from "./actions-client.ts";

let server: FakeActionsServer;
beforeAll(async () => {
  server = await startFakeActionsServer();
});
afterAll(() => server.close());

const auth = () => ({
  origin: server.origin,
  tenantId: "trial",
  key: "pk_test",
  sessionToken: "tok_1",
});

describe("confirmAction", () => {
  it("sends the offer, the arguments, the contact and consent with the visitor's credentials", async () => {
    server.confirmAnswers = [
      [200, { status: "done", message: "Booked for Fri 4 Dec at 10:00.", reference: "A1B2C3" }],
    ];
    const result = await confirmAction(auth(), {
      offerId: "of_1",
      args: { date: "2026-12-04", time: "10:00", party_size: 2 },
      contact: { name: "Ada", email: "ada@example.com" },
      consent: true,
    });
    expect(result).toEqual({
      ok: true,
      message: "Booked for Fri 4 Dec at 10:00.",
      reference: "A1B2C3",
    });
    expect(server.confirms.at(-1)).toEqual({
      tenantId: "trial",
      key: "pk_test",
      sessionToken: "tok_1",
      offerId: "of_1",
      args: { date: "2026-12-04", time: "10:00", party_size: 2 },
      contact: { name: "Ada", email: "ada@example.com" },
      consent: true,
    });
  });

  it("reports the server's error code, message and field errors", async () => {
    server.confirmAnswers = [
      [
        400,
        {
          error: {
            code: "invalid_request",
            message: "Check the form.",
            fields: { date: "Use a date like 2026-12-24.", bad: 3 },
          },
        },
      ],
    ];
    expect(await confirmAction(auth(), { offerId: "of_1", args: {}, consent: false })).toEqual({
      ok: false,
      code: "invalid_request",
      message: "Check the form.",
      fields: { date: "Use a date like 2026-12-24." },
    });
    server.confirmAnswers = [[502, "not json"]];
    expect(await confirmAction(auth(), { offerId: "of_1", args: {}, consent: false })).toEqual({
      ok: false,
      code: "http_502",
      message: "",
      fields: {},
    });
  });

  it("reports an unreachable server as network_error", async () => {
    const result = await confirmAction(
      { ...auth(), origin: "http://127.0.0.1:1" },
      { offerId: "of_1", args: {}, consent: false },
    );
    expect(result).toMatchObject({ ok: false, code: "network_error" });
  });
});

describe("fetchSlots", () => {
  it("lists a day's free times, asking with the visitor's credentials", async () => {
    server.slots.set("2026-12-04", ["09:00", "09:30"]);
    expect(await fetchSlots(auth(), "2026-12-04")).toEqual(["09:00", "09:30"]);
    expect(server.slotQueries.at(-1)).toEqual({
      tenantId: "trial",
      date: "2026-12-04",
      key: "pk_test",
      sessionToken: "tok_1",
    });
    expect(await fetchSlots(auth(), "2026-12-05")).toEqual([]);
  });

  it("is null when the times cannot be read", async () => {
    expect(await fetchSlots({ ...auth(), origin: "http://127.0.0.1:1" }, "2026-12-04")).toBeNull();
    const refusing = (async () =>
      new Response('{"error":{"code":"forbidden","message":"No."}}', {
        status: 403,
      })) as typeof fetch;
    expect(await fetchSlots(auth(), "2026-12-04", refusing)).toBeNull();
  });
});
