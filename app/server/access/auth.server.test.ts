import { randomBytes, scryptSync } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { newTenantId } from "#tenants/id.ts";
import {
  AuthError,
  WRONG_CREDENTIALS,
  checkSameOrigin,
  createAdminAuth,
  createFirstAdmin,
  safeRedirectPath,
  setupTokenState,
  SignInLockedError,
  SESSION_ABSOLUTE_MS,
  SESSION_IDLE_MS,
  type AdminAuth,
} from "./auth.server.ts";
import { parseConfig } from "../config.server.ts";
import {
  countAdmins,
  createSetupToken,
  findAdminCredentials,
  grantTenant,
  insertAdmin,
  insertTenant,
  isSetupTokenValid,
  openControlDb,
  type AdminRecord,
  type ControlDb,
} from "../control-db.server.ts";
import { ApiError } from "../errors.server.ts";
import { hashPassword } from "./password.server.ts";

const ORIGIN = "http://localhost:3000";
const PASSWORD = "correct horse battery";

let tmp: string;
let control: ControlDb;
let auth: AdminAuth;
let admin: AdminRecord;

function loginRequest(fields: Record<string, string>, cookie?: string): Request {
  const headers: Record<string, string> = { Origin: ORIGIN };
  if (cookie) headers.Cookie = cookie;
  return new Request(`${ORIGIN}/login`, {
    method: "POST",
    headers,
    body: new URLSearchParams(fields),
  });
}

function withCookie(cookie: string | null, url = `${ORIGIN}/admin`): Request {
  return new Request(url, { headers: cookie ? { Cookie: cookie } : {} });
}

/** The `name=value` part of a Set-Cookie header, as a browser would send it back. */
function cookieOf(response: Response): string {
  const setCookie = response.headers.get("Set-Cookie");
  if (!setCookie) throw new Error("no Set-Cookie header");
  return setCookie.split(";")[0] as string;
}

async function signIn(previousCookie?: string, redirectTo = "/admin"): Promise<Response> {
  const request = loginRequest({ email: admin.email, password: PASSWORD }, previousCookie);
  const signedIn = await auth.authenticateAdmin(request);
  return auth.createAdminSession(request, signedIn, redirectTo);
}

function sessionCount(): number {
  return (control.prepare("SELECT count(*) AS n FROM sessions").get() as { n: number }).n;
}

beforeEach(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-auth-"));
  control = openControlDb(tmp);
  auth = createAdminAuth({ control, config: parseConfig({ DATA_DIR: tmp, NODE_ENV: "test" }) });
  admin = insertAdmin(control, {
    email: "Owner@Example.com",
    passwordHash: await hashPassword(PASSWORD),
    role: "platform",
  });
});

