// Admin authentication: sign-in with e-mail and password (remix-auth's FormStrategy), the
// admin session (a signed cookie naming a row in the control database's `sessions` table),
// the guards every admin loader and action uses, CSRF defence, throttling and lockout of
// repeated failed sign-ins (sign-in-throttle.server.ts), and the first-admin setup.
// Touches only the control database. The request-level exports use the process runtime; the
// work is done by `createAdminAuth({ control, config })`, which tests call directly.
import { randomBytes } from "node:crypto";
import { createCookie, createSessionStorage, redirect, type SessionStorage } from "react-router";
import { Authenticator } from "remix-auth";
import { FormStrategy } from "remix-auth-form";
import { z } from "zod";
import type { Config } from "../config.server.ts";
import {
  adminCanManage,
  consumeSetupToken,
  countAdmins,
  deleteSession,
  findAdminCredentials,
  getAdmin as findAdminById,
  getOrCreateSecret,
  insertAdmin,
  isSetupTokenValid,
  readSession,
  updateAdminPasswordHash,
  writeSession,
  type AdminRecord,
  type ControlDb,
  type TenantRecord,
} from "../control-db.server.ts";
import { ApiError, type ErrorCode } from "../errors.server.ts";
import {
  hashPassword,
  MIN_PASSWORD_LENGTH,
  needsRehash,
  verifyPassword,
} from "./password.server.ts";
import {
  createSignInThrottle,
  retryMessage,
  type SignInLock,
  type SignInThrottle,
} from "./sign-in-throttle.server.ts";
import { requireTenant } from "../tenancy/tenants.server.ts";

export type { AdminRecord } from "../control-db.server.ts";

/** What authentication needs from the runtime; tests pass a control DB and a parsed config. */
export interface AuthDeps {
  control: ControlDb;
  config: Pick<Config, "NODE_ENV" | "PUBLIC_URL"> &
    Partial<
      Pick<
        Config,
        "SIGN_IN_MAX_FAILURES" | "SIGN_IN_MAX_FAILURES_PER_CLIENT" | "SIGN_IN_LOCKOUT_MS"
      >
    >;
  /** Under LiteFS: a replica's control database is read-only (sessions are not renewed there). */
  replication?: { role: { isPrimary(): boolean } };
}

export const SESSION_COOKIE = "__bitb_admin";
/** A session unused for this long ends. Each use pushes the deadline back. */
export const SESSION_IDLE_MS = 12 * 60 * 60 * 1000;
/** No session lives longer than this, however busy. */
export const SESSION_ABSOLUTE_MS = 7 * 24 * 60 * 60 * 1000;
/** Renew the idle deadline at most this often, so reads do not each write. */
const SESSION_RENEW_EVERY_MS = 60 * 1000;

export const WRONG_CREDENTIALS = "Wrong e-mail or password.";
const MAX_PASSWORD_LENGTH = 1024;

/** A sign-in or setup failure whose message is meant for the person at the form. */
export class AuthError extends Error {
  override name = "AuthError";
}

/** Sign-in refused because of too many failed attempts: answer 429 with Retry-After. */
export class SignInLockedError extends AuthError {
  override name = "SignInLockedError";
  /** Whole seconds to wait, for the Retry-After header. */
  readonly retryAfterSeconds: number;
  constructor(lock: SignInLock) {
    super(retryMessage(lock));
    this.retryAfterSeconds = Math.max(1, Math.ceil(lock.retryAfterMs / 1000));
  }
}

interface AdminSessionData {
  adminId: number;
  createdAt: number;
  renewedAt: number;
}

const sessionDataSchema = z.object({
  adminId: z.number().int().positive(),
  createdAt: z.number().int(),
  renewedAt: z.number().int(),
});

const credentialsSchema = z.object({
  email: z.string().trim().min(1).max(254),
  password: z.string().min(1).max(MAX_PASSWORD_LENGTH),
});

