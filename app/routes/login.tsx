// /login — admin sign-in with e-mail and password. Sends the admin on to `redirectTo` (a
// same-site path only) and, while no admin exists, explains how to create the first one.
// Repeated failures lock the account and the client address out for a while (429).
import { data, Form, redirect, useNavigation } from "react-router";
import {
  adminExists,
  assertSameOrigin,
  authenticateAdmin,
  AuthError,
  createAdminSession,
  getAdmin,
  safeRedirectPath,
  SignInLockedError,
} from "#app/server/access/auth.server.ts";
import { clientAddressOf } from "#app/server/client-address.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";
import { landingPathFor } from "#app/server/trial/trial.server.ts";
import type { Route } from "./+types/login";

export const meta: Route.MetaFunction = () => [{ title: "Sign in — BiTB" }];

export async function loader({ request }: Route.LoaderArgs) {
  const runtime = await getRuntime();
  const redirectTo = safeRedirectPath(new URL(request.url).searchParams.get("redirectTo"));
  if (await getAdmin(runtime, request)) throw redirect(redirectTo);
  return { redirectTo, hasAdmin: await adminExists(runtime) };
}

// A document response takes its headers from here, not from the action's data().
export function headers({ actionHeaders }: Route.HeadersArgs): HeadersInit {
  const retryAfter = actionHeaders.get("Retry-After");
  return retryAfter ? { "Retry-After": retryAfter } : {};
}

export async function action({ request, context }: Route.ActionArgs) {
  const runtime = await getRuntime();
  assertSameOrigin(runtime, request);
  const { config, control } = await getRuntime();
  // The strategy reads the body itself, so read our own fields from a copy first.
  const form = await request.clone().formData();
  const redirectTo = safeRedirectPath(form.get("redirectTo"));
  const email = String(form.get("email") ?? "");
  try {
    const admin = await authenticateAdmin(
      runtime,
      request,
      clientAddressOf(request, context, config),
    );
    // An unfinished trial sign-up continues at its saved step (docs/decisions/030).
    const landing = redirectTo === "/admin" ? landingPathFor(control, admin) : redirectTo;
    return await createAdminSession(runtime, request, admin, landing);
  } catch (error) {
    if (error instanceof SignInLockedError) {
      return data(
        { error: error.message, email },
        { status: 429, headers: { "Retry-After": String(error.retryAfterSeconds) } },
      );
    }
    if (error instanceof AuthError) {
      return data({ error: error.message, email }, { status: 400 });
    }
    throw error;
  }
}

export default function Login({ loaderData, actionData }: Route.ComponentProps) {
  const navigation = useNavigation();
  const signingIn = navigation.state !== "idle" && navigation.formMethod === "POST";
  const error = actionData?.error;
  return (
    <main className="page narrow">
      <h1>Sign in</h1>
      {!loaderData.hasAdmin ? (
        <div className="card notice" role="status">
          <p>
            <strong>There is no admin yet.</strong> Open the one-time setup link that the server
            printed in its log when it started (it looks like <code>/setup?token=…</code>), or
            create the first admin on the server with <code>npm run admin:create</code>.
          </p>
        </div>
      ) : null}
      <Form method="post" className="card" aria-describedby={error ? "login-error" : undefined}>
        <input type="hidden" name="redirectTo" value={loaderData.redirectTo} />
        {error ? (
          <p id="login-error" className="error" role="alert">
            {error}
          </p>
        ) : null}
        <label htmlFor="email">E-mail</label>
        <input
          id="email"
          name="email"
          type="email"
          autoComplete="username"
          required
          maxLength={254}
          defaultValue={actionData?.email}
          aria-invalid={error ? true : undefined}
        />
        <label htmlFor="password">Password</label>
        <input
          id="password"
          name="password"
          type="password"
          autoComplete="current-password"
          required
          aria-invalid={error ? true : undefined}
        />
        <div className="actions">
          <button type="submit" disabled={signingIn}>
            {signingIn ? "Signing in…" : "Sign in"}
          </button>
        </div>
      </Form>
      <p>
        <a href="/">Back to the start page</a>
      </p>
    </main>
  );
}
