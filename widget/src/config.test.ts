import { describe, expect, it } from "vitest";
import {
  DEFAULT_COLOR,
  isSafeColor,
  readConfig,
  textColorOn,
  WidgetConfigError,
} from "./config.ts";

const page = "https://customer.example/pricing";

describe("readConfig", () => {
  it("derives the API origin from the script's own URL, not the host page", () => {
    const config = readConfig(
      { src: "https://bitb.fly.dev/widget.js?v=2", tenant: " tn_abc ", key: " pk_abc " },
      page,
    );
    expect(config).toEqual({
      tenantId: "tn_abc",
      key: "pk_abc",
      origin: "https://bitb.fly.dev",
      title: "Chat",
      greeting: "Hi! Ask me a question and I'll answer from our documentation.",
      position: "bottom-right",
      color: DEFAULT_COLOR,
      colorText: "#ffffff",
      starterQuestions: [],
      voiceGreeting: false,
      language: "en",
    });
  });

  it("takes the tenant's settings, with the script's attributes winning", () => {
    const server = {
      title: "Help",
      greeting: "Bonjour !",
      color: "#ffd400",
      position: "top-left",
      starterQuestions: ["Prix ?", "", 3 as unknown as string],
      voiceGreeting: true,
      language: "fr",
    };
    const config = readConfig(
      {
        src: "https://bitb.example/widget.js",
        tenant: "trial",
        key: "pk_test",
        title: "Ask Acme",
        color: "bad;",
      },
      page,
      server,
      "de-DE",
    );
    expect(config).toMatchObject({
      title: "Ask Acme",
      greeting: "Bonjour !",
      color: "#ffd400",
      colorText: "#111827",
      position: "top-left",
      starterQuestions: ["Prix ?"],
      voiceGreeting: true,
      language: "fr",
    });
    const attributes = {
      src: "/w.js",
      tenant: "t",
      key: "pk_test",
      position: "top-right",
      language: "es",
    };
    expect(readConfig(attributes, page, { position: "nowhere" })).toMatchObject({
      position: "top-right",
      language: "es",
    });
    expect(
      readConfig(
        { src: "/w.js", tenant: "t", key: "pk_test" },
        page,
        { position: "nowhere" },
        "de-AT",
      ),
    ).toMatchObject({ position: "bottom-right", language: "de" });
  });

  it("resolves a relative src against the page", () => {
    expect(readConfig({ src: "/widget.js", tenant: "trial", key: "pk_test" }, page).origin).toBe(
      "https://customer.example",
    );
  });

  it("reads the optional attributes", () => {
    const config = readConfig(
      {
        src: "https://bitb.example/widget.js",
        tenant: "trial",
        key: "pk_test",
        title: " Ask Acme ",
        greeting: "Hello!",
        position: "bottom-left",
        color: "#ffd400",
      },
      page,
    );
    expect(config).toMatchObject({
      title: "Ask Acme",
      greeting: "Hello!",
      position: "bottom-left",
      color: "#ffd400",
      colorText: "#111827",
    });
  });

  it("falls back on unknown positions and unsafe colours", () => {
    const config = readConfig(
      {
        src: "https://bitb.example/widget.js",
        tenant: "trial",
        key: "pk_test",
        position: "top-center",
        color: "red;}body{display:none",
        title: "  ",
      },
      page,
    );
    expect(config.position).toBe("bottom-right");
    expect(config.color).toBe(DEFAULT_COLOR);
    expect(config.title).toBe("Chat");
  });

  it("requires a tenant and a src", () => {
    expect(() => readConfig({ src: "https://x.example/widget.js", tenant: null }, page)).toThrow(
      WidgetConfigError,
    );
    expect(() => readConfig({ src: "https://x.example/widget.js", tenant: "  " }, page)).toThrow(
      /data-tenant/,
    );
    expect(() => readConfig({ src: null, tenant: "trial", key: "pk_test" }, page)).toThrow(/src/);
  });
});

describe("isSafeColor", () => {
  it.each([
    "#fff",
    "#ffff",
    "#2546d8",
    "#2546d880",
    "rgb(10, 20, 30)",
    "hsl(200 50% 40% / .5)",
    "teal",
  ])("accepts %s", (color) => expect(isSafeColor(color)).toBe(true));
  it.each([
    null,
    undefined,
    "",
    "#12",
    "url(https://evil.example/x.png)",
    "red;color:blue",
    "rgb(1,2,3);}",
    "var(--x)",
    "expression(alert(1))",
  ])("rejects %s", (color) => expect(isSafeColor(color)).toBe(false));
});

describe("textColorOn", () => {
  it("picks white on dark accents and near-black on light ones", () => {
    expect(textColorOn("#000")).toBe("#ffffff");
    expect(textColorOn("#2546d8")).toBe("#ffffff");
    expect(textColorOn("#ffffff")).toBe("#111827");
    expect(textColorOn("#ffd400cc")).toBe("#111827");
  });

  it("uses white for colours it cannot measure", () => {
    expect(textColorOn("rebeccapurple")).toBe("#ffffff");
  });
});