const firstAdminSchema = z.object({
  email: z.email("Enter a valid e-mail address.").max(254),
  password: z
    .string()
    .min(MIN_PASSWORD_LENGTH, `Choose a password of at least ${MIN_PASSWORD_LENGTH} characters.`)
    .max(MAX_PASSWORD_LENGTH, `Choose a password of at most ${MAX_PASSWORD_LENGTH} characters.`),
});

// Unknown e-mails are checked against this hash so they take as long as known ones.
let dummyHash: Promise<string> | undefined;
const getDummyHash = () => (dummyHash ??= hashPassword(randomBytes(16).toString("hex")));

function sessionExpiry(data: Pick<AdminSessionData, "createdAt">, now: number): number {
  return Math.min(now + SESSION_IDLE_MS, data.createdAt + SESSION_ABSOLUTE_MS);
}

function isApiPath(request: Request): boolean {
  return new URL(request.url).pathname.startsWith("/api/");
}

const statusText: Partial<Record<number, string>> = {
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
};

/**
 * The error a guard throws: the JSON API's ApiError under /api/, and for the admin pages a
 * plain Response with the same status, which React Router shows in the error boundary.
 */
function guardError(request: Request, code: ErrorCode, message: string): ApiError | Response {
  const error = new ApiError(code, message);
  if (isApiPath(request)) return error;
  return new Response(message, {
    status: error.status,
    statusText: statusText[error.status] ?? "",
    headers: { "Content-Type": "text/plain; charset=utf-8" },
  });
}

/** A same-site path to go to after sign-in; anything else (`//x`, `/\x`, URLs) is the fallback. */
export function safeRedirectPath(to: unknown, fallback = "/admin"): string {
  if (typeof to !== "string" || !to.startsWith("/") || to.startsWith("//")) return fallback;
  if (to.includes("\\") || /\p{Cc}/u.test(to)) return fallback;
  const base = "http://bitb.invalid";
  const url = new URL(to, base);
  const path = url.pathname + url.search + url.hash;
  // `/..//x` normalises to `//x`, which a browser reads as another host.
  if (url.origin !== base || path.startsWith("//")) return fallback;
  return path;
}

/** The CSRF check itself, for a given configuration (see assertSameOrigin). */
export function checkSameOrigin(request: Request, config: Pick<Config, "PUBLIC_URL">): void {
  if (!["POST", "PUT", "PATCH", "DELETE"].includes(request.method.toUpperCase())) return;
  const allowed = new Set([new URL(request.url).origin]);
  if (config.PUBLIC_URL) allowed.add(new URL(config.PUBLIC_URL).origin);
  const refuse = () => guardError(request, "forbidden", "Cross-site request refused.");
  const origin = request.headers.get("Origin");
  if (origin !== null) {
    if (!allowed.has(origin)) throw refuse();
    return;
  }
  const referer = request.headers.get("Referer");
  if (referer !== null) {
    if (!URL.canParse(referer) || !allowed.has(new URL(referer).origin)) throw refuse();
    return;
  }
  // Neither header: only a client that sends no cookies (a script, another server) passes,
  // and without a session it can do nothing an attacker could not do directly.
  if (request.headers.has("Cookie")) throw refuse();
}