afterEach(() => {
  vi.useRealTimers();
  control.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe("authenticateAdmin", () => {
  it("signs in with the right e-mail (any case) and password", async () => {
    const signedIn = await auth.authenticateAdmin(
      loginRequest({ email: "  OWNER@example.com ", password: PASSWORD }),
    );
    expect(signedIn).toEqual(admin);
    expect(signedIn).not.toHaveProperty("passwordHash");
  });

  it("replaces a hash made with weaker scrypt parameters at sign-in, not on a failed one", async () => {
    const salt = randomBytes(16);
    const key = scryptSync(PASSWORD, salt, 64, { N: 16384, r: 8, p: 1 });
    const old = ["scrypt", 16384, 8, 1, salt.toString("base64"), key.toString("base64")].join("$");
    control.prepare("UPDATE admins SET password_hash = ? WHERE id = ?").run(old, admin.id);
    const stored = () => findAdminCredentials(control, admin.email)?.passwordHash ?? "";
    await expect(
      auth.authenticateAdmin(loginRequest({ email: admin.email, password: "not the password" })),
    ).rejects.toThrow();
    expect(stored()).toBe(old);
    await auth.authenticateAdmin(loginRequest({ email: admin.email, password: PASSWORD }));
    expect(stored()).toMatch(/^scrypt\$131072\$8\$1\$/);
    // The new hash signs in too.
    expect(
      await auth.authenticateAdmin(loginRequest({ email: admin.email, password: PASSWORD })),
    ).toEqual(admin);
  });

  it("gives the same answer for a wrong password and an unknown e-mail", async () => {
    const wrongPassword = auth.authenticateAdmin(
      loginRequest({ email: admin.email, password: "not the password" }),
    );
    await expect(wrongPassword).rejects.toThrow(new AuthError(WRONG_CREDENTIALS));
    const unknown = auth.authenticateAdmin(
      loginRequest({ email: "nobody@example.com", password: PASSWORD }),
    );
    await expect(unknown).rejects.toThrow(new AuthError(WRONG_CREDENTIALS));
  });

  it("checks a password hash for unknown e-mails too, so timing does not tell", async () => {
    const time = async (email: string) => {
      const started = performance.now();
      await auth
        .authenticateAdmin(loginRequest({ email, password: "not the password" }))
        .catch(() => undefined);
      return performance.now() - started;
    };
    await time("warm-up@example.com");
    const known = await time(admin.email);
    const unknown = await time("nobody@example.com");
    expect(unknown).toBeGreaterThan(known * 0.3);
  });

  it("asks for both fields when one is missing", async () => {
    await expect(
      auth.authenticateAdmin(loginRequest({ email: admin.email, password: "" })),
    ).rejects.toThrow(/Enter your e-mail address and password/);
  });
});

describe("failed sign-ins", () => {
  it("locks the account after 5 failures, even for the right password, and says how long", async () => {
    const wrong = () =>
      auth.authenticateAdmin(
        loginRequest({ email: admin.email, password: "not the password" }),
        "10.1.1.1",
      );
    for (let i = 0; i < 4; i++) await expect(wrong()).rejects.toThrow(WRONG_CREDENTIALS);
    const locked = await wrong().catch((error: unknown) => error);
    expect(locked).toBeInstanceOf(SignInLockedError);
    expect((locked as SignInLockedError).retryAfterSeconds).toBe(15 * 60);
    const right = auth.authenticateAdmin(
      loginRequest({ email: admin.email, password: PASSWORD }),
      "10.2.2.2",
    );
    await expect(right).rejects.toThrow(/Too many failed sign-ins.*15 minutes/);
  });

  it("forgets the account's failures after a successful sign-in", async () => {
    for (let i = 0; i < 4; i++) {
      await auth
        .authenticateAdmin(loginRequest({ email: admin.email, password: "nope nope" }))
        .catch(() => undefined);
    }
    await signIn();
    await expect(
      auth.authenticateAdmin(loginRequest({ email: admin.email, password: "nope nope" })),
    ).rejects.toThrow(WRONG_CREDENTIALS);
  });
});

describe("admin sessions", () => {
  it("sets an httpOnly, SameSite=Lax session cookie and redirects to a same-site path", async () => {
    const response = await signIn(undefined, "/admin/tenants/x?tab=jobs");
    expect(response.status).toBe(302);
    expect(response.headers.get("Location")).toBe("/admin/tenants/x?tab=jobs");
    const setCookie = response.headers.get("Set-Cookie") ?? "";
    expect(setCookie).toMatch(/^__bitb_admin=/);
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Lax/i);
    expect(setCookie).toMatch(/Path=\//);
    expect(setCookie).not.toMatch(/Secure/i);
    expect(await auth.getAdmin(withCookie(cookieOf(response)))).toEqual(admin);
  });

  it("never redirects off-site after sign-in", async () => {
    for (const target of [
      "//evil.example/x",
      "https://evil.example/",
      "/\\evil.example",
      "admin",
    ]) {
      const response = await signIn(undefined, target);
      expect(response.headers.get("Location")).toBe("/admin");
    }
  });

  it("has no admin without a cookie, or with a tampered one", async () => {
    expect(await auth.getAdmin(withCookie(null))).toBeNull();
    const cookie = cookieOf(await signIn());
    const [name, value] = cookie.split("=") as [string, string];
    // One character changed (never to itself: that would leave the cookie valid).
    const swapped = value[10] === "A" ? "B" : "A";
    const tampered = `${name}=${value.slice(0, 10)}${swapped}${value.slice(11)}`;
    expect(await auth.getAdmin(withCookie(tampered))).toBeNull();
  });

  it("gives a new session id on sign-in and ends the old session", async () => {
    const first = cookieOf(await signIn());
    const second = cookieOf(await signIn(first));
    expect(second).not.toBe(first);
    expect(await auth.getAdmin(withCookie(first))).toBeNull();
    expect(await auth.getAdmin(withCookie(second))).toEqual(admin);
    expect(sessionCount()).toBe(1);
  });

  it("signs out: the cookie is cleared and the session row deleted", async () => {
    const cookie = cookieOf(await signIn());
    const response = await auth.destroyAdminSession(withCookie(cookie));
    expect(response.status).toBe(302);
    expect(response.headers.get("Location")).toBe("/login");
    expect(response.headers.get("Set-Cookie")).toMatch(/Expires=Thu, 01 Jan 1970/);
    expect(await auth.getAdmin(withCookie(cookie))).toBeNull();
    expect(sessionCount()).toBe(0);
  });

  it("ends a session left unused for 12 hours", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const cookie = cookieOf(await signIn());
    vi.setSystemTime(Date.now() + SESSION_IDLE_MS + 1000);
    expect(await auth.getAdmin(withCookie(cookie))).toBeNull();
  });

  it("keeps a session in use alive, but never past 7 days", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const start = Date.now();
    const cookie = cookieOf(await signIn());
    const step = SESSION_IDLE_MS / 2;
    let at = start;
    while (at + step < start + SESSION_ABSOLUTE_MS) {
      at += step;
      vi.setSystemTime(at);
      expect(await auth.getAdmin(withCookie(cookie))).toEqual(admin);
    }
    vi.setSystemTime(start + SESSION_ABSOLUTE_MS + 1000);
    expect(await auth.getAdmin(withCookie(cookie))).toBeNull();
  });

  it("marks the cookie Secure in production behind https only", async () => {
    const secureAuth = createAdminAuth({
      control,
      config: parseConfig({
        DATA_DIR: tmp,
        NODE_ENV: "production",
        PUBLIC_URL: "https://bitb.example",
      }),
    });
    const plainAuth = createAdminAuth({
      control,
      config: parseConfig({ DATA_DIR: tmp, NODE_ENV: "production", PUBLIC_URL: ORIGIN }),
    });
    const request = loginRequest({});
    const secure = await secureAuth.createAdminSession(request, admin, "/admin");
    const plain = await plainAuth.createAdminSession(request, admin, "/admin");
    expect(secure.headers.get("Set-Cookie")).toMatch(/; Secure/);
    expect(plain.headers.get("Set-Cookie")).not.toMatch(/Secure/i);
  });
});

