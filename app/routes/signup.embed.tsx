// /signup/embed — step 4 of the trial: the embed code with a copy button, the domains allowed
// to show the widget, and a test page; finishing leads to the tenant's dashboard.
import { data, Form, Link, redirect, useNavigation } from "react-router";
import { z } from "zod";
import { signupStepPath } from "#app/shared/signup-steps.ts";
import { EmbedPanel } from "#app/admin/widget-embed.tsx";
import { assertSameOrigin } from "#app/server/access/auth.server.ts";
import { auditAdminAction } from "#app/server/audit/audit.server.ts";
import { readFormData } from "#app/server/request.server.ts";
import { runSecurityAction } from "#app/server/tenancy/security.server.ts";
import { finishSignup, requireSignupStep } from "#app/server/trial/trial.server.ts";
import { embedData } from "#app/server/widget-config/style.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";
import type { Route } from "./+types/signup.embed";

export const meta: Route.MetaFunction = () => [{ title: "Put it on your site — BiTB trial" }];

export async function loader({ request }: Route.LoaderArgs) {
  const runtime = await getRuntime();
  const { tenant } = await requireSignupStep(runtime, request, 4);
  return { tenantId: tenant.id, embed: embedData(runtime, tenant, request) };
}

const intentSchema = z.enum(["set-origins", "finish"]);

export async function action({ request }: Route.ActionArgs) {
  const runtime = await getRuntime();
  assertSameOrigin(runtime, request);
  const { tenant, admin } = await requireSignupStep(runtime, request, 4);
  const form = await readFormData(request, 64 * 1024);
  const intent = intentSchema.safeParse(form.get("intent"));
  if (!intent.success) {
    return data({ ok: false, message: "Unknown action. Reload the page." }, { status: 400 });
  }
  if (intent.data === "finish") {
    finishSignup(runtime.control, tenant.id);
    auditAdminAction(runtime, tenant, admin, "trial.finish");
    return redirect(`/admin/tenants/${tenant.id}`);
  }
  try {
    return {
      ok: true,
      message: runSecurityAction(runtime, tenant, admin, "set-origins", form).message,
    };
  } catch (error) {
    if (error instanceof z.ZodError) {
      return data(
        { ok: false, message: error.issues[0]?.message ?? "Check the list of domains." },
        { status: 400 },
      );
    }
    throw error;
  }
}

export default function SignupEmbed({ loaderData, actionData }: Route.ComponentProps) {
  const navigation = useNavigation();
  const pending =
    navigation.state !== "idle" && navigation.formMethod === "POST"
      ? String(navigation.formData?.get("intent") ?? "")
      : null;
  return (
    <>
      <p>Last step: put the chat on your site.</p>
      <EmbedPanel
        {...loaderData.embed}
        originsResult={actionData}
        pending={pending === "set-origins"}
      />
      <Form method="post" className="step-actions">
        <input type="hidden" name="intent" value="finish" />
        <Link to={signupStepPath(3)}>Back</Link>
        <button type="submit" disabled={pending === "finish"}>
          Finish and open the dashboard
        </button>
      </Form>
    </>
  );
}
