// /signup — the frame of the self-serve trial's four steps (docs/decisions/030): a top bar,
// the list of steps (done ones can be revisited; the saved step is where a returning person
// continues), the trial's end and token budget once there is a tenant, and the step below.
import { Form, Link, Outlet, useLocation } from "react-router";
import { SIGNUP_STEPS } from "#app/shared/signup-steps.ts";
import { getAdmin } from "#app/server/access/auth.server.ts";
import { tenantQuota } from "#app/server/limits/quota.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";
import { tenantDb } from "#app/server/tenancy/tenants.server.ts";
import { signupEnabled, signupOf, signupTenant } from "#app/server/trial/trial.server.ts";
import "#app/admin/trial.css";
import type { Route } from "./+types/signup";

export async function loader({ request }: Route.LoaderArgs) {
  const runtime = await getRuntime();
  const admin = await getAdmin(runtime, request);
  const progress = admin ? signupOf(runtime.control, admin.id) : undefined;
  const tenant = progress ? signupTenant(runtime.control, progress) : undefined;
  const quota = tenant ? tenantQuota(runtime.control, tenantDb(runtime, tenant), tenant.id) : null;
  return {
    enabled: signupEnabled(runtime.config),
    admin: admin ? { email: admin.email } : null,
    progress:
      progress && tenant
        ? {
            step: progress.step,
            completed: progress.completedAt !== null,
            tenantId: tenant.id,
            tenantName: tenant.name,
          }
        : null,
    trial: quota
      ? { endsAt: quota.trialEndsAt, tokenBudget: quota.tokenBudget, usedTokens: quota.usedTokens }
      : null,
  };
}

const date = (ms: number) =>
  new Date(ms).toLocaleDateString("en-GB", {
    day: "numeric",
    month: "long",
    year: "numeric",
    timeZone: "UTC",
  });

export default function SignupLayout({ loaderData }: Route.ComponentProps) {
  const { admin, progress, trial, enabled } = loaderData;
  const { pathname } = useLocation();
  const current = SIGNUP_STEPS.find((s) => s.path === pathname.replace(/\/$/, ""))?.step ?? 1;
  // Step 1 is done once there is an account; later ones once the saved step is past them.
  const reached = progress ? (progress.completed ? 4 : progress.step) : 1;
  return (
    <>
      <header className="topbar">
        <Link to="/" className="brand">
          BiTB
        </Link>
        <nav aria-label="Account">
          {admin ? (
            <>
              <span className="muted signed-in">{admin.email}</span>
              {progress ? (
                <Link to={`/admin/tenants/${progress.tenantId}`}>Skip to the dashboard</Link>
              ) : null}
              <Form method="post" action="/logout">
                <button type="submit" className="secondary">
                  Sign out
                </button>
              </Form>
            </>
          ) : (
            <Link to="/login">Sign in</Link>
          )}
        </nav>
      </header>
      <main className="page">
        <h1>{progress ? `Set up ${progress.tenantName}` : "Start your free trial"}</h1>
        {trial && trial.endsAt !== null ? (
          <p className="muted trial-banner">
            Trial until {date(trial.endsAt)}
            {trial.tokenBudget !== null
              ? ` · ${Math.max(0, trial.tokenBudget - trial.usedTokens).toLocaleString("en")} of ${trial.tokenBudget.toLocaleString("en")} tokens left`
              : ""}
          </p>
        ) : null}
        {/* The steps mean nothing where no one can sign up. */}
        <nav className="signup-steps" aria-label="Sign-up steps" hidden={!enabled && !progress}>
          <ol>
            {SIGNUP_STEPS.map((s) => {
              const done =
                progress !== null && (s.step === 1 || s.step < reached || progress.completed);
              const open = progress !== null && s.step <= reached;
              const state = s.step === current ? "current" : done ? "done" : "";
              return (
                <li key={s.step} className={state}>
                  {open && s.step !== current ? (
                    <Link to={s.path}>{s.label}</Link>
                  ) : (
                    <span aria-current={s.step === current ? "step" : undefined}>{s.label}</span>
                  )}
                  {done && s.step !== current ? (
                    <span className="visually-hidden"> (done)</span>
                  ) : null}
                </li>
              );
            })}
          </ol>
        </nav>
        <Outlet />
      </main>
    </>
  );
}