describe("requireAdmin", () => {
  it("sends a page visitor to the sign-in page, remembering where they were going", async () => {
    const thrown = await auth
      .requireAdmin(withCookie(null, `${ORIGIN}/admin/tenants/tn_1?x=1`))
      .catch((error: unknown) => error);
    expect(thrown).toBeInstanceOf(Response);
    const response = thrown as Response;
    expect(response.status).toBe(302);
    expect(response.headers.get("Location")).toBe(
      `/login?redirectTo=${encodeURIComponent("/admin/tenants/tn_1?x=1")}`,
    );
  });

  it("answers an API client with a 401 ApiError", async () => {
    const thrown = await auth
      .requireAdmin(withCookie(null, `${ORIGIN}/api/tenants`))
      .catch((error: unknown) => error);
    expect(thrown).toBeInstanceOf(ApiError);
    expect(thrown).toMatchObject({ code: "unauthorized", status: 401, message: "Sign in first." });
  });
});

describe("requireTenantAccess", () => {
  it("lets a platform admin into any tenant and a tenant admin only into theirs", async () => {
    const mine = insertTenant(control, { id: newTenantId(), name: "Mine" });
    const other = insertTenant(control, { id: newTenantId(), name: "Other" });
    const tenantAdmin = insertAdmin(control, {
      email: "tenant@example.com",
      passwordHash: await hashPassword(PASSWORD),
      role: "tenant",
    });
    grantTenant(control, tenantAdmin.id, mine.id);

    const platformCookie = cookieOf(await signIn());
    const tenantCookie = cookieOf(
      await auth.createAdminSession(loginRequest({}), tenantAdmin, "/admin"),
    );

    const asPlatform = await auth.requireTenantAccess(withCookie(platformCookie), other.id);
    expect(asPlatform.tenant.name).toBe("Other");
    const asTenant = await auth.requireTenantAccess(withCookie(tenantCookie), mine.id);
    expect(asTenant).toEqual({ admin: tenantAdmin, tenant: mine });

    // Someone else's tenant, an unknown one and a malformed id look exactly the same.
    const failures = await Promise.all(
      [other.id, newTenantId(), "../control"].map((id) =>
        auth
          .requireTenantAccess(withCookie(tenantCookie, `${ORIGIN}/api/tenants/x/jobs`), id)
          .catch((error: unknown) => error),
      ),
    );
    for (const failure of failures) {
      expect(failure).toBeInstanceOf(ApiError);
      expect(failure).toMatchObject({ status: 404, message: "No such tenant." });
    }

    const page = await auth
      .requireTenantAccess(withCookie(tenantCookie), other.id)
      .catch((error: unknown) => error);
    expect(page).toBeInstanceOf(Response);
    expect((page as Response).status).toBe(404);
    expect(await (page as Response).text()).toBe("No such tenant.");
  });
});