function createAdminSessionStorage(deps: AuthDeps): SessionStorage<AdminSessionData> {
  const cookie = createCookie(SESSION_COOKIE, {
    httpOnly: true,
    sameSite: "lax",
    // Plain-http production (a local trial) must still be able to sign in.
    secure: deps.config.NODE_ENV === "production" && !!deps.config.PUBLIC_URL?.startsWith("https:"),
    path: "/",
    maxAge: SESSION_ABSOLUTE_MS / 1000,
    secrets: [getOrCreateSecret(deps.control, "session")],
  });
  // The database row decides the session's life (idle and absolute expiry); the cookie's own
  // Max-Age only keeps the browser from holding it past the absolute limit.
  return createSessionStorage<AdminSessionData>({
    cookie,
    async createData(data) {
      const id = randomBytes(32).toString("base64url");
      const now = Date.now();
      writeSession(
        deps.control,
        id,
        data,
        sessionExpiry({ createdAt: data.createdAt ?? now }, now),
      );
      return id;
    },
    async readData(id) {
      const parsed = sessionDataSchema.safeParse(readSession(deps.control, id));
      return parsed.success ? parsed.data : null;
    },
    async updateData(id, data) {
      const now = Date.now();
      writeSession(
        deps.control,
        id,
        data,
        sessionExpiry({ createdAt: data.createdAt ?? now }, now),
      );
    },
    async deleteData(id) {
      deleteSession(deps.control, id);
    },
  });
}

export interface AdminAuth {
  /**
   * Checks the posted e-mail and password. Throws AuthError for the form, or
   * SignInLockedError when the account or the client address is locked out.
   */
  authenticateAdmin(request: Request, clientAddress?: string | null): Promise<AdminRecord>;
  createAdminSession(request: Request, admin: AdminRecord, redirectTo: string): Promise<Response>;
  destroyAdminSession(request: Request): Promise<Response>;
  getAdmin(request: Request): Promise<AdminRecord | null>;
  requireAdmin(request: Request): Promise<AdminRecord>;
  requireTenantAccess(
    request: Request,
    tenantId: string,
  ): Promise<{ admin: AdminRecord; tenant: TenantRecord }>;
  assertSameOrigin(request: Request): void;
}

