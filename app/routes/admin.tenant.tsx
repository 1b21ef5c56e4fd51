// /admin/tenants/:tenantId — one tenant: the widget's embed snippet, the answer model, privacy,
// a summary of the knowledge base (managed on the Knowledge tab, admin.tenant-knowledge.tsx),
// the content gaps and usage; plus the embed, API key, quota and audit section
// (app/admin/tenant-security.tsx).
import { data, Form, Link } from "react-router";
import { z } from "zod";
import { usageSeries, usageTotals } from "#app/server/tenancy/reads.server.ts";
import type { UsageTotals } from "#tenants/usage.ts";
import { countChunks, hasPendingJobs, listDocuments } from "#app/server/tenancy/reads.server.ts";
import { usePollWhile } from "#app/admin/progress.tsx";
import { assertSameOrigin, requireTenantAccess } from "#app/server/access/auth.server.ts";
import { ApiError } from "#app/server/errors.server.ts";
import { readFormData } from "#app/server/request.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";
import {
  llmModelSchema,
  updateTenantMaskTranscripts,
  updateTenantModel,
} from "#app/server/tenancy/settings.server.ts";
import { tenantDb } from "#app/server/tenancy/tenants.server.ts";
import { groupUnanswered, listUnanswered } from "#app/server/tenancy/reads.server.ts";
import { TenantSecurity } from "#app/admin/tenant-security.tsx";
import { auditAdminAction } from "#app/server/audit/audit.server.ts";
import {
  auditQueryOf,
  runSecurityAction,
  securityIntents,
  tenantSecurityData,
  type SecurityIntent,
} from "#app/server/tenancy/security.server.ts";
import { TenantNav } from "#app/admin/tenant-nav.tsx";
import type { Route } from "./+types/admin.tenant";
import {
  CopyTextButton,
  FormMessage,
  formatBytes,
  formatTime,
  usePendingIntent,
} from "#app/admin/forms.tsx";

export const meta: Route.MetaFunction = ({ data }) => [
  { title: `${data?.tenant.name ?? "Tenant"} — BiTB admin` },
];

const UNANSWERED_SHOWN = 20;
const USAGE_DAYS_SHOWN = 30;

const intentSchema = z.enum(["set-model", "set-privacy", ...securityIntents]);
type Intent = z.infer<typeof intentSchema>;

export async function loader({ request, params }: Route.LoaderArgs) {
  const runtime = await getRuntime();
  const { tenant } = await requireTenantAccess(runtime, request, params.tenantId);
  const db = tenantDb(runtime, tenant);
  const documents = listDocuments(db);
  const origin = runtime.config.PUBLIC_URL
    ? new URL(runtime.config.PUBLIC_URL).origin
    : new URL(request.url).origin;
  return {
    tenant: {
      id: tenant.id,
      name: tenant.name,
      plan: tenant.plan,
      status: tenant.status,
      llmModel: tenant.llmModel,
      maskTranscripts: tenant.maskTranscripts,
    },
    answerer: { name: runtime.answerer.name, model: runtime.answerer.model },
    security: tenantSecurityData(runtime, tenant, origin, auditQueryOf(new URL(request.url))),
    knowledge: {
      documents: documents.length,
      chunks: countChunks(db),
      bytes: documents.reduce((sum, document) => sum + document.bytes, 0),
      lastSync: documents.reduce((last, document) => Math.max(last, document.updatedAt), 0),
      indexing: hasPendingJobs(db),
    },
    unanswered: groupUnanswered(listUnanswered(db, { limit: UNANSWERED_SHOWN })),
    usage: usageTotals(usageSeries(db, { days: USAGE_DAYS_SHOWN })),
  };
}

type ActionResult = { intent: Intent | null; ok: boolean; message: string; secret?: string };

function result(intent: Intent | null, ok: boolean, message: string, status = 200) {
  return data<ActionResult>({ intent, ok, message }, { status });
}

const isSecurityIntent = (intent: Intent): intent is SecurityIntent =>
  (securityIntents as readonly string[]).includes(intent);

