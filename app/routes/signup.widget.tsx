// /signup/widget — step 3 of the trial: the widget's colours, corner, greeting, starter
// questions, voice greeting and language, with a live preview of the real widget; saving
// moves on to the embed code.
import { data, Link, redirect, useNavigation } from "react-router";
import { signupStepPath } from "#app/shared/signup-steps.ts";
import { WidgetStyleForm, type WidgetStyleErrors } from "#app/admin/widget-style-form.tsx";
import { assertSameOrigin } from "#app/server/access/auth.server.ts";
import { auditAdminAction } from "#app/server/audit/audit.server.ts";
import { readFormData } from "#app/server/request.server.ts";
import { advanceSignup, requireSignupStep } from "#app/server/trial/trial.server.ts";
import {
  getWidgetSettings,
  updateWidgetSettings,
} from "#app/server/widget-config/settings.server.ts";
import { parseWidgetStyleForm } from "#app/server/widget-config/style.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";
import type { Route } from "./+types/signup.widget";

export const meta: Route.MetaFunction = () => [{ title: "Style the widget — BiTB trial" }];

export async function loader({ request }: Route.LoaderArgs) {
  const runtime = await getRuntime();
  const { tenant } = await requireSignupStep(runtime, request, 3);
  return { tenantId: tenant.id, settings: getWidgetSettings(runtime, tenant) };
}

export async function action({ request }: Route.ActionArgs) {
  const runtime = await getRuntime();
  assertSameOrigin(runtime, request);
  const { tenant, admin } = await requireSignupStep(runtime, request, 3);
  const parsed = parseWidgetStyleForm(await readFormData(request, 64 * 1024));
  if (!parsed.ok) {
    return data(
      {
        errors: parsed.fieldErrors as WidgetStyleErrors,
        message: "Nothing was saved: correct the fields marked in red.",
      },
      { status: 400 },
    );
  }
  updateWidgetSettings(runtime, tenant, parsed.update);
  auditAdminAction(runtime, tenant, admin, "widget.style", parsed.update);
  // The knowledge-base check tries the starter questions: check the new ones.
  if (parsed.update.starterQuestions?.length) runtime.kbChecks.schedule(tenant.id);
  advanceSignup(runtime.control, tenant.id, 4);
  return redirect(signupStepPath(4));
}

export default function SignupWidget({ loaderData, actionData }: Route.ComponentProps) {
  const navigation = useNavigation();
  return (
    <>
      <p>
        Make the chat look like part of your site. The preview is the real widget: open it and try a
        question.
      </p>
      <WidgetStyleForm
        tenantId={loaderData.tenantId}
        settings={loaderData.settings}
        errors={actionData?.errors}
        result={actionData ? { ok: false, message: actionData.message } : undefined}
        intent="save-widget"
        submitLabel="Save and continue"
        pending={navigation.state !== "idle" && navigation.formMethod === "POST"}
        secondary={<Link to={signupStepPath(2)}>Back</Link>}
      />
    </>
  );
}
