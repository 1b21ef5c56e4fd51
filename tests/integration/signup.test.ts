// The self-serve trial through the built server's HTTP surface: sign-up validation, a
// duplicate e-mail, the tenant on the trial plan with its budget and end (and an ended trial
// answering nobody), the steps saved and resumed after signing in again, the widget preview
// and test pages, the per-client sign-up limit, and a server with sign-up switched off.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signIn } from "../support/admin.ts";
import { createAdmin } from "../support/cli.ts";
import { bearer, makeSecretKey, widgetKeyOf } from "../support/keys.ts";
import { Client, startServer, tempDataDir, type TestServer } from "../support/server.ts";

const DAY = 24 * 3_600_000;
const PASSWORD = "a long trial passphrase";

let server: TestServer;
let off: TestServer;
let clients = 0;

beforeAll(async () => {
  const dataDir = tempDataDir();
  await createAdmin(dataDir);
  [server, off] = await Promise.all([
    startServer({
      dataDir,
      env: {
        SIGNUP_ENABLED: "true",
        SIGNUP_PER_CLIENT_PER_HOUR: "2",
        TRIAL_DAYS: "14",
        TRIAL_TOKEN_BUDGET: "12345",
        // Each test signs up from its own address (the proxy header names it).
        CLIENT_IP_HEADER: "x-test-client",
      },
    }),
    // Defaults in production without the demo tenant: sign-up is off.
    startServer(),
  ]);
}, 180_000);
afterAll(async () => {
  await Promise.all([server?.stop(), off?.stop()]);
});

/** A browser-like client with its own client address. */
function visitor(base = server.url, address = `10.0.0.${++clients}`) {
  const client = new Client(base);
  const post = (path: string, fields: Record<string, string>) =>
    client.fetch(path, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        "x-test-client": address,
      },
      body: new URLSearchParams(fields),
    });
  return { client, post };
}

const account = (email: string) => ({
  email,
  businessName: "Lumen Coffee",
  password: PASSWORD,
  industry: "restaurant",
});

async function signUp(email: string) {
  const v = visitor();
  const res = await v.post("/signup?index", account(email));
  expect(res.status).toBe(302);
  expect(res.headers.get("location")).toBe("/signup/knowledge");
  const tenants = (await (await v.client.fetch("/api/tenants")).json()) as {
    tenants: Array<{ id: string; name: string; plan: string }>;
  };
  expect(tenants.tenants).toHaveLength(1);
  return { ...v, tenantId: tenants.tenants[0]!.id };
}

