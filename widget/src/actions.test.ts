// The action UI against linkedom's DOM and a local fake of the actions API: what the card
// and its form show, that nothing leaves without the visitor's confirmation and consent,
// and how each answer of the confirm endpoint is shown. Real focus and contrast are checked
// in Chromium by tests/e2e/actions.test.ts.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { click, createWindow, type TestWindow } from "../test/dom.ts";
import { type FakeActionsServer, startFakeActionsServer } from "../test/fake-actions-server.ts";
import { mountAction } from "./actions.ts";
import type { ActionEvent, ActionUiContext } from "./actions-loader.ts";

let server: FakeActionsServer;
beforeAll(async () => {
  server = await startFakeActionsServer();
});
afterAll(() => server.close());

const booking = (overrides: Partial<ActionEvent> = {}): ActionEvent => ({
  offerId: "of_1",
  name: "book_appointment",
  title: "Book an appointment",
  description: "Pick a free time and we will keep it for you.",
  fields: [
    { name: "date", label: "Day", type: "date", required: true },
    { name: "time", label: "Time", type: "time", required: true },
    { name: "party_size", label: "People", type: "number", required: false, value: 2 },
  ],
  contact: true,
  source: "match",
  expiresAt: Date.now() + 600_000,
  ...overrides,
});

function setup(offer: ActionEvent, outcome: string | null = null) {
  const win = createWindow();
  const container = win.document.createElement("div");
  win.document.body.append(container);
  const onDone = vi.fn();
  const sessionToken = vi.fn(async () => "tok_1" as string | null);
  const context: ActionUiContext = {
    origin: server.origin,
    tenantId: "trial",
    key: "pk_test",
    sessionToken,
    language: "en",
    business: "lumen.example",
  };
  // linkedom keeps no focus: remember what was focused last.
  let focused: Element | null = null;
  const htmlElement = Object.getPrototypeOf(
    Object.getPrototypeOf(win.document.createElement("div")),
  ) as HTMLElement;
  vi.spyOn(htmlElement, "focus").mockImplementation(function focus(this: HTMLElement) {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the element being focused
    focused = this;
  });
  mountAction(context, { container, offer, outcome, focus: true, onDone });
  const $ = <T extends Element = HTMLElement>(selector: string) =>
    container.querySelector<T>(selector)!;
  const field = <T extends Element = HTMLInputElement>(label: string) => {
    const found = [...container.querySelectorAll("label")].find((l) =>
      l.textContent?.startsWith(label),
    );
    if (!found) throw new Error(`no label ${label}`);
    return container.querySelector<T>(`#${found.getAttribute("for")}`)!;
  };
  return { win, container, onDone, sessionToken, $, field, focused: () => focused };
}

function type(win: TestWindow, input: HTMLInputElement | HTMLSelectElement, value: string) {
  // linkedom's <select> has no value setter: select the option instead.
  if (input.tagName === "SELECT") {
    input.querySelector<HTMLOptionElement>(`option[value="${value}"]`)!.selected = true;
  } else {
    input.value = value;
  }
  input.dispatchEvent(new win.Event("change", { bubbles: true }));
}

function submit(win: TestWindow, form: HTMLFormElement) {
  form.dispatchEvent(new win.Event("submit", { bubbles: true, cancelable: true }));
}

/** Fills a valid booking: a day, a time, a name, an e-mail and the consent box. */
async function fillBooking(ui: ReturnType<typeof setup>) {
  type(ui.win, ui.field("Day"), "2026-12-04");
  await vi.waitFor(() => expect(ui.field("Time").tagName).toBe("SELECT"));
  type(ui.win, ui.field<HTMLSelectElement>("Time"), "10:00");
  type(ui.win, ui.field("Your name"), "Ada Lovelace");
  type(ui.win, ui.field("E-mail"), "ada@example.com");
  ui.$<HTMLInputElement>('input[type="checkbox"]').checked = true;
}

