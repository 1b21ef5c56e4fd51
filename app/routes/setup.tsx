// /setup?token=… — creates the first platform admin with the one-time link the server prints
// at start-up while no admin exists, then signs them in. Any other visit gets an explanation.
import { data, Form, useNavigation } from "react-router";
import { z } from "zod";
import {
  assertSameOrigin,
  AuthError,
  createAdminSession,
  createFirstAdmin,
  setupTokenState,
} from "#app/server/access/auth.server.ts";
import { MIN_PASSWORD_LENGTH } from "#app/server/access/password.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";
import type { Route } from "./+types/setup";

export const meta: Route.MetaFunction = () => [{ title: "Set up BiTB" }];

const setupForm = z.object({
  token: z.string().max(200),
  email: z.string().max(254),
  password: z.string().max(1024),
  confirm: z.string().max(1024),
});

export async function loader({ request }: Route.LoaderArgs) {
  const runtime = await getRuntime();
  const token = new URL(request.url).searchParams.get("token") ?? "";
  return {
    token,
    state: await setupTokenState(runtime, token),
    minPasswordLength: MIN_PASSWORD_LENGTH,
  };
}

export async function action({ request }: Route.ActionArgs) {
  const runtime = await getRuntime();
  assertSameOrigin(runtime, request);
  const parsed = setupForm.safeParse(Object.fromEntries(await request.formData()));
  if (!parsed.success) {
    return data({ error: "Fill in every field of the form.", email: "" }, { status: 400 });
  }
  const { token, email, password, confirm } = parsed.data;
  if (password !== confirm) {
    return data(
      { error: "The two passwords differ. Type the same password twice.", email },
      { status: 400 },
    );
  }
  try {
    const admin = await createFirstAdmin(await getRuntime(), {
      email,
      password,
      setupToken: token,
    });
    return await createAdminSession(runtime, request, admin, "/admin");
  } catch (error) {
    if (error instanceof AuthError) return data({ error: error.message, email }, { status: 400 });
    throw error;
  }
}

export default function Setup({ loaderData, actionData }: Route.ComponentProps) {
  const navigation = useNavigation();
  const creating = navigation.state !== "idle" && navigation.formMethod === "POST";
  const { state, token, minPasswordLength } = loaderData;
  const error = actionData?.error;

  if (state === "admin-exists") {
    return (
      <main className="page narrow">
        <h1>BiTB is already set up</h1>
        <p>An admin exists, so this setup link does nothing any more.</p>
        <p>
          <a className="button" href="/login">
            Go to sign-in
          </a>
        </p>
      </main>
    );
  }
  if (state === "invalid") {
    return (
      <main className="page narrow">
        <h1>This setup link does not work</h1>
        <p>
          The link is wrong, has expired (links last 24 hours) or has been used already. Restart the
          server to print a new link in its log, or create the first admin on the server with{" "}
          <code>npm run admin:create</code>.
        </p>
      </main>
    );
  }
  return (
    <main className="page narrow">
      <h1>Create the first admin</h1>
      <p className="muted">
        This account manages the whole platform: every tenant and its knowledge. The setup link
        works once.
      </p>
      <Form method="post" className="card">
        <input type="hidden" name="token" value={token} />
        {error ? (
          <p id="setup-error" className="error" role="alert">
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
        />
        <label htmlFor="password">Password</label>
        <input
          id="password"
          name="password"
          type="password"
          autoComplete="new-password"
          required
          minLength={minPasswordLength}
          aria-describedby="password-hint"
        />
        <p id="password-hint" className="hint muted">
          At least {minPasswordLength} characters. A few unrelated words make a good one.
        </p>
        <label htmlFor="confirm">Password again</label>
        <input
          id="confirm"
          name="confirm"
          type="password"
          autoComplete="new-password"
          required
          minLength={minPasswordLength}
        />
        <div className="actions">
          <button type="submit" disabled={creating}>
            {creating ? "Creating…" : "Create admin and sign in"}
          </button>
        </div>
      </Form>
    </main>
  );
}