/** Authentication bound to one control database and configuration. */
export function createAdminAuth(deps: AuthDeps): AdminAuth {
  const storage = createAdminSessionStorage(deps);
  const throttle: SignInThrottle = createSignInThrottle(deps.control, {
    maxPerAccount: deps.config.SIGN_IN_MAX_FAILURES ?? 5,
    maxPerClient: deps.config.SIGN_IN_MAX_FAILURES_PER_CLIENT ?? 20,
    windowMs: deps.config.SIGN_IN_LOCKOUT_MS ?? 15 * 60 * 1000,
    lockoutMs: deps.config.SIGN_IN_LOCKOUT_MS ?? 15 * 60 * 1000,
  });

  const authenticator = new Authenticator<AdminRecord>();
  authenticator.use(
    new FormStrategy<AdminRecord>(async ({ form }) => {
      const parsed = credentialsSchema.safeParse({
        email: form.get("email"),
        password: form.get("password"),
      });
      if (!parsed.success) throw new AuthError("Enter your e-mail address and password.");
      const { email, password } = parsed.data;
      const found = findAdminCredentials(deps.control, email);
      const matches = await verifyPassword(password, found?.passwordHash ?? (await getDummyHash()));
      if (!found || !matches) throw new AuthError(WRONG_CREDENTIALS);
      // A hash from before the parameters were raised is replaced now that the password is
      // known (on the primary: a replica writes nothing).
      if (needsRehash(found.passwordHash) && (deps.replication?.role.isPrimary() ?? true)) {
        updateAdminPasswordHash(deps.control, found.id, await hashPassword(password));
      }
      return { id: found.id, email: found.email, role: found.role, createdAt: found.createdAt };
    }),
    "form",
  );

  async function getAdmin(request: Request): Promise<AdminRecord | null> {
    const session = await storage.getSession(request.headers.get("Cookie"));
    const adminId = session.get("adminId");
    const createdAt = session.get("createdAt");
    if (!session.id || adminId === undefined || createdAt === undefined) return null;
    const now = Date.now();
    // On a LiteFS replica reads write nothing: the primary renews and deletes sessions.
    const canWrite = deps.replication?.role.isPrimary() ?? true;
    if (createdAt + SESSION_ABSOLUTE_MS <= now) {
      if (canWrite) deleteSession(deps.control, session.id);
      return null;
    }
    const admin = findAdminById(deps.control, adminId);
    if (!admin) {
      if (canWrite) deleteSession(deps.control, session.id);
      return null;
    }
    const renewedAt = session.get("renewedAt") ?? createdAt;
    if (canWrite && now - renewedAt >= SESSION_RENEW_EVERY_MS) {
      // Read and write in one synchronous step, so a sign-out in between cannot be undone.
      const current = sessionDataSchema.safeParse(readSession(deps.control, session.id));
      if (current.success) {
        const data = { ...current.data, renewedAt: now };
        writeSession(deps.control, session.id, data, sessionExpiry(data, now));
      }
    }
    return admin;
  }

  async function requireAdmin(request: Request): Promise<AdminRecord> {
    const admin = await getAdmin(request);
    if (admin) return admin;
    if (isApiPath(request)) throw new ApiError("unauthorized", "Sign in first.");
    const url = new URL(request.url);
    throw redirect(`/login?redirectTo=${encodeURIComponent(url.pathname + url.search)}`);
  }

  async function authenticateAdmin(
    request: Request,
    clientAddress: string | null = null,
  ): Promise<AdminRecord> {
    const email = (await request.clone().formData()).get("email");
    const attempt = {
      email: typeof email === "string" ? email.slice(0, 254) : "",
      clientAddress,
    };
    // Refused before the password is looked at: a locked account says nothing about it.
    const lock = throttle.check(attempt);
    if (lock) throw new SignInLockedError(lock);
    try {
      const admin = await authenticator.authenticate("form", request);
      throttle.recordSuccess(attempt);
      return admin;
    } catch (error) {
      if (error instanceof AuthError && error.message === WRONG_CREDENTIALS) {
        const now = throttle.recordFailure(attempt);
        if (now) throw new SignInLockedError(now);
      }
      throw error;
    }
  }

  return {
    authenticateAdmin,

    async createAdminSession(request, admin, redirectTo) {
      // A new id on every sign-in, so a session id planted before sign-in is worthless after.
      const previous = await storage.getSession(request.headers.get("Cookie"));
      if (previous.id) deleteSession(deps.control, previous.id);
      const session = await storage.getSession();
      const now = Date.now();
      session.set("adminId", admin.id);
      session.set("createdAt", now);
      session.set("renewedAt", now);
      return redirect(safeRedirectPath(redirectTo), {
        headers: { "Set-Cookie": await storage.commitSession(session) },
      });
    },

    async destroyAdminSession(request) {
      const session = await storage.getSession(request.headers.get("Cookie"));
      return redirect("/login", {
        headers: { "Set-Cookie": await storage.destroySession(session) },
      });
    },

    getAdmin,
    requireAdmin,

    async requireTenantAccess(request, tenantId) {
      const admin = await requireAdmin(request);
      // Unknown, invalid and someone else's tenant all get the same answer.
      const notFound = () => guardError(request, "not_found", "No such tenant.");
      let tenant: TenantRecord;
      try {
        tenant = requireTenant(deps, tenantId);
      } catch {
        throw notFound();
      }
      if (!adminCanManage(deps.control, admin, tenant.id)) throw notFound();
      return { admin, tenant };
    },

    assertSameOrigin: (request) => checkSameOrigin(request, deps.config),
  };
}

const authByControl = new WeakMap<ControlDb, AdminAuth>();

/** The authentication of a runtime, made once per control database. */
export function adminAuthFor(deps: AuthDeps): AdminAuth {
  let auth = authByControl.get(deps.control);
  if (!auth) {
    auth = createAdminAuth(deps);
    authByControl.set(deps.control, auth);
  }
  return auth;
}

// ---- the request-level API the routes use ---------------------------------------------
// Each takes the runtime's parts (the routes pass their runtime) and a request.

/**
 * Checks the posted e-mail and password; throws AuthError with a message for the form, or
 * SignInLockedError (429) after too many failures for the account or the client address.
 */