describe("an offered action", () => {
  it("shows a card whose button opens the form (an offer the default matched)", () => {
    const ui = setup(booking());
    expect(ui.$(".act-title").textContent).toBe("Book an appointment");
    expect(ui.$(".act-desc").textContent).toMatch(/Pick a free time/);
    const form = ui.$<HTMLFormElement>("form");
    expect(form.hidden).toBe(true);
    const open = ui.$(".act-open");
    expect(open.textContent).toBe("Fill in the form");
    expect(open.getAttribute("aria-expanded")).toBe("false");
    click(ui.win, open);
    expect(form.hidden).toBe(false);
    expect(open.hidden).toBe(true);
    expect(ui.focused()).toBe(ui.field("Day"));
  });

  it("shows the form at once when the model proposed it, every field with a real label", () => {
    const ui = setup(booking({ source: "tool" }));
    expect(ui.$<HTMLFormElement>("form").hidden).toBe(false);
    expect(ui.focused()).toBe(ui.field("Day"));
    expect(ui.field("Day").type).toBe("date");
    expect(ui.field("Day").required).toBe(true);
    expect(ui.field("People").value).toBe("2");
    expect(ui.$('label[for$="-party_size"]').textContent).toBe("People (optional)");
    expect(ui.field("E-mail").type).toBe("email");
    expect(ui.field("Phone").type).toBe("tel");
    expect(ui.field("Your name").getAttribute("autocomplete")).toBe("name");
    expect(ui.field("I agree that lumen.example contacts me about this request").type).toBe(
      "checkbox",
    );
  });

  it("asks for no contact details when the action needs none", () => {
    const ui = setup(
      booking({
        name: "order_tracking",
        contact: false,
        fields: [{ name: "order_number", label: "Order number", type: "text", required: true }],
      }),
    );
    expect(ui.container.querySelectorAll("input").length).toBe(1);
    expect(ui.container.querySelector('input[type="checkbox"]')).toBeNull();
  });

  it("lists the day's free times whenever the day changes", async () => {
    server.slots.set("2026-12-04", ["09:00", "10:00"]);
    server.slots.set("2026-12-05", []);
    const ui = setup(booking());
    type(ui.win, ui.field("Day"), "2026-12-04");
    await vi.waitFor(() => expect(ui.field("Time").tagName).toBe("SELECT"));
    const options = [...ui.field<HTMLSelectElement>("Time").querySelectorAll("option")];
    expect(options.map((o) => o.textContent)).toEqual(["Choose…", "09:00", "10:00"]);
    expect(server.slotQueries.at(-1)).toMatchObject({ tenantId: "trial", date: "2026-12-04" });

    type(ui.win, ui.field("Day"), "2026-12-05");
    await vi.waitFor(() =>
      expect(ui.$(".act-ferr:not([hidden])").textContent).toBe(
        "No free times on this day. Choose another day.",
      ),
    );
    expect(ui.field("Time").getAttribute("aria-invalid")).toBe("true");
  });

  it("sends nothing without the required fields and the visitor's consent", async () => {
    const ui = setup(booking({ source: "tool" }));
    const before = server.confirms.length;
    submit(ui.win, ui.$("form"));
    expect(ui.field("Day").getAttribute("aria-invalid")).toBe("true");
    const dayError = ui.container.querySelector(
      `#${ui.field("Day").getAttribute("aria-describedby")}`,
    );
    expect(dayError?.textContent).toBe("Fill this in.");
    expect(ui.focused()).toBe(ui.field("Day"));

    await fillBooking(ui);
    ui.$<HTMLInputElement>('input[type="checkbox"]').checked = false;
    submit(ui.win, ui.$("form"));
    const consent = ui.$<HTMLInputElement>('input[type="checkbox"]');
    expect(consent.getAttribute("aria-invalid")).toBe("true");
    expect(ui.container.textContent).toContain(
      "Tick this box to let lumen.example contact you, or cancel.",
    );
    // Ticking the box takes its error away.
    consent.checked = true;
    consent.dispatchEvent(new ui.win.Event("change", { bubbles: true }));
    expect(consent.hasAttribute("aria-invalid")).toBe(false);
    // A name alone is not enough to be reached.
    type(ui.win, ui.field("E-mail"), "");
    submit(ui.win, ui.$("form"));
    expect(ui.container.textContent).toContain("Give an e-mail address or a phone number.");
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server.confirms.length).toBe(before);
  });

  it("confirms, then shows the server's message in a live region and keeps it", async () => {
    server.slots.set("2026-12-04", ["10:00"]);
    server.confirmAnswers = [
      [200, { status: "done", message: "Booked for Fri 4 Dec at 10:00. Reference A1B2C3." }],
    ];
    const ui = setup(booking());
    click(ui.win, ui.$(".act-open"));
    await fillBooking(ui);
    submit(ui.win, ui.$("form"));
    await vi.waitFor(() => expect(ui.onDone).toHaveBeenCalled());
    const text = "Booked for Fri 4 Dec at 10:00. Reference A1B2C3.";
    expect(ui.onDone).toHaveBeenCalledWith(text);
    expect(server.confirms.at(-1)).toEqual({
      tenantId: "trial",
      key: "pk_test",
      sessionToken: "tok_1",
      offerId: "of_1",
      args: { date: "2026-12-04", time: "10:00", party_size: 2 },
      contact: { name: "Ada Lovelace", email: "ada@example.com" },
      consent: true,
    });
    const result = ui.$(".act-result");
    expect(result.textContent).toBe(text);
    expect(result.getAttribute("role")).toBe("status");
    expect(ui.focused()).toBe(result);
    expect(ui.container.querySelector("form")).toBeNull();

    // Rendered again (after a reload): the outcome, no form.
    const again = setup(booking(), text);
    expect(again.$(".act-result").textContent).toBe(text);
    expect(again.container.querySelector("form")).toBeNull();
  });

  it("shows the server's field errors next to their fields", async () => {
    server.slots.set("2026-12-04", ["10:00"]);
    server.confirmAnswers = [
      [
        400,
        {
          error: {
            code: "invalid_request",
            message: "Check the form.",
            fields: { party_size: "At most 50 people.", "contact.email": "Not deliverable." },
          },
        },
      ],
    ];
    const ui = setup(booking({ source: "tool" }));
    await fillBooking(ui);
    submit(ui.win, ui.$("form"));
    await vi.waitFor(() => expect(ui.field("People").getAttribute("aria-invalid")).toBe("true"));
    expect(ui.container.textContent).toContain("At most 50 people.");
    expect(ui.field("E-mail").getAttribute("aria-invalid")).toBe("true");
    expect(ui.focused()).toBe(ui.field("People"));
    expect(ui.onDone).not.toHaveBeenCalled();
  });

  it("offers the remaining times when the chosen one was just taken", async () => {
    server.slots.set("2026-12-04", ["10:00", "11:00"]);
    server.confirmAnswers = [
      [409, { error: { code: "slot_taken", message: "That slot is no longer free." } }],
    ];
    const ui = setup(booking({ source: "tool" }));
    await fillBooking(ui);
    server.slots.set("2026-12-04", ["11:00"]);
    submit(ui.win, ui.$("form"));
    await vi.waitFor(() =>
      expect(
        [...ui.field<HTMLSelectElement>("Time").querySelectorAll("option")].map((o) => o.value),
      ).toEqual(["", "11:00"]),
    );
    expect(ui.container.textContent).toContain("That time was just taken. Choose another one.");
    expect(ui.focused()).toBe(ui.field("Time"));
  });

  it("says when the offer expired, and when the tenant's system failed", async () => {
    server.confirmAnswers = [
      [410, { error: { code: "offer_expired", message: "Gone." } }],
      [
        502,
        {
          error: {
            code: "action_failed",
            message: "Our booking system is not answering. Please call us.",
          },
        },
      ],
    ];
    const noContact = booking({
      name: "order_tracking",
      contact: false,
      source: "tool",
      fields: [{ name: "order_number", label: "Order number", type: "text", required: true }],
    });
    const expired = setup(noContact);
    type(expired.win, expired.field("Order number"), "10452");
    submit(expired.win, expired.$("form"));
    await vi.waitFor(() =>
      expect(expired.$(".act-result").textContent).toBe(
        "This offer has expired. Ask again to start over.",
      ),
    );
    expect(expired.container.querySelector("form")).toBeNull();

    const failed = setup(noContact);
    type(failed.win, failed.field("Order number"), "10452");
    submit(failed.win, failed.$("form"));
    await vi.waitFor(() =>
      expect(failed.$(".act-error").textContent).toBe(
        "Our booking system is not answering. Please call us.",
      ),
    );
    expect(failed.$(".act-error").getAttribute("role")).toBe("alert");
    // The form stays, to try again.
    expect(failed.$<HTMLFormElement>("form").hidden).toBe(false);

    // An offer whose time ran out before it was shown has no form at all.
    const late = setup(booking({ expiresAt: Date.now() - 1 }));
    expect(late.container.querySelector("form")).toBeNull();
    expect(late.$(".act-result").textContent).toMatch(/expired/);
  });

  it("cancels back to the card's button", () => {
    const ui = setup(booking({ source: "tool" }));
    click(
      ui.win,
      [...ui.container.querySelectorAll("button")].find((b) => b.textContent === "Cancel")!,
    );
    expect(ui.$<HTMLFormElement>("form").hidden).toBe(true);
    const open = ui.$(".act-open");
    expect(open.hidden).toBe(false);
    expect(ui.focused()).toBe(open);
  });
});
