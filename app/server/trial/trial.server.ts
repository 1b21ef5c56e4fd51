// The self-serve trial (docs/decisions/030): anyone may sign up at /signup — when the operator
// allows it — with an e-mail, a business name and a password, and gets a tenant on the trial
// plan (TRIAL_DAYS, TRIAL_TOKEN_BUDGET) with themselves as its tenant admin. The sign-up's
// progress through the four steps is saved in the control database (`signups`), so a person
// who leaves and signs in again resumes where they were. Sign-ups are limited per client
// address (`signup_attempts`), and refused while that address or e-mail is locked out of
// sign-in (sign-in-throttle.server.ts). Touches the control database and, for the industry,
// the new tenant's `meta` table.
import { createHash } from "node:crypto";
import { redirect } from "react-router";
import { z } from "zod";
import { INDUSTRIES, signupStepPath, type SignupStep } from "#app/shared/signup-steps.ts";
import type { TenantId } from "#tenants/id.ts";
import { setIndustry } from "#tenants/business.ts";
import type { Config } from "../config.server.ts";
import {
  completeSignup,
  findAdminCredentials,
  getTenant,
  grantTenant,
  insertAdmin,
  insertSignup,
  latestSignupRow,
  pruneSignupAttempts,
  raiseSignupStep,
  recordPlatformAudit,
  recordSignupAttempt,
  signupAttemptsSince,
  type AdminRecord,
  type ControlDb,
  type SignupRow,
  type TenantRecord,
} from "../control-db.server.ts";
import { auditAdminAction } from "../audit/audit.server.ts";
import { requireAdmin } from "../access/auth.server.ts";
import { TRIAL_PLAN } from "../limits/quota.server.ts";
import { hashPassword, MIN_PASSWORD_LENGTH } from "../access/password.server.ts";
import type { Runtime } from "../runtime/runtime.server.ts";
import { createSignInThrottle, retryMessage } from "../access/sign-in-throttle.server.ts";
import { createTenant, tenantDb } from "../tenancy/tenants.server.ts";

type TrialRuntime = Pick<Runtime, "control" | "tenants" | "config" | "logger">;

const HOUR_MS = 3_600_000;

/** Whether /signup takes sign-ups: SIGNUP_ENABLED, else on in development and demo setups. */
export function signupEnabled(
  config: Pick<Config, "SIGNUP_ENABLED" | "NODE_ENV" | "DEMO_TENANT">,
): boolean {
  return config.SIGNUP_ENABLED ?? (config.NODE_ENV === "development" || config.DEMO_TENANT);
}

const industryValues = INDUSTRIES.map((industry) => industry.value) as [string, ...string[]];

export const signUpSchema = z.object({
  email: z
    .string()
    .trim()
    .max(254, "Use an e-mail address of at most 254 characters.")
    .pipe(z.email("Enter a valid e-mail address, like you@example.com.")),
  businessName: z
    .string()
    .trim()
    .min(1, "Enter your business's name (it is the assistant's name in the admin).")
    .max(100, "Shorten the business name to 100 characters or fewer."),
  password: z
    .string()
    .min(MIN_PASSWORD_LENGTH, `Choose a password of at least ${MIN_PASSWORD_LENGTH} characters.`)
    .max(1024, "Choose a password of at most 1024 characters."),
  industry: z
    .union([z.literal(""), z.enum(industryValues)], { error: "Choose an industry from the list." })
    .optional()
    .transform((value) => (value ? value : undefined)),
});

export type SignUpField = "email" | "businessName" | "password" | "industry";

