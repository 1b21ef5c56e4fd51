import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { listAudit } from "#tenants/audit.ts";
import { TenantPool } from "#tenants/store.ts";
import { FakeEmbedder } from "../../../tests/support/fake-embedder.ts";
import { parseConfig, type Config } from "../config.server.ts";
import {
  findAdminCredentials,
  listPlatformAudit,
  listTenants,
  openControlDb,
  type ControlDb,
} from "../control-db.server.ts";
import { tenantQuota } from "../limits/quota.server.ts";
import { silentLogger } from "../logger.server.ts";
import { verifyPassword } from "../access/password.server.ts";
import { createSignInThrottle } from "../access/sign-in-throttle.server.ts";
import { tenantDb } from "../tenancy/tenants.server.ts";
import {
  advanceSignup,
  finishSignup,
  knowledgeSummary,
  landingPathFor,
  resumePath,
  signUp,
  SignUpError,
  signupEnabled,
  signupOf,
  signupTenant,
  SignUpValidationError,
  takeSignupAttempt,
} from "./trial.server.ts";

const DAY = 24 * 3_600_000;

let dir: string;
let control: ControlDb;
let tenants: TenantPool;
let config: Config;
const runtime = () => ({ control, tenants, config, logger: silentLogger });

function setUp(env: Record<string, string> = {}) {
  config = parseConfig({
    DATA_DIR: dir,
    LOG_LEVEL: "silent",
    SIGNUP_ENABLED: "true",
    TRIAL_DAYS: "10",
    TRIAL_TOKEN_BUDGET: "5000",
    ...env,
  });
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-trial-"));
  const embedder = new FakeEmbedder({ dimension: 8 });
  control = openControlDb(dir);
  tenants = new TenantPool(dir, { model: embedder.model, dimension: embedder.dimension }, 4);
  setUp();
});
afterEach(() => {
  tenants.closeAll();
  control.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const valid = {
  email: "Owner@Lumen.example",
  businessName: "  Lumen Coffee ",
  password: "correct horse battery",
  industry: "restaurant",
};

async function refusal(promise: Promise<unknown>): Promise<SignUpError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof SignUpError) return error;
    throw error;
  }
  throw new Error("the sign-up was accepted");
}

describe("signupEnabled", () => {
  it("follows SIGNUP_ENABLED, else is on in development and with the demo tenant", () => {
    const base = { NODE_ENV: "production" as const, DEMO_TENANT: false };
    expect(signupEnabled({ ...base, SIGNUP_ENABLED: undefined })).toBe(false);
    expect(signupEnabled({ ...base, SIGNUP_ENABLED: true })).toBe(true);
    expect(signupEnabled({ ...base, DEMO_TENANT: true, SIGNUP_ENABLED: undefined })).toBe(true);
    expect(signupEnabled({ ...base, DEMO_TENANT: true, SIGNUP_ENABLED: false })).toBe(false);
    expect(
      signupEnabled({ NODE_ENV: "development", DEMO_TENANT: false, SIGNUP_ENABLED: undefined }),
    ).toBe(true);
  });

  it("is validated at start-up like every setting", () => {
    expect(() => parseConfig({ SIGNUP_ENABLED: "maybe" })).toThrow(/SIGNUP_ENABLED/);
    expect(() => parseConfig({ SIGNUP_PER_CLIENT_PER_HOUR: "-1" })).toThrow(
      /SIGNUP_PER_CLIENT_PER_HOUR/,
    );
  });
});

