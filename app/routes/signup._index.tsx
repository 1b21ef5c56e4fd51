// /signup — step 1 of the trial: e-mail, business name, password and (optionally) industry
// make a tenant on the trial plan and its admin account, signed in at once. When sign-up is
// switched off it says so; a signed-in person who already signed up sees their account and
// continues where they left off.
import { useEffect, useRef } from "react";
import { data, Form, Link, useNavigation } from "react-router";
import { INDUSTRIES, signupStepPath } from "#app/shared/signup-steps.ts";
import { assertSameOrigin, createAdminSession, getAdmin } from "#app/server/access/auth.server.ts";
import { clientAddressOf } from "#app/server/client-address.server.ts";
import { readFormData } from "#app/server/request.server.ts";
import { MIN_PASSWORD_LENGTH } from "#app/server/access/password.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";
import { storedIndustry } from "#app/server/tenancy/reads.server.ts";
import { tenantDb } from "#app/server/tenancy/tenants.server.ts";
import {
  signUp,
  SignUpError,
  SignUpValidationError,
  signupEnabled,
  signupOf,
  signupTenant,
  type SignUpField,
} from "#app/server/trial/trial.server.ts";
import type { Route } from "./+types/signup._index";

export const meta: Route.MetaFunction = () => [{ title: "Start your free trial — BiTB" }];

export async function loader({ request }: Route.LoaderArgs) {
  const runtime = await getRuntime();
  const admin = await getAdmin(runtime, request);
  if (admin) {
    const progress = signupOf(runtime.control, admin.id);
    const tenant = progress ? signupTenant(runtime.control, progress) : undefined;
    if (progress && tenant) {
      const industry = storedIndustry(tenantDb(runtime, tenant));
      return {
        state: "account" as const,
        email: admin.email,
        businessName: tenant.name,
        industry: INDUSTRIES.find((i) => i.value === industry)?.label ?? null,
        continueTo:
          progress.completedAt === null
            ? signupStepPath(progress.step)
            : `/admin/tenants/${tenant.id}`,
        completed: progress.completedAt !== null,
      };
    }
    return { state: "other-account" as const, email: admin.email };
  }
  if (!signupEnabled(runtime.config)) return { state: "disabled" as const };
  return {
    state: "form" as const,
    minPasswordLength: MIN_PASSWORD_LENGTH,
    trialDays: runtime.config.TRIAL_DAYS,
    tokenBudget: runtime.config.TRIAL_TOKEN_BUDGET,
  };
}

// A document response takes its headers from here, not from the action's data().
export function headers({ actionHeaders }: Route.HeadersArgs): HeadersInit {
  const retryAfter = actionHeaders.get("Retry-After");
  return retryAfter ? { "Retry-After": retryAfter } : {};
}

type Values = { email: string; businessName: string; industry: string };
type ActionData = {
  values: Values;
  error?: string;
  fieldErrors: Partial<Record<SignUpField, string>>;
};

export async function action({ request, context }: Route.ActionArgs) {
  const runtime = await getRuntime();
  assertSameOrigin(runtime, request);
  const form = await readFormData(request, 16 * 1024);
  const text = (name: string) => {
    const value = form.get(name);
    return typeof value === "string" ? value : "";
  };
  const values: Values = {
    email: text("email").slice(0, 254),
    businessName: text("businessName").slice(0, 200),
    industry: text("industry").slice(0, 40),
  };
  try {
    const { admin } = await signUp(
      runtime,
      { ...values, password: text("password") },
      clientAddressOf(request, context, runtime.config),
    );
    return await createAdminSession(runtime, request, admin, signupStepPath(2));
  } catch (error) {
    if (error instanceof SignUpValidationError) {
      return data<ActionData>({ values, fieldErrors: error.fieldErrors }, { status: 400 });
    }
    if (error instanceof SignUpError) {
      return data<ActionData>(
        {
          values,
          error: error.field ? undefined : error.message,
          fieldErrors: error.field ? { [error.field]: error.message } : {},
        },
        {
          status: error.status,
          headers: error.retryAfterSeconds
            ? { "Retry-After": String(error.retryAfterSeconds) }
            : undefined,
        },
      );
    }
    throw error;
  }
}

const FIELD_LABELS: Record<SignUpField, string> = {
  email: "E-mail",
  businessName: "Business name",
  password: "Password",
  industry: "Industry",
};