export function authenticateAdmin(
  deps: AuthDeps,
  request: Request,
  clientAddress: string | null,
): Promise<AdminRecord> {
  return adminAuthFor(deps).authenticateAdmin(request, clientAddress);
}

/** Signs the admin in with a fresh session id and redirects (same-site paths only). */
export function createAdminSession(
  deps: AuthDeps,
  request: Request,
  admin: AdminRecord,
  redirectTo: string,
): Promise<Response> {
  return adminAuthFor(deps).createAdminSession(request, admin, redirectTo);
}

/** Ends the session and redirects to /login. */
export function destroyAdminSession(deps: AuthDeps, request: Request): Promise<Response> {
  return adminAuthFor(deps).destroyAdminSession(request);
}

export function getAdmin(deps: AuthDeps, request: Request): Promise<AdminRecord | null> {
  return adminAuthFor(deps).getAdmin(request);
}

/** The signed-in admin; else a 401 ApiError under /api/, a redirect to /login elsewhere. */
export function requireAdmin(deps: AuthDeps, request: Request): Promise<AdminRecord> {
  return adminAuthFor(deps).requireAdmin(request);
}

/**
 * The signed-in admin and a tenant they manage. An invalid, unknown or unmanaged tenant id is
 * the same 404 (an ApiError under /api/, a 404 Response on pages).
 */
export function requireTenantAccess(
  deps: AuthDeps,
  request: Request,
  tenantId: string,
): Promise<{ admin: AdminRecord; tenant: TenantRecord }> {
  return adminAuthFor(deps).requireTenantAccess(request, tenantId);
}

/**
 * CSRF defence for state-changing requests: Origin (else Referer) must be this server's
 * origin or PUBLIC_URL's. Throws 403 (ApiError under /api/, a Response on pages).
 * Synchronous so that no caller can forget to await it.
 */
export function assertSameOrigin(deps: Pick<AuthDeps, "config">, request: Request): void {
  checkSameOrigin(request, deps.config);
}

// ---- the first admin -------------------------------------------------------------------

/** Whether any admin exists (the login page says how to create the first one if not). */
export function adminExists(deps: Pick<AuthDeps, "control">): boolean {
  return countAdmins(deps.control) > 0;
}

export type SetupTokenState = "valid" | "invalid" | "admin-exists";

/** Whether /setup may create the first admin with this token. */
export function setupTokenState(deps: Pick<AuthDeps, "control">, token: unknown): SetupTokenState {
  if (countAdmins(deps.control) > 0) return "admin-exists";
  return typeof token === "string" && token !== "" && isSetupTokenValid(deps.control, token)
    ? "valid"
    : "invalid";
}

/**
 * Creates the first (platform) admin. With a setup token (the /setup page) the token must be
 * valid and is used up; without one (the CLI, run by an operator on the server) none is needed.
 * Throws AuthError with a message for the form when the input or the token is not acceptable.
 */
export async function createFirstAdmin(
  runtime: Pick<AuthDeps, "control">,
  input: { email: string; password: string; setupToken?: string },
): Promise<AdminRecord> {
  const parsed = firstAdminSchema.safeParse({
    email: input.email.trim(),
    password: input.password,
  });
  if (!parsed.success) {
    throw new AuthError(parsed.error.issues.map((issue) => issue.message).join(" "));
  }
  const passwordHash = await hashPassword(parsed.data.password);
  // Check, use the token and insert in one transaction: two setups racing make one admin.
  return runtime.control.transaction(() => {
    if (countAdmins(runtime.control) > 0) {
      throw new AuthError("An admin already exists. Sign in instead.");
    }
    if (input.setupToken !== undefined && !consumeSetupToken(runtime.control, input.setupToken)) {
      throw new AuthError(
        "This setup link is not valid any more. Restart the server for a new one, or run `npm run admin:create`.",
      );
    }
    return insertAdmin(runtime.control, {
      email: parsed.data.email,
      passwordHash,
      role: "platform",
    });
  })();
}