describe("sign-up", () => {
  it("shows the form, and refuses bad fields saying what to do", async () => {
    const page = await fetch(`${server.url}/signup`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("Create my assistant");

    const { post } = visitor();
    const res = await post("/signup?index", {
      email: "nope",
      businessName: "",
      password: "short",
      industry: "",
    });
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toContain("Enter a valid e-mail address, like you@example.com.");
    expect(html).toContain("Choose a password of at least 10 characters.");
    expect(html).toContain("3 fields need");
    expect(res.headers.getSetCookie()).toEqual([]);
  });

  it("makes a trial tenant with the configured budget and end, signed in as its admin", async () => {
    const before = Date.now();
    const { client, tenantId } = await signUp("owner@lumen.example");
    const plan = (await (await client.fetch(`/api/tenants/${tenantId}/plan`)).json()) as {
      plan: string;
      tokenBudget: number;
      trialEndsAt: number;
    };
    expect(plan.plan).toBe("trial");
    expect(plan.tokenBudget).toBe(12345);
    expect(plan.trialEndsAt).toBeGreaterThanOrEqual(before + 14 * DAY);
    expect(plan.trialEndsAt).toBeLessThanOrEqual(Date.now() + 14 * DAY);
    // A tenant admin, not a platform admin.
    expect((await client.json("/api/tenants", { name: "Another" })).status).toBe(403);
    const step = await client.fetch("/signup/knowledge");
    expect(step.status).toBe(200);
    expect(await step.text()).toContain("Trial until");
  });

  it("refuses an e-mail address that already has an account", async () => {
    await signUp("taken@lumen.example");
    const { post } = visitor();
    const res = await post("/signup?index", account("Taken@Lumen.example"));
    expect(res.status).toBe(409);
    expect(await res.text()).toContain(
      "An account with this e-mail address already exists. Sign in instead",
    );
  });

  it("limits sign-ups per client address, saying when to try again", async () => {
    const address = "10.9.9.9";
    for (const email of ["one@limit.example", "two@limit.example"]) {
      expect(
        (await visitor(server.url, address).post("/signup?index", account(email))).status,
      ).toBe(302);
    }
    const res = await visitor(server.url, address).post(
      "/signup?index",
      account("three@limit.example"),
    );
    expect(res.status).toBe(429);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(3000);
    expect(await res.text()).toContain("Too many sign-ups from your network");
  });
});

describe("the four steps", () => {
  it("are saved, can be gone back to, and resume at the right step after signing in", async () => {
    const { client, post, tenantId } = await signUp("steps@lumen.example");
    // A step not reached yet sends the person to the saved one.
    let res = await client.fetch("/signup/embed");
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("/signup/knowledge");

    res = await post("/signup/knowledge", { intent: "next" });
    expect(res.headers.get("location")).toBe("/signup/widget");
    // A refused style is not saved and says which field is wrong.
    res = await post("/signup/widget", {
      intent: "save-widget",
      title: "Ask Lumen",
      color: "nope; x",
      position: "top-left",
      greeting: "Welcome to Lumen!",
      starterQuestions: "",
      language: "",
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("Use a colour like #2546d8");
    res = await post("/signup/widget", {
      intent: "save-widget",
      title: "Ask Lumen",
      color: "#aa3300",
      position: "top-left",
      greeting: "Welcome to Lumen!",
      starterQuestions: "When are you open?\nDo you deliver?",
      language: "fr",
      voiceGreeting: "on",
    });
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("/signup/embed");
    const key = await widgetKeyOf(client, tenantId);
    const config = await fetch(`${server.url}/api/widget/${tenantId}/config?key=${key}`);
    expect(await config.json()).toEqual({
      title: "Ask Lumen",
      color: "#aa3300",
      position: "top-left",
      greeting: "Welcome to Lumen!",
      starterQuestions: ["When are you open?", "Do you deliver?"],
      voiceGreeting: true,
      language: "fr",
    });
    // Going back to an earlier step works and does not undo the progress.
    expect((await client.fetch("/signup/knowledge")).status).toBe(200);

    // Signed out and in again: the person lands on the saved step.
    await post("/logout", {});
    const again = visitor();
    res = await again.post("/login", { email: "steps@lumen.example", password: PASSWORD });
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("/signup/embed");
    const embed = await (await again.client.fetch("/signup/embed")).text();
    expect(embed).toContain(`data-tenant=&quot;${tenantId}&quot;`);

    res = await again.post("/signup/embed", {
      intent: "set-origins",
      origins: "https://lumen.example/",
    });
    expect(await res.text()).toContain("The widget now works on 1 site");
    res = await again.post("/signup/embed", { intent: "set-origins", origins: "not an origin" });
    expect(res.status).toBe(400);

    res = await again.post("/signup/embed", { intent: "finish" });
    expect(res.headers.get("location")).toBe(`/admin/tenants/${tenantId}`);
    // Finished: signing in leads to the admin again.
    res = await visitor().post("/login", { email: "steps@lumen.example", password: PASSWORD });
    expect(res.headers.get("location")).toBe("/admin");
  });

  it("serves the preview to the tenant's admins only, framable by the admin alone", async () => {
    const { client, tenantId } = await signUp("preview@lumen.example");
    const draft = JSON.stringify({ title: "Draft title", color: "#112233" });
    const path = `/admin/tenants/${tenantId}/widget/preview?${new URLSearchParams({ draft })}`;
    const res = await client.fetch(path);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-security-policy")).toContain("frame-ancestors 'self'");
    const html = await res.text();
    expect(html).toContain('"title":"Draft title"');
    expect(html).toContain(`data-tenant="${tenantId}"`);

    const anonymous = await fetch(`${server.url}${path}`, { redirect: "manual" });
    expect(anonymous.status).toBe(302);
    const other = await signUp("other@lumen.example");
    expect((await other.client.fetch(path)).status).toBe(404);
  });

  it("serves a test page with the snippet for the right widget key only", async () => {
    const { client, tenantId } = await signUp("testpage@lumen.example");
    const key = await widgetKeyOf(client, tenantId);
    const page = await fetch(`${server.url}/embed-test/${tenantId}?key=${key}`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain(
      `<script src="${server.url}/widget.js" data-tenant="${tenantId}" data-key="${key}" async></script>`,
    );
    expect((await fetch(`${server.url}/embed-test/${tenantId}?key=pk_wrong`)).status).toBe(404);
  });

  it("an ended trial answers nobody", async () => {
    const { client, tenantId } = await signUp("ended@lumen.example");
    const secret = await makeSecretKey(client, tenantId);
    const ask = () =>
      fetch(`${server.url}/api/ask`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json",
          ...bearer(secret),
        },
        body: JSON.stringify({ tenant_id: tenantId, query: "Are you open?" }),
      });
    expect((await ask()).status).toBe(200);
    const platform = await signIn(server.url);
    const res = await platform.json(
      `/api/tenants/${tenantId}/plan`,
      { trial_ends_at: Date.now() - 1000 },
      "PATCH",
    );
    expect(res.status).toBe(200);
    const refused = await ask();
    expect(refused.status).toBe(429);
    expect(await refused.json()).toMatchObject({ error: { code: "quota_exceeded" } });
  });
});

describe("sign-up switched off", () => {
  it("says so on the page and refuses a posted sign-up", async () => {
    const page = await fetch(`${off.url}/signup`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("Sign-up is switched off on this server");
    const res = await visitor(off.url).post("/signup?index", account("late@lumen.example"));
    expect(res.status).toBe(403);
    expect(await res.text()).toContain("Sign-up is switched off");
  });
});