describe("checkSameOrigin", () => {
  const config = { PUBLIC_URL: undefined };
  const post = (headers: Record<string, string>, url = `${ORIGIN}/admin`) =>
    new Request(url, { method: "POST", headers });
  const refusal = (request: Request, publicUrl?: string) => {
    try {
      checkSameOrigin(request, { PUBLIC_URL: publicUrl });
      return undefined;
    } catch (error) {
      return error;
    }
  };

  it("lets same-origin posts and every GET through", () => {
    expect(refusal(post({ Origin: ORIGIN, Cookie: "a=b" }))).toBeUndefined();
    expect(refusal(post({ Referer: `${ORIGIN}/admin/x`, Cookie: "a=b" }))).toBeUndefined();
    expect(
      refusal(new Request(`${ORIGIN}/admin`, { headers: { Origin: "https://evil.example" } })),
    ).toBeUndefined();
    expect(() => checkSameOrigin(post({ Origin: ORIGIN }), config)).not.toThrow();
  });

  it("refuses posts from another site, or with an opaque origin", () => {
    const crossSite: Array<Record<string, string>> = [
      { Origin: "https://evil.example", Cookie: "a=b" },
      { Origin: "null", Cookie: "a=b" },
      { Origin: "http://localhost:3001" },
      { Referer: "https://evil.example/page", Cookie: "a=b" },
      { Referer: "not a url", Cookie: "a=b" },
    ];
    for (const headers of crossSite) {
      const error = refusal(post(headers));
      expect(error).toBeInstanceOf(Response);
      expect((error as Response).status).toBe(403);
    }
    const api = refusal(post({ Origin: "https://evil.example" }, `${ORIGIN}/api/tenants`));
    expect(api).toBeInstanceOf(ApiError);
    expect(api).toMatchObject({ code: "forbidden", message: "Cross-site request refused." });
  });

  it("refuses a cookie-carrying post with neither Origin nor Referer, not a cookieless one", () => {
    expect(refusal(post({ Cookie: "__bitb_admin=x" }))).toBeInstanceOf(Response);
    expect(refusal(post({}))).toBeUndefined();
  });

  it("accepts PUBLIC_URL's origin (TLS ended at a proxy)", () => {
    const behindProxy = post({ Origin: "https://bitb.example", Cookie: "a=b" });
    expect(refusal(behindProxy)).toBeInstanceOf(Response);
    expect(refusal(behindProxy, "https://bitb.example/")).toBeUndefined();
  });
});