export async function action({ request, params }: Route.ActionArgs) {
  const runtime = await getRuntime();
  assertSameOrigin(runtime, request);
  const { tenant, admin } = await requireTenantAccess(runtime, request, params.tenantId);
  let intent: Intent | null = null;
  try {
    const form = await readFormData(request, 64 * 1024);
    const parsedIntent = intentSchema.safeParse(form.get("intent"));
    if (!parsedIntent.success) return result(null, false, "Unknown action.", 400);
    intent = parsedIntent.data;
    if (isSecurityIntent(intent)) {
      const done = runSecurityAction(runtime, tenant, admin, intent, form);
      return data<ActionResult>(
        { intent, ok: true, message: done.message, secret: done.secret },
        { headers: { "Cache-Control": "no-store" } },
      );
    }
    // Audited once the action has been carried out, never for a refused one.
    const done = (message: string) => {
      auditAdminAction(runtime, tenant, admin, `page.${intent}`);
      return result(intent, true, message);
    };
    switch (intent) {
      case "set-model": {
        const model = llmModelSchema.parse(form.get("llmModel") ?? "");
        const updated = updateTenantModel(runtime, tenant, model);
        return done(
          updated.llmModel
            ? `Answers now use ${updated.llmModel}.`
            : "Answers now use the server's default model.",
        );
      }
      case "set-privacy": {
        // An unchecked checkbox sends nothing.
        const mask = form.get("maskTranscripts") === "on";
        updateTenantMaskTranscripts(runtime, tenant, mask);
        return done(
          mask
            ? "New transcripts are stored with personal data masked."
            : "New transcripts are stored as typed.",
        );
      }
    }
  } catch (error) {
    if (error instanceof ApiError) return result(intent, false, error.message, error.status);
    if (error instanceof z.ZodError) {
      return result(intent, false, error.issues[0]?.message ?? "Check the form.", 400);
    }
    throw error;
  }
}