export default function SignupAccount({ loaderData, actionData }: Route.ComponentProps) {
  const navigation = useNavigation();
  const submitting = navigation.state !== "idle" && navigation.formMethod === "POST";
  const summary = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (actionData) summary.current?.focus();
  }, [actionData]);

  if (loaderData.state === "disabled") {
    return (
      <section className="card notice" aria-labelledby="signup-off">
        <h2 id="signup-off">Sign-up is switched off on this server</h2>
        <p>
          This BiTB server does not take new sign-ups. Ask its operator for an account, or{" "}
          <Link to="/login">sign in</Link> if you have one. Operators switch sign-up on with{" "}
          <code>SIGNUP_ENABLED=true</code>.
        </p>
      </section>
    );
  }
  if (loaderData.state === "other-account") {
    return (
      <section className="card" aria-labelledby="signed-in">
        <h2 id="signed-in">You are signed in</h2>
        <p>
          You are signed in as {loaderData.email}, an account that did not come from a sign-up. Sign
          out first to start a trial with another e-mail address, or{" "}
          <Link to="/admin">go to your tenants</Link>.
        </p>
      </section>
    );
  }
  if (loaderData.state === "account") {
    return (
      <section className="card" aria-labelledby="your-account">
        <h2 id="your-account">Your account</h2>
        <dl>
          <dt>E-mail</dt>
          <dd>{loaderData.email}</dd>
          <dt>Business name</dt>
          <dd>{loaderData.businessName}</dd>
          {loaderData.industry ? (
            <>
              <dt>Industry</dt>
              <dd>{loaderData.industry}</dd>
            </>
          ) : null}
        </dl>
        <p className="muted">Your account is made; the next steps can be changed at any time.</p>
        <div className="step-actions">
          <Link className="button" to={loaderData.continueTo}>
            {loaderData.completed ? "Go to the dashboard" : "Continue where you left off"}
          </Link>
        </div>
      </section>
    );
  }

  const fieldErrors = actionData?.fieldErrors ?? {};
  const problems = Object.entries(fieldErrors) as Array<[SignUpField, string]>;
  const invalid = (name: SignUpField) => (fieldErrors[name] ? true : undefined);
  const describedBy = (name: SignUpField, hint?: string) =>
    [fieldErrors[name] ? `${name}-error` : "", hint ?? ""].join(" ").trim() || undefined;
  const FieldError = ({ name }: { name: SignUpField }) =>
    fieldErrors[name] ? (
      <p id={`${name}-error`} className="error field-error">
        {fieldErrors[name]}
      </p>
    ) : null;

  return (
    <div className="narrow-column">
      <p>
        Your own assistant, answering from your documents, on your site in a few minutes.{" "}
        {loaderData.trialDays} days free, with {loaderData.tokenBudget.toLocaleString("en")} tokens
        for answers. Already have an account? <Link to="/login">Sign in</Link>.
      </p>
      <Form method="post" className="card" noValidate>
        <div ref={summary} tabIndex={-1} className="error-summary">
          {actionData?.error ? (
            <p className="error" role="alert">
              {actionData.error}
            </p>
          ) : problems.length > 0 ? (
            <div role="alert">
              <p className="error">
                {problems.length === 1 ? "One field needs" : `${problems.length} fields need`} your
                attention:
              </p>
              <ul>
                {problems.map(([name, message]) => (
                  <li key={name}>
                    <a href={`#${name}`}>{FIELD_LABELS[name]}</a>: {message}
                  </li>
                ))}
              </ul>
            </div>
          ) : null}
        </div>
        <label htmlFor="email">E-mail</label>
        <input
          id="email"
          name="email"
          type="email"
          autoComplete="email"
          required
          maxLength={254}
          defaultValue={actionData?.values.email}
          aria-invalid={invalid("email")}
          aria-describedby={describedBy("email", "email-hint")}
        />
        <p id="email-hint" className="hint muted">
          You sign in with it.
        </p>
        <FieldError name="email" />
        <label htmlFor="businessName">Business name</label>
        <input
          id="businessName"
          name="businessName"
          type="text"
          autoComplete="organization"
          required
          maxLength={100}
          defaultValue={actionData?.values.businessName}
          aria-invalid={invalid("businessName")}
          aria-describedby={describedBy("businessName")}
        />
        <FieldError name="businessName" />
        <label htmlFor="password">Password</label>
        <input
          id="password"
          name="password"
          type="password"
          autoComplete="new-password"
          required
          minLength={loaderData.minPasswordLength}
          maxLength={1024}
          aria-invalid={invalid("password")}
          aria-describedby={describedBy("password", "password-hint")}
        />
        <p id="password-hint" className="hint muted">
          At least {loaderData.minPasswordLength} characters. A few unrelated words make a good one.
        </p>
        <FieldError name="password" />
        <label htmlFor="industry">Industry (optional)</label>
        <select
          id="industry"
          name="industry"
          defaultValue={actionData?.values.industry ?? ""}
          aria-invalid={invalid("industry")}
          aria-describedby={describedBy("industry", "industry-hint")}
        >
          <option value="">Choose if you like</option>
          {INDUSTRIES.map((industry) => (
            <option key={industry.value} value={industry.value}>
              {industry.label}
            </option>
          ))}
        </select>
        <p id="industry-hint" className="hint muted">
          Helps the knowledge-base check suggest what visitors usually ask.
        </p>
        <FieldError name="industry" />
        <div className="actions">
          <button type="submit" disabled={submitting}>
            {submitting ? "Creating your assistant…" : "Create my assistant"}
          </button>
        </div>
      </Form>
    </div>
  );
}