describe("createFirstAdmin and setup tokens", () => {
  let empty: ControlDb;
  let emptyDir: string;
  beforeEach(() => {
    emptyDir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-setup-"));
    empty = openControlDb(emptyDir);
  });
  afterEach(() => {
    empty.close();
    fs.rmSync(emptyDir, { recursive: true, force: true });
  });

  it("creates a platform admin with a valid token and uses the token up", async () => {
    const token = createSetupToken(empty, 60_000);
    expect(setupTokenState({ control: empty }, token)).toBe("valid");
    const created = await createFirstAdmin(
      { control: empty },
      { email: " First@Example.com", password: PASSWORD, setupToken: token },
    );
    expect(created).toMatchObject({ email: "first@example.com", role: "platform" });
    expect(isSetupTokenValid(empty, token)).toBe(false);
    expect(setupTokenState({ control: empty }, token)).toBe("admin-exists");
    const signedIn = await createAdminAuth({
      control: empty,
      config: { NODE_ENV: "test", PUBLIC_URL: undefined },
    }).authenticateAdmin(loginRequest({ email: "first@example.com", password: PASSWORD }));
    expect(signedIn.id).toBe(created.id);
  });

  it("refuses a wrong, expired or used token and creates nobody", async () => {
    expect(setupTokenState({ control: empty }, "made-up")).toBe("invalid");
    expect(setupTokenState({ control: empty }, undefined)).toBe("invalid");
    const expired = createSetupToken(empty, 1000, Date.now() - 5000);
    for (const setupToken of ["made-up", expired]) {
      await expect(
        createFirstAdmin(
          { control: empty },
          { email: "a@example.com", password: PASSWORD, setupToken },
        ),
      ).rejects.toThrow(/setup link is not valid/);
    }
    expect(countAdmins(empty)).toBe(0);
  });

  it("requires a real e-mail and a long enough password", async () => {
    await expect(
      createFirstAdmin({ control: empty }, { email: "not-an-email", password: PASSWORD }),
    ).rejects.toThrow(/valid e-mail/);
    await expect(
      createFirstAdmin({ control: empty }, { email: "a@example.com", password: "short" }),
    ).rejects.toThrow(/at least 10 characters/);
    expect(countAdmins(empty)).toBe(0);
  });

  it("makes only one first admin (the CLI needs no token)", async () => {
    await createFirstAdmin({ control: empty }, { email: "a@example.com", password: PASSWORD });
    await expect(
      createFirstAdmin({ control: empty }, { email: "b@example.com", password: PASSWORD }),
    ).rejects.toThrow(/already exists/);
    expect(countAdmins(empty)).toBe(1);
  });
});

describe("safeRedirectPath", () => {
  it("keeps same-site paths and replaces everything else", () => {
    expect(safeRedirectPath("/admin/tenants/a?b=c#d")).toBe("/admin/tenants/a?b=c#d");
    expect(safeRedirectPath("/%2F%2Fevil.example")).toBe("/%2F%2Fevil.example");
    for (const bad of [
      undefined,
      null,
      "",
      "admin",
      "//evil",
      "/\\evil",
      "https://x.y/",
      "/\tx",
      "/..//evil",
    ]) {
      expect(safeRedirectPath(bad)).toBe("/admin");
    }
  });
});
