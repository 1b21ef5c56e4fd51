import { describe, expect, it } from "vitest";
import {
  ACTION_NAMES,
  ACTIONS,
  actionJsonSchema,
  actionToolSpecs,
  isActionName,
  parseActionCall,
} from "./registry.server.ts";

describe("the action registry", () => {
  it("has the eight actions of issue 11, side effects marked", () => {
    expect(ACTION_NAMES).toEqual([
      "search_knowledge_base",
      "book_appointment",
      "qualify_lead",
      "order_tracking",
      "returns_and_refunds",
      "add_to_cart",
      "subscription_and_replenishment",
      "handoff_to_human",
    ]);
    const changing = ACTION_NAMES.filter((name) => ACTIONS[name].sideEffect);
    expect(changing).toEqual([
      "book_appointment",
      "qualify_lead",
      "add_to_cart",
      "subscription_and_replenishment",
      "handoff_to_human",
    ]);
    for (const name of ACTION_NAMES) expect(ACTIONS[name].examples.length).toBeGreaterThan(0);
    expect(isActionName("book_appointment")).toBe(true);
    expect(isActionName("toString")).toBe(false);
  });

  it("exports each input as a strict JSON Schema object, and none asks for contact details", () => {
    for (const name of ACTION_NAMES) {
      const schema = actionJsonSchema(name);
      expect(schema, name).toMatchObject({ type: "object", additionalProperties: false });
      expect(schema).not.toHaveProperty("$schema");
      const properties = Object.keys(schema.properties as object);
      expect(
        properties.some((p) => /mail|phone|name$/.test(p)),
        name,
      ).toBe(false);
    }
    expect(actionJsonSchema("book_appointment")).toMatchObject({
      required: ["date"],
      properties: {
        date: { type: "string", format: "date" },
        time: { pattern: "^([01]\\d|2[0-3]):[0-5]\\d$" },
        party_size: { type: "integer", minimum: 1, maximum: 50 },
      },
    });
    // Defaults are optional inputs for the model.
    expect(actionJsonSchema("handoff_to_human").required).toEqual(["reason"]);
  });

  it("offers search always and other actions only when switched on", () => {
    expect(actionToolSpecs([]).map((t) => t.name)).toEqual(["search_knowledge_base"]);
    const specs = actionToolSpecs(["handoff_to_human", "order_tracking"]);
    expect(specs.map((t) => t.name)).toEqual([
      "search_knowledge_base",
      "order_tracking",
      "handoff_to_human",
    ]);
    expect(specs[2]?.description).toMatch(/person/);
    expect(specs[2]?.parameters).toEqual(actionJsonSchema("handoff_to_human"));
  });

  it("validates a call before anything runs, with errors written for the model", () => {
    expect(
      parseActionCall("order_tracking", '{"order_number":"A-10452"}', ["order_tracking"]),
    ).toEqual({
      ok: true,
      name: "order_tracking",
      args: { order_number: "A-10452" },
      sideEffect: false,
    });
    expect(parseActionCall("handoff_to_human", '{"reason":"angry"}', ["handoff_to_human"])).toEqual(
      {
        ok: true,
        name: "handoff_to_human",
        args: { reason: "angry", urgency: "normal" },
        sideEffect: true,
      },
    );
    expect(parseActionCall("search_knowledge_base", "", [])).toEqual({
      ok: false,
      error:
        "Invalid arguments for search_knowledge_base: query: Invalid input: expected string, received undefined",
    });
    expect(parseActionCall("order_tracking", '{"order_number":"x"}', [])).toEqual({
      ok: false,
      error: 'There is no action named "order_tracking".',
    });
    expect(parseActionCall("rm_rf", "{}", ["order_tracking"]).ok).toBe(false);
    expect(parseActionCall("order_tracking", "{order", ["order_tracking"])).toEqual({
      ok: false,
      error: "The arguments of order_tracking are not valid JSON.",
    });
    const booking = parseActionCall(
      "book_appointment",
      '{"date":"2026-02-30","time":"25:00","email":"a@b.c"}',
      ["book_appointment"],
    );
    expect(booking.ok).toBe(false);
    if (!booking.ok) {
      expect(booking.error).toMatch(/date: Use a date like 2026-12-24\./);
      expect(booking.error).toMatch(/time: Use a time like 14:30\./);
      expect(booking.error).toMatch(/Unrecognized key: "email"/);
    }
  });
});