describe("signUp", () => {
  it("makes a trial tenant with its budget and end, a signed-up tenant admin and step 2", async () => {
    const now = Date.now();
    const { admin, tenant } = await signUp(runtime(), valid, "203.0.113.7", now);
    expect(tenant.name).toBe("Lumen Coffee");
    expect(tenant.plan).toBe("trial");
    expect(admin).toMatchObject({ email: "owner@lumen.example", role: "tenant" });
    const stored = findAdminCredentials(control, "owner@lumen.example");
    expect(await verifyPassword(valid.password, stored?.passwordHash ?? "")).toBe(true);
    expect(listTenants(control, admin.id).map((t) => t.id)).toEqual([tenant.id]);

    const quota = tenantQuota(control, tenantDb({ tenants }, tenant), tenant.id);
    expect(quota.tokenBudget).toBe(5000);
    expect(quota.trialEndsAt).toBeGreaterThanOrEqual(now + 10 * DAY - 1000);
    expect(quota.trialEndsAt).toBeLessThanOrEqual(Date.now() + 10 * DAY);

    const industry = tenantDb({ tenants }, tenant)
      .prepare("SELECT value FROM meta WHERE key = 'industry'")
      .pluck()
      .get();
    expect(industry).toBe("restaurant");
    expect(signupOf(control, admin.id)).toMatchObject({
      tenantId: tenant.id,
      step: 2,
      completedAt: null,
    });
    expect(listPlatformAudit(control, { tenantId: tenant.id })[0]?.action).toBe("tenant.signup");
    expect(listAudit(tenantDb({ tenants }, tenant), { limit: 5 })[0]?.action).toBe("trial.signup");
  });

  it("leaves the industry out when none was chosen", async () => {
    const { tenant } = await signUp(runtime(), { ...valid, industry: "" }, null);
    const industry = tenantDb({ tenants }, tenant)
      .prepare("SELECT value FROM meta WHERE key = 'industry'")
      .get();
    expect(industry).toBeUndefined();
  });

  it("says what is wrong with each field", async () => {
    const error = await refusal(
      signUp(
        runtime(),
        { email: "not-an-address", businessName: " ", password: "short", industry: "bakery" },
        null,
      ),
    );
    expect(error).toBeInstanceOf(SignUpValidationError);
    expect((error as SignUpValidationError).fieldErrors).toEqual({
      email: expect.stringMatching(/valid e-mail/),
      businessName: expect.stringMatching(/business's name/),
      password: expect.stringMatching(/at least 10 characters/),
      industry: expect.stringMatching(/from the list/),
    });
    expect(listTenants(control)).toEqual([]);
  });

  it("refuses an e-mail address already in use, whatever its case", async () => {
    await signUp(runtime(), valid, null);
    const error = await refusal(
      signUp(runtime(), { ...valid, email: "OWNER@lumen.example", businessName: "Other" }, null),
    );
    expect(error).toMatchObject({ status: 409, field: "email" });
    expect(error.message).toMatch(/already exists. Sign in instead/);
    expect(listTenants(control)).toHaveLength(1);
  });

  it("is refused while sign-up is switched off", async () => {
    setUp({ SIGNUP_ENABLED: "false" });
    const error = await refusal(signUp(runtime(), valid, null));
    expect(error).toMatchObject({ status: 403 });
    expect(error.message).toMatch(/switched off/);
  });

  it("is refused for a client locked out of sign-in", async () => {
    setUp({ SIGN_IN_MAX_FAILURES_PER_CLIENT: "2" });
    const throttle = createSignInThrottle(control, {
      maxPerAccount: 5,
      maxPerClient: 2,
      windowMs: config.SIGN_IN_LOCKOUT_MS,
      lockoutMs: config.SIGN_IN_LOCKOUT_MS,
    });
    for (const email of ["a@x.example", "b@x.example"]) {
      throttle.recordFailure({ email, clientAddress: "198.51.100.9" });
    }
    const error = await refusal(signUp(runtime(), valid, "198.51.100.9"));
    expect(error).toMatchObject({ status: 429 });
    expect(error.retryAfterSeconds).toBeGreaterThan(0);
    expect(error.message).toMatch(/try again in/);
  });
});

describe("the per-client sign-up limit", () => {
  it("allows SIGNUP_PER_CLIENT_PER_HOUR attempts an hour per address, then says when to retry", () => {
    setUp({ SIGNUP_PER_CLIENT_PER_HOUR: "2" });
    const t0 = 1_000_000_000_000;
    takeSignupAttempt(control, config, "192.0.2.1", t0);
    takeSignupAttempt(control, config, "192.0.2.1", t0 + 60_000);
    let error: unknown;
    try {
      takeSignupAttempt(control, config, "192.0.2.1", t0 + 120_000);
    } catch (caught) {
      error = caught;
    }
    expect(error).toMatchObject({ status: 429, retryAfterSeconds: 3600 - 120 });
    expect((error as Error).message).toMatch(/in 58 minutes/);
    // Another address, an unknown address and a later hour are not limited.
    expect(() => takeSignupAttempt(control, config, "192.0.2.2", t0 + 120_000)).not.toThrow();
    expect(() => takeSignupAttempt(control, config, null, t0 + 120_000)).not.toThrow();
    expect(() => takeSignupAttempt(control, config, "192.0.2.1", t0 + 3_600_001)).not.toThrow();
  });

  it("is off at 0", () => {
    setUp({ SIGNUP_PER_CLIENT_PER_HOUR: "0" });
    for (let i = 0; i < 10; i++) takeSignupAttempt(control, config, "192.0.2.1");
    expect(control.prepare("SELECT count(*) FROM signup_attempts").pluck().get()).toBe(0);
  });

  it("counts a refused duplicate too, so e-mails cannot be probed without limit", async () => {
    setUp({ SIGNUP_PER_CLIENT_PER_HOUR: "2" });
    await signUp(runtime(), valid, "192.0.2.5");
    await refusal(signUp(runtime(), valid, "192.0.2.5"));
    const error = await refusal(
      signUp(runtime(), { ...valid, email: "new@x.example" }, "192.0.2.5"),
    );
    expect(error).toMatchObject({ status: 429 });
  });
});

describe("progress through the steps", () => {
  it("moves forward only, resumes at the saved step, and ends at the dashboard", async () => {
    const { admin, tenant } = await signUp(runtime(), valid, null);
    const progress = () => signupOf(control, admin.id)!;
    expect(resumePath(progress())).toBe("/signup/knowledge");
    expect(landingPathFor(control, admin)).toBe("/signup/knowledge");
    advanceSignup(control, tenant.id, 4);
    advanceSignup(control, tenant.id, 3); // going back to look does not undo
    expect(progress().step).toBe(4);
    expect(resumePath(progress())).toBe("/signup/embed");
    finishSignup(control, tenant.id, 123);
    finishSignup(control, tenant.id, 456);
    expect(progress().completedAt).toBe(123);
    expect(resumePath(progress())).toBe(`/admin/tenants/${tenant.id}`);
    expect(landingPathFor(control, admin)).toBe("/admin");
    expect(signupTenant(control, progress())?.id).toBe(tenant.id);
  });

  it("sends admins who never signed up to /admin", () => {
    expect(signupOf(control, 999)).toBeUndefined();
    expect(landingPathFor(control, { id: 999 })).toBe("/admin");
  });
});

describe("knowledgeSummary", () => {
  it("counts documents, passages and words", async () => {
    const { tenant } = await signUp(runtime(), valid, null);
    const db = tenantDb({ tenants }, tenant);
    expect(knowledgeSummary(db)).toEqual({ documents: 0, chunks: 0, words: 0 });
    db.prepare(
      `INSERT INTO documents (id, source_key, source_type, title, content_hash, bytes, created_at, updated_at)
       VALUES (1, 'text:a', 'text', 'A', 'h', 10, 0, 0)`,
    ).run();
    const chunk = db.prepare(
      "INSERT INTO chunks (document_id, ord, heading_path, text, token_count) VALUES (1, ?, '', ?, 1)",
    );
    chunk.run(0, "Opening hours are 8 to 5");
    chunk.run(1, " Closed on Sundays ");
    expect(knowledgeSummary(db)).toEqual({ documents: 1, chunks: 2, words: 9 });
  });
});
