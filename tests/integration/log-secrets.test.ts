// No secret the server is given or handles ends up in its logs. The built server runs with a
// Groq key (against a local fake Groq that, at one point, echoes the key in its error
// messages, as real providers do), goes through setup, failed and successful sign-ins,
// tenant and knowledge changes, answered and failed questions, a URL carrying a token, and
// requests with bearer keys; then every line it wrote (stdout and stderr) is searched.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitForJobs } from "../support/admin.ts";
import { makeSecretKey } from "../support/keys.ts";
import { startFakeLlm, type FakeLlm } from "../support/fake-llm.ts";
import {
  Client,
  setupTokenFromLogs,
  startServer,
  waitFor,
  type TestServer,
} from "../support/server.ts";

const GROQ_KEY = "gsk_LogSecretTest0123456789abcdefGHIJKLMNOPQRSTUV";
/** A well-formed key of ours that does not exist (refused with 401, still never logged). */
const FAKE_KEY = "bitb_sk_live_0123456789abcdefLogTest";
const OPENAI_KEY = "sk-proj-LogSecretTestabcdef0123456789";
const PASSWORD = "a very secret admin passphrase";
const WRONG_PASSWORD = "wrong-but-still-secret-guess";
const URL_TOKEN = "urlTokenSecret0123456789";
const EMAIL = "owner@log-secrets.example";

let llm: FakeLlm;
let server: TestServer;
let setupToken = "";
/** A real secret key of the tenant, made through the admin API. */
let ourKey = "";
const sessionValues: string[] = [];

function cookieValue(client: Client): string {
  return client.cookie.slice(client.cookie.indexOf("=") + 1);
}

beforeAll(async () => {
  llm = await startFakeLlm({ reply: "The ferry leaves every 40 minutes [1]." });
  server = await startServer({
    env: { GROQ_API_KEY: GROQ_KEY, GROQ_BASE_URL: llm.url, LOG_LEVEL: "debug" },
  });
});
afterAll(async () => {
  await server?.stop();
  await llm?.close();
});

describe("secrets in the logs", () => {
  it("go through every flow that handles a secret", async () => {
    setupToken = setupTokenFromLogs(server.logs());
    const admin = new Client(server.url);
    expect((await admin.fetch(`/setup?token=${setupToken}`)).status).toBe(200);
    const setup = await admin.fetch("/setup", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        token: setupToken,
        email: EMAIL,
        password: PASSWORD,
        confirm: PASSWORD,
      }),
    });
    expect(setup.status).toBe(302);
    sessionValues.push(cookieValue(admin));

    const guesser = new Client(server.url);
    for (let i = 0; i < 6; i++) {
      await guesser.fetch("/login", {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ email: `nobody${i}@example.com`, password: WRONG_PASSWORD }),
      });
    }
    const signedIn = new Client(server.url);
    const login = await signedIn.fetch("/login", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ email: EMAIL, password: PASSWORD }),
    });
    expect(login.status).toBe(302);
    sessionValues.push(cookieValue(signedIn));

    const created = await signedIn.json("/api/tenants", { name: "Log secrets" });
    expect(created.status).toBe(201);
    const tenantId = ((await created.json()) as { tenant: { id: string } }).tenant.id;
    ourKey = await makeSecretKey(signedIn, tenantId);
    const text = await signedIn.json(`/api/tenants/${tenantId}/documents`, {
      type: "text",
      title: "Ferry",
      text: "The harbour ferry to Kestrel Island leaves every 40 minutes.",
    });
    const jobId = ((await text.json()) as { jobs: { id: number }[] }).jobs[0]!.id;
    await waitForJobs(signedIn, tenantId, [jobId]);
    // A page whose URL carries a token: the fetch fails (nothing listens there) and is logged.
    const page = await signedIn.json(`/api/tenants/${tenantId}/documents`, {
      type: "url",
      url: `http://127.0.0.1:9/private?token=${URL_TOKEN}&key=${URL_TOKEN}`,
    });
    expect(page.status).toBe(202);
    const pageJob = ((await page.json()) as { jobs: { id: number }[] }).jobs[0]!.id;
    await waitForJobs(signedIn, tenantId, [pageJob]);

    const ask = (query: string, key = ourKey) =>
      fetch(`${server.url}/api/ask`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json",
          authorization: `Bearer ${key}`,
          "x-api-key": OPENAI_KEY,
        },
        body: JSON.stringify({ tenant_id: tenantId, query }),
      });
    expect((await ask("How often does the ferry leave?")).status).toBe(200);
    expect((await ask("How often does the ferry leave?", FAKE_KEY)).status).toBe(401);
    // The provider refuses the key and quotes it back, as hosted APIs do.
    llm.setBehaviour({
      failStatus: 401,
      errorMessage: `Invalid API Key: ${GROQ_KEY}`,
    });
    expect((await ask("How often does the ferry leave, really?")).status).toBe(200);
    await waitFor(async () => (server.logs().includes("LLM answer degraded") ? true : undefined), {
      what: "the degraded answer's log line",
      timeoutMs: 10_000,
    });

    const bearer = await fetch(`${server.url}/api/tenants`, {
      headers: { authorization: `Bearer ${ourKey}`, cookie: `__bitb_admin=${sessionValues[1]}` },
    });
    expect(bearer.status).toBe(200);
    expect((await signedIn.fetch("/logout", { method: "POST" })).status).toBe(302);
    await server.stop();
  });

  it("finds none of them in anything the server wrote", () => {
    const logs = server.logs();
    // The flows did run and were logged.
    expect(logs).toContain("tenant created");
    expect(logs).toContain("LLM answer degraded");
    expect(logs).toContain("[redacted]");
    const secrets = {
      GROQ_KEY,
      OUR_KEY: ourKey,
      FAKE_KEY,
      OPENAI_KEY,
      PASSWORD,
      WRONG_PASSWORD,
      URL_TOKEN,
      ...Object.fromEntries(sessionValues.map((v, i) => [`session cookie ${i}`, v])),
    };
    for (const [name, secret] of Object.entries(secrets)) {
      expect(secret.length, name).toBeGreaterThan(8);
      expect(logs.includes(secret), `${name} appears in the logs`).toBe(false);
      // Nor URL-encoded (cookies and query strings).
      expect(logs.includes(encodeURIComponent(secret)), `${name} (encoded) in the logs`).toBe(
        false,
      );
    }
    // The setup token: only in the one line that exists to deliver it, written before use.
    const lines = logs.split("\n").filter((line) => line.includes(setupToken));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('"deliversSetupLink":true');
  });
});
