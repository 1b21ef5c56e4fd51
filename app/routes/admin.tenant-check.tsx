// /admin/tenants/:tenantId/check — the knowledge-base check (docs/decisions/032): the latest
// check with its counts and findings, "Run again" with progress while it runs (the page
// revalidates every second until it is done), and the actions the check suggests, each with
// the passages that support it and Accept / Reject.
import { data, Form, Link, useNavigation } from "react-router";
import { z } from "zod";
import type { ActionSuggestion } from "#app/shared/kb-check.ts";
import { KbCheckView } from "#app/admin/kb-check-view.tsx";
import { usePollWhile } from "#app/admin/progress.tsx";
import { TenantNav } from "#app/admin/tenant-nav.tsx";
import { assertSameOrigin, requireTenantAccess } from "#app/server/access/auth.server.ts";
import { ApiError } from "#app/server/errors.server.ts";
import { checkOverview, decide, startCheck } from "#app/server/kb-check/api.server.ts";
import { readFormData } from "#app/server/request.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";
import type { Route } from "./+types/admin.tenant-check";

export const meta: Route.MetaFunction = ({ data }) => [
  { title: `Check: ${data?.tenant.name ?? "tenant"} — BiTB admin` },
];

export async function loader({ request, params }: Route.LoaderArgs) {
  const runtime = await getRuntime();
  const { tenant } = await requireTenantAccess(runtime, request, params.tenantId);
  return { tenant: { id: tenant.id, name: tenant.name }, ...checkOverview(runtime, tenant) };
}

const formSchema = z.discriminatedUnion("intent", [
  z.strictObject({ intent: z.literal("run") }),
  z.strictObject({
    intent: z.literal("decide"),
    id: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER),
    decision: z.enum(["accept", "reject"]),
  }),
]);

type ActionResult = { ok: boolean; message: string };

export async function action({ request, params }: Route.ActionArgs) {
  const runtime = await getRuntime();
  assertSameOrigin(runtime, request);
  const { tenant, admin } = await requireTenantAccess(runtime, request, params.tenantId);
  try {
    const form = await readFormData(request, 16 * 1024);
    const input = formSchema.parse(Object.fromEntries(form));
    if (input.intent === "run") {
      await startCheck(runtime, tenant, admin, false);
      return data<ActionResult>({ ok: true, message: "The check is running." });
    }
    const { message } = decide(runtime, tenant, admin, input.id, input.decision);
    return data<ActionResult>({ ok: true, message });
  } catch (error) {
    if (error instanceof ApiError) {
      return data<ActionResult>({ ok: false, message: error.message }, { status: error.status });
    }
    if (error instanceof z.ZodError) {
      return data<ActionResult>({ ok: false, message: "Unknown action." }, { status: 400 });
    }
    throw error;
  }
}

export default function TenantCheck({ loaderData, actionData }: Route.ComponentProps) {
  const { tenant, check, lastReport, suggestions } = loaderData;
  const navigation = useNavigation();
  const running = check?.state === "running";
  usePollWhile(running);
  const submitting = navigation.state !== "idle" && navigation.formData?.get("intent") === "run";
  const proposed = suggestions.filter((s) => s.status === "proposed");
  const decided = suggestions.filter((s) => s.status !== "proposed");
  return (
    <main className="page">
      <p className="breadcrumbs">
        <Link to="/admin">Tenants</Link> /{" "}
        <Link to={`/admin/tenants/${tenant.id}`}>{tenant.name}</Link> / Check
      </p>
      <h1>Knowledge-base check</h1>
      <TenantNav tenantId={tenant.id} />
      {actionData ? (
        <p className={actionData.ok ? "ok" : "error"} role={actionData.ok ? "status" : "alert"}>
          {actionData.message}
        </p>
      ) : null}

      <section className="card" aria-labelledby="check-heading">
        <div className="row">
          <h2 id="check-heading" className="grow">
            What the check found
          </h2>
          <Form method="post">
            <input type="hidden" name="intent" value="run" />
            <button className="button" type="submit" disabled={running || submitting}>
              {running || submitting ? "Checking…" : "Run again"}
            </button>
          </Form>
        </div>
        <p className="hint">
          Measured on your documents, never a score: empty, tiny (under 30 words), duplicate or
          unreadable documents, failed imports, and the widget&apos;s starter questions put through
          the same search and answerer visitors get.
        </p>
        <KbCheckView check={check} />
        {running && lastReport ? (
          <>
            <h3 className="small-heading">Previous result</h3>
            <KbCheckView check={lastReport} />
          </>
        ) : null}
      </section>

      <section className="card" aria-labelledby="suggestions-heading">
        <h2 id="suggestions-heading">Suggested actions</h2>
        <p className="hint">
          Actions your content points to, with the passages that show it. Accepting switches the
          action on; those that need your own system ask for a webhook on the Actions tab.
        </p>
        {proposed.length === 0 ? (
          <p className="muted">
            {suggestions.length === 0
              ? "No action is suggested yet: none is supported by enough passages."
              : "Nothing new to decide."}
          </p>
        ) : (
          <ul className="kb-suggestions">
            {proposed.map((suggestion) => (
              <SuggestionItem key={suggestion.id} suggestion={suggestion} />
            ))}
          </ul>
        )}
        {decided.length > 0 ? (
          <>
            <h3 className="small-heading">Decided</h3>
            <ul className="kb-suggestions">
              {decided.map((suggestion) => (
                <SuggestionItem key={suggestion.id} suggestion={suggestion} />
              ))}
            </ul>
          </>
        ) : null}
      </section>
    </main>
  );
}

const OUTCOME_TEXT: Record<string, string> = {
  enabled: "Accepted: switched on",
  needs_webhook: "Accepted: needs a webhook — set it on the Actions tab",
  rejected: "Rejected",
};

function SuggestionItem({ suggestion }: { suggestion: ActionSuggestion }) {
  const headingId = `suggestion-${suggestion.id}`;
  return (
    <li className="kb-suggestion" data-action={suggestion.action}>
      <p>
        <strong id={headingId}>{suggestion.title}</strong>{" "}
        <span className="muted small">({suggestion.action})</span>
      </p>
      <p className="small">{suggestion.reason}</p>
      <details>
        <summary>Evidence ({suggestion.evidence.length})</summary>
        <ul>
          {suggestion.evidence.map((evidence) => (
            <li key={evidence.chunkId}>
              <strong>{evidence.title}</strong>
              {evidence.headingPath && evidence.headingPath !== evidence.title ? (
                <span className="muted"> — {evidence.headingPath}</span>
              ) : null}
              <p className="snippet small">{evidence.snippet}</p>
            </li>
          ))}
        </ul>
      </details>
      {suggestion.status === "proposed" ? (
        <div className="row">
          <Form method="post">
            <input type="hidden" name="intent" value="decide" />
            <input type="hidden" name="id" value={suggestion.id} />
            <input type="hidden" name="decision" value="accept" />
            <button className="button" type="submit" aria-describedby={headingId}>
              Accept
            </button>
          </Form>
          <Form method="post">
            <input type="hidden" name="intent" value="decide" />
            <input type="hidden" name="id" value={suggestion.id} />
            <input type="hidden" name="decision" value="reject" />
            <button className="button secondary-button" type="submit" aria-describedby={headingId}>
              Reject
            </button>
          </Form>
        </div>
      ) : (
        <p className="small">
          <span className={`badge ${suggestion.status === "accepted" ? "badge-done" : ""}`}>
            {OUTCOME_TEXT[suggestion.outcome ?? ""] ?? suggestion.status}
          </span>
        </p>
      )}
    </li>
  );
}
