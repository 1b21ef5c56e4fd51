import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger, DELIVERS_SETUP_LINK, redactSecretValues } from "./logger.server.ts";

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const logger = createLogger({ level: "info", pretty: false, destination });
  return { logger, text: () => lines.join("") };
}

const GROQ = "gsk_test1234567890abcdefABCDEF";
const OPENAI = "sk-proj-abcdefghijklmnop1234";
const OURS = "bitb_sk_live_AbC123-xyz_987";

describe("the logger", () => {
  it("redacts secrets by key, at any depth up to three levels", () => {
    const { logger, text } = capture();
    logger.info(
      {
        password: "hunter2 hunter2",
        apiKey: "k-1",
        user: { password: "p-2", token: "t-3" },
        req: { headers: { authorization: "Bearer abcdefgh", cookie: "c=1" } },
        config: { llm: { apiKey: "k-4" } },
        headers: { "set-cookie": "__bitb_admin=zzz" },
      },
      "event",
    );
    const out = text();
    for (const secret of ["hunter2", "k-1", "p-2", "t-3", "abcdefgh", "c=1", "k-4", "zzz"]) {
      expect(out).not.toContain(secret);
    }
    expect(out).toContain("[redacted]");
  });

  it("redacts secret values inside messages, errors and URLs", () => {
    const { logger, text } = capture();
    logger.error(
      {
        err: new Error(`401 from Groq with key ${GROQ}`),
        url: `https://x.test/a?token=s3cr3t&x=1`,
      },
      `calling with ${OPENAI} and ${OURS}; Authorization: Bearer eyJhbGciOi.payload.sig`,
    );
    logger.warn("cookie __bitb_admin=s%3Aabc.def; other=1 and basic Basic dXNlcjpwYXNz");
    const out = text();
    for (const secret of [GROQ, OPENAI, OURS, "s3cr3t", "eyJhbGciOi", "s%3Aabc", "dXNlcjpwYXNz"]) {
      expect(out).not.toContain(secret);
    }
    expect(out).toContain("x=1");
  });

  it("keeps the setup link's token in the one line that delivers it", () => {
    const { logger, text } = capture();
    logger.warn({ [DELIVERS_SETUP_LINK]: true }, "open http://h/setup?token=abc123XYZ");
    logger.info("GET http://h/setup?token=abc123XYZ");
    expect(text().split("abc123XYZ").length - 1).toBe(1);
  });

  it("leaves ordinary text alone", () => {
    const line = '{"msg":"task-list updated, risk-free, ask about skiing"}';
    expect(redactSecretValues(line)).toBe(line);
  });
});