export default function TenantPage({ loaderData, actionData }: Route.ComponentProps) {
  const { tenant, answerer, security, knowledge, unanswered, usage } = loaderData;
  const { snippet } = security;
  const pending = usePendingIntent();
  // The summary follows ingestion started elsewhere (the Knowledge tab, the API).
  usePollWhile(knowledge.indexing, 2000);

  return (
    <main className="page">
      <p className="breadcrumbs">
        <Link to="/admin">Tenants</Link> / {tenant.name}
      </p>
      <h1>{tenant.name}</h1>
      <TenantNav tenantId={tenant.id} />
      <p className="muted">
        Tenant id <code>{tenant.id}</code> · plan {tenant.plan} · {tenant.status}
      </p>

      <section className="card" aria-labelledby="embed">
        <h2 id="embed">Put the chat on your site</h2>
        <p>Paste this tag into your pages, before the closing &lt;/body&gt; tag:</p>
        <pre aria-label="Embed snippet">
          <code>{snippet}</code>
        </pre>
        <div className="row">
          <CopyTextButton text={snippet} label="Copy snippet" />
          <Link className="button secondary-button" to={`/admin/tenants/${tenant.id}/playground`}>
            Open the playground
          </Link>
        </div>
      </section>

      {/* ---- issue 5: keys, origins, quota, audit ---- */}
      <TenantSecurity tenantId={tenant.id} data={security} result={actionData} />

      <section className="card" aria-labelledby="answers">
        <h2 id="answers">Answers</h2>
        {answerer.name === "extractive" ? (
          <p className="muted">
            No LLM is configured on this server: answers are composed from the knowledge base by the
            extractive answerer. Set GROQ_API_KEY or LLM_BASE_URL to use a model.
          </p>
        ) : (
          <p className="muted">
            Answers come from {answerer.name} with the model{" "}
            <code>{tenant.llmModel ?? answerer.model}</code>
            {tenant.llmModel ? " (this tenant's choice)" : " (the server's default)"}.
          </p>
        )}
        <Form method="post" className="row">
          <input type="hidden" name="intent" value="set-model" />
          <div className="grow">
            <label htmlFor="llm-model">Model for this tenant</label>
            <input
              id="llm-model"
              name="llmModel"
              type="text"
              maxLength={100}
              defaultValue={tenant.llmModel ?? ""}
              placeholder={`${answerer.model} (default)`}
              aria-describedby="llm-model-hint"
            />
            <p id="llm-model-hint" className="hint muted">
              Leave empty for the server&apos;s default model.
            </p>
          </div>
          <button type="submit" disabled={pending === "set-model"}>
            Save
          </button>
        </Form>
        <FormMessage intent="set-model" actionData={actionData} />
      </section>

      <section className="card" aria-labelledby="privacy">
        <h2 id="privacy">Privacy</h2>
        <p className="muted">
          Questions sent to a hosted model always have e-mail addresses, phone numbers, card
          numbers, IBANs, social security numbers and IP addresses replaced by placeholders.
        </p>
        <Form method="post" key={String(tenant.maskTranscripts)}>
          <input type="hidden" name="intent" value="set-privacy" />
          <label className="checkbox">
            <input
              type="checkbox"
              name="maskTranscripts"
              defaultChecked={tenant.maskTranscripts}
              aria-describedby="mask-hint"
            />{" "}
            Mask personal data in stored conversations
          </label>
          <p id="mask-hint" className="hint muted">
            Applies to conversations from now on; visitors still see their own words.
          </p>
          <div className="actions">
            <button type="submit" disabled={pending === "set-privacy"}>
              Save
            </button>
          </div>
        </Form>
        <FormMessage intent="set-privacy" actionData={actionData} />
      </section>

      <section className="card" aria-labelledby="knowledge">
        <h2 id="knowledge">Knowledge base</h2>
        <p>
          {knowledge.documents} document{knowledge.documents === 1 ? "" : "s"} · {knowledge.chunks}{" "}
          passages · {formatBytes(knowledge.bytes)}
          {knowledge.lastSync > 0 ? ` · last sync ${formatTime(knowledge.lastSync)}` : ""}
          {knowledge.indexing ? " · indexing…" : ""}
        </p>
        <p>
          <Link to={`/admin/tenants/${tenant.id}/knowledge`}>
            Add files, text, pages or a whole website, and follow their progress
          </Link>
        </p>
      </section>

      <section aria-labelledby="unanswered">
        <h2 id="unanswered">Unanswered questions</h2>
        {unanswered.length === 0 ? (
          <p className="muted">
            None yet. Questions the assistant could not answer from your knowledge base appear here,
            so you know what to add.
          </p>
        ) : (
          <div
            className="table-scroll"
            role="region"
            aria-label="Unanswered questions (scrolls sideways)"
            tabIndex={0}
          >
            <table>
              <caption className="visually-hidden">
                Content gaps: questions the knowledge base could not answer, similar wordings
                together, most often asked first
              </caption>
              <thead>
                <tr>
                  <th scope="col">Question</th>
                  <th scope="col">Times asked</th>
                  <th scope="col">Last asked</th>
                </tr>
              </thead>
              <tbody>
                {unanswered.map((gap) => (
                  <tr key={`${gap.question}-${gap.lastAskedAt}`}>
                    <td>
                      {gap.question}
                      {gap.variants.length > 1 ? (
                        <details>
                          <summary className="muted small">{gap.variants.length} wordings</summary>
                          <ul>
                            {gap.variants.map((variant) => (
                              <li key={variant.question}>
                                {variant.question} ({variant.count})
                              </li>
                            ))}
                          </ul>
                        </details>
                      ) : null}
                    </td>
                    <td>{gap.count}</td>
                    <td>{formatTime(gap.lastAskedAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <UsageSummary tenantId={tenant.id} usage={usage} />
    </main>
  );
}

/** One line about the last 30 days; the charts are on the Usage tab. */
function UsageSummary({ tenantId, usage }: { tenantId: string; usage: UsageTotals }) {
  return (
    <section className="card" aria-labelledby="usage">
      <h2 id="usage">Usage</h2>
      <p>
        {usage.asks === 0
          ? `No questions in the last ${USAGE_DAYS_SHOWN} days.`
          : `${usage.asks.toLocaleString("en")} question${usage.asks === 1 ? "" : "s"} and ${usage.tokens.toLocaleString("en")} tokens in the last ${USAGE_DAYS_SHOWN} days` +
            (usage.cacheHitRate === null
              ? "."
              : `; ${Math.round(usage.cacheHitRate * 100)}% answered from the cache.`)}{" "}
        <Link to={`/admin/tenants/${tenantId}/usage`}>See the usage charts</Link>
      </p>
    </section>
  );
}