/** A sign-up refused for a reason the person at the form can act on. */
export class SignUpError extends Error {
  override name = "SignUpError";
  constructor(
    message: string,
    readonly status: 400 | 403 | 409 | 429,
    /** The form field the message is about, if one. */
    readonly field?: SignUpField,
    /** Seconds to wait before trying again (429). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

/** Per-field messages for the form (the first problem of each field). */
export class SignUpValidationError extends SignUpError {
  override name = "SignUpValidationError";
  constructor(readonly fieldErrors: Partial<Record<SignUpField, string>>) {
    super("Check the highlighted fields.", 400);
  }
}

function clientKey(clientAddress: string): string {
  return createHash("sha256").update(`signup:${clientAddress}`).digest("hex").slice(0, 32);
}

/**
 * Counts this attempt against the client's hourly sign-up allowance; throws 429 when the
 * allowance is spent (the refused attempt is not counted).
 */
export function takeSignupAttempt(
  control: ControlDb,
  config: Pick<Config, "SIGNUP_PER_CLIENT_PER_HOUR">,
  clientAddress: string | null,
  now = Date.now(),
): void {
  const limit = config.SIGNUP_PER_CLIENT_PER_HOUR;
  if (limit === 0 || !clientAddress) return;
  const key = clientKey(clientAddress);
  control.transaction(() => {
    pruneSignupAttempts(control, now - HOUR_MS);
    const recent = signupAttemptsSince(control, key, now - HOUR_MS);
    if (recent.n >= limit) {
      const waitMs = (recent.oldest ?? now) + HOUR_MS - now;
      const minutes = Math.max(1, Math.ceil(waitMs / 60_000));
      throw new SignUpError(
        `Too many sign-ups from your network in the last hour. Try again in ${minutes} minute${minutes === 1 ? "" : "s"}, or sign in if you already have an account.`,
        429,
        undefined,
        Math.max(1, Math.ceil(waitMs / 1000)),
      );
    }
    recordSignupAttempt(control, key, now);
  })();
}

export interface SignUpResult {
  admin: AdminRecord;
  tenant: TenantRecord;
}

/**
 * Creates the trial tenant, its tenant admin and the sign-up's progress (at step 2).
 * Throws SignUpValidationError (per field) or SignUpError (disabled, locked out, rate limited,
 * e-mail already used).
 */
export async function signUp(
  runtime: TrialRuntime,
  input: Record<string, unknown>,
  clientAddress: string | null,
  now = Date.now(),
): Promise<SignUpResult> {
  const { config, control } = runtime;
  if (!signupEnabled(config)) {
    throw new SignUpError(
      "Sign-up is switched off on this server. Ask its operator for an account.",
      403,
    );
  }
  const parsed = signUpSchema.safeParse(input);
  if (!parsed.success) {
    const fieldErrors: Partial<Record<SignUpField, string>> = {};
    for (const issue of parsed.error.issues) {
      const field = issue.path[0] as SignUpField;
      fieldErrors[field] ??= issue.message;
    }
    throw new SignUpValidationError(fieldErrors);
  }
  const { email, businessName, password, industry } = parsed.data;
  // The sign-in lockout covers sign-up too: a locked-out client cannot try e-mails here.
  const throttle = createSignInThrottle(control, {
    maxPerAccount: config.SIGN_IN_MAX_FAILURES,
    maxPerClient: config.SIGN_IN_MAX_FAILURES_PER_CLIENT,
    windowMs: config.SIGN_IN_LOCKOUT_MS,
    lockoutMs: config.SIGN_IN_LOCKOUT_MS,
  });
  const lock = throttle.check({ email, clientAddress }, now);
  if (lock) {
    throw new SignUpError(
      retryMessage(lock),
      429,
      undefined,
      Math.max(1, Math.ceil(lock.retryAfterMs / 1000)),
    );
  }
  takeSignupAttempt(control, config, clientAddress, now);
  const alreadyUsed = () =>
    new SignUpError(
      "An account with this e-mail address already exists. Sign in instead, or use another address.",
      409,
      "email",
    );
  if (findAdminCredentials(control, email)) throw alreadyUsed();
  const passwordHash = await hashPassword(password);
  // From here on everything is synchronous: no other request can take the e-mail in between.
  if (findAdminCredentials(control, email)) throw alreadyUsed();
  const tenant = createTenant(runtime, { name: businessName, plan: TRIAL_PLAN });
  const admin = control.transaction(() => {
    const made = insertAdmin(control, { email, passwordHash, role: "tenant" }, now);
    grantTenant(control, made.id, tenant.id);
    insertSignup(control, tenant.id, made.id, now);
    recordPlatformAudit(
      control,
      { actor: `admin:${made.id}`, action: "tenant.signup", tenantId: tenant.id },
      now,
    );
    return made;
  })();
  if (industry) {
    setIndustry(tenantDb(runtime, tenant), industry);
  }
  auditAdminAction(runtime, tenant, admin, "trial.signup", { industry: industry ?? null });
  runtime.logger.info({ tenantId: tenant.id, adminId: admin.id }, "trial sign-up");
  return { admin, tenant };
}

// ---- progress through the steps -----------------------------------------------------------

export interface SignupProgress {
  tenantId: TenantId;
  adminId: number;
  /** The step to resume at (2–4). */
  step: Exclude<SignupStep, 1>;
  createdAt: number;
  completedAt: number | null;
}

function toProgress(row: SignupRow): SignupProgress {
  return {
    tenantId: row.tenant_id as TenantId,
    adminId: row.admin_id,
    step: Math.min(4, Math.max(2, row.step)) as SignupProgress["step"],
    createdAt: row.created_at,
    completedAt: row.completed_at,
  };
}

/** The admin's sign-up (their newest, if they somehow have several), if they signed up. */
export function signupOf(control: ControlDb, adminId: number): SignupProgress | undefined {
  const row = latestSignupRow(control, adminId);
  return row ? toProgress(row) : undefined;
}

/** Moves the saved step forward to `step` (never back: going back to look is not undoing). */
export function advanceSignup(control: ControlDb, tenantId: TenantId, step: SignupStep): void {
  raiseSignupStep(control, tenantId, Math.min(4, Math.max(2, step)));
}

export function finishSignup(control: ControlDb, tenantId: TenantId, now = Date.now()): void {
  completeSignup(control, tenantId, now);
}

/** Where a signed-in person with this sign-up continues: its step, or its tenant once done. */
export function resumePath(progress: SignupProgress): string {
  return progress.completedAt === null
    ? signupStepPath(progress.step)
    : `/admin/tenants/${progress.tenantId}`;
}

/** Where /login sends an admin who asked for no page in particular. */
export function landingPathFor(control: ControlDb, admin: Pick<AdminRecord, "id">): string {
  const progress = signupOf(control, admin.id);
  return progress && progress.completedAt === null ? resumePath(progress) : "/admin";
}

/** The tenant of a sign-up, while it still exists (a platform admin may have erased it). */
export function signupTenant(
  control: ControlDb,
  progress: SignupProgress,
): TenantRecord | undefined {
  return getTenant(control, progress.tenantId);
}

/**
 * For the pages of steps 2–4: the signed-in admin (else a redirect to sign in and come back),
 * their sign-up and its tenant. A step not reached yet redirects to the saved one; steps
 * already done stay open, so a person can go back.
 */
export async function requireSignupStep(
  runtime: Runtime,
  request: Request,
  step: Exclude<SignupStep, 1>,
) {
  const admin = await requireAdmin(runtime, request);
  const progress = signupOf(runtime.control, admin.id);
  if (!progress) throw redirect("/signup");
  const tenant = signupTenant(runtime.control, progress);
  if (!tenant) throw redirect("/admin");
  if (progress.completedAt === null && step > progress.step) {
    throw redirect(signupStepPath(progress.step));
  }
  return { admin, tenant, progress };
}

/** What the knowledge base holds, for the knowledge step of the sign-up. */
export { knowledgeSummary, type KnowledgeSummary } from "#tenants/knowledge-base.ts";
