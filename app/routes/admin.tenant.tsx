// /admin/tenants/:tenantId — one tenant: the widget's embed snippet, forms to add knowledge
// (files, pasted text, a web page), the ingestion jobs with live progress, and the documents;
// plus the embed, API key, quota and audit section (app/admin/tenant-security.tsx).
import { useEffect, useRef, useState } from "react";
import { data, Form, Link, useNavigation, useRevalidator } from "react-router";
import { z } from "zod";
import { usageSeries, usageTotals, type UsageTotals } from "#tenants/usage.ts";
import { deleteDocument, listDocuments, listJobs } from "#tenants/knowledge-base.ts";
import { assertSameOrigin, requireTenantAccess } from "#app/server/auth.server.ts";
import { ApiError } from "#app/server/errors.server.ts";
import {
  intakeFormFiles,
  intakeText,
  intakeUrl,
  supportedExtensions,
  textIntakeSchema,
  urlIntakeSchema,
} from "#app/server/ingest/intake.server.ts";
import { readFormData } from "#app/server/request.server.ts";
import { getRuntime } from "#app/server/runtime.server.ts";
import {
  llmModelSchema,
  updateTenantMaskTranscripts,
  updateTenantModel,
} from "#app/server/tenant-settings.server.ts";
import { tenantDb } from "#app/server/tenants.server.ts";
import { groupUnanswered, listUnanswered } from "#tenants/unanswered.ts";
// ---- issue 5: keys, origins, quota, audit (begin) ----
import { TenantSecurity } from "#app/admin/tenant-security.tsx";
import { auditAdminAction } from "#app/server/audit.server.ts";
import {
  auditQueryOf,
  runSecurityAction,
  securityIntents,
  tenantSecurityData,
  type SecurityIntent,
} from "#app/server/tenant-security.server.ts";
// ---- issue 5: keys, origins, quota, audit (end) ----
import { TenantNav } from "#app/admin/tenant-nav.tsx";
import type { Route } from "./+types/admin.tenant";

export const meta: Route.MetaFunction = ({ data }) => [
  { title: `${data?.tenant.name ?? "Tenant"} — BiTB admin` },
];

/** Files in one upload; each is at most MAX_UPLOAD_BYTES. */
const MAX_FILES_PER_UPLOAD = 10;
const JOBS_SHOWN = 50;
const UNANSWERED_SHOWN = 20;
const USAGE_DAYS_SHOWN = 30;

const intentSchema = z.enum([
  "upload",
  "add-text",
  "add-url",
  "delete-document",
  "set-model",
  "set-privacy",
  ...securityIntents,
]);
type Intent = z.infer<typeof intentSchema>;
const documentIdSchema = z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER);

export async function loader({ request, params }: Route.LoaderArgs) {
  const { tenant } = await requireTenantAccess(request, params.tenantId);
  const runtime = await getRuntime();
  const db = tenantDb(runtime, tenant);
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
    // ---- issue 5: keys, origins, quota, audit ----
    security: tenantSecurityData(runtime, tenant, origin, auditQueryOf(new URL(request.url))),
    maxUploadBytes: runtime.config.MAX_UPLOAD_BYTES,
    supportedExtensions,
    jobs: listJobs(db, { limit: JOBS_SHOWN }).map((job) => ({
      id: job.id,
      sourceType: job.sourceType,
      title: job.title,
      state: job.state,
      stage: job.stage,
      progressDone: job.progressDone,
      progressTotal: job.progressTotal,
      attempts: job.attempts,
      error: job.error,
      outcome: job.outcome,
      updatedAt: job.updatedAt,
    })),
    documents: listDocuments(db).map((document) => ({
      id: document.id,
      title: document.title,
      sourceType: document.sourceType,
      url: document.url,
      fileName: document.fileName,
      bytes: document.bytes,
      chunkCount: document.chunkCount,
      updatedAt: document.updatedAt,
    })),
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
  assertSameOrigin(request);
  const { tenant, admin } = await requireTenantAccess(request, params.tenantId);
  const runtime = await getRuntime();
  let intent: Intent | null = null;
  try {
    const form = await readFormData(
      request,
      runtime.config.MAX_UPLOAD_BYTES * MAX_FILES_PER_UPLOAD + 64 * 1024,
    );
    const parsedIntent = intentSchema.safeParse(form.get("intent"));
    if (!parsedIntent.success) return result(null, false, "Unknown action.", 400);
    intent = parsedIntent.data;
    // ---- issue 5: keys, origins, quota, audit ----
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
      case "upload": {
        const files = form.getAll("files").filter((f): f is File => typeof f !== "string");
        if (files.length > MAX_FILES_PER_UPLOAD) {
          return result(
            intent,
            false,
            `Choose at most ${MAX_FILES_PER_UPLOAD} files at once.`,
            400,
          );
        }
        const jobs = await intakeFormFiles(runtime, tenant, files);
        return done(`${plural(jobs.length, "file")} queued for indexing.`);
      }
      case "add-text": {
        const input = textIntakeSchema.parse({
          type: "text",
          title: form.get("title") ?? "",
          text: form.get("text") ?? "",
        });
        intakeText(runtime, tenant, input);
        return done(`“${input.title}” queued for indexing.`);
      }
      case "add-url": {
        const input = urlIntakeSchema.parse({
          type: "url",
          url: String(form.get("url") ?? "").trim(),
        });
        intakeUrl(runtime, tenant, input);
        return done("The page will be fetched and indexed.");
      }
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
      case "delete-document": {
        const id = documentIdSchema.safeParse(form.get("documentId"));
        const deleted = id.success && deleteDocument(tenantDb(runtime, tenant), id.data);
        if (deleted)
          auditAdminAction(runtime, tenant, admin, "document.delete", { documentId: id.data });
        return deleted
          ? result(intent, true, "Document deleted.")
          : result(
              intent,
              false,
              "That document was already gone. The list is now up to date.",
              404,
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

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/** UTC, so the server's and the browser's rendering agree. */
function formatTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

function usePendingIntent(): string | null {
  const navigation = useNavigation();
  if (navigation.state === "idle" || navigation.formMethod !== "POST") return null;
  const intent = navigation.formData?.get("intent");
  return typeof intent === "string" ? intent : null;
}

/** A form that empties itself after its action succeeded. */
function useResetOnSuccess(intent: Intent, actionData: ActionResult | undefined) {
  const ref = useRef<HTMLFormElement>(null);
  useEffect(() => {
    if (actionData?.ok && actionData.intent === intent) ref.current?.reset();
  }, [actionData, intent]);
  return ref;
}

function FormMessage({ intent, actionData }: { intent: Intent; actionData?: ActionResult }) {
  if (!actionData || actionData.intent !== intent) return null;
  return actionData.ok ? (
    <p className="ok" role="status">
      {actionData.message}
    </p>
  ) : (
    <p className="error" role="alert">
      {actionData.message}
    </p>
  );
}

export default function TenantPage({ loaderData, actionData }: Route.ComponentProps) {
  const {
    tenant,
    answerer,
    security,
    jobs,
    documents,
    unanswered,
    maxUploadBytes,
    supportedExtensions,
    usage,
  } = loaderData;
  const { snippet } = security;
  const pending = usePendingIntent();
  const uploadForm = useResetOnSuccess("upload", actionData);
  const textForm = useResetOnSuccess("add-text", actionData);
  const urlForm = useResetOnSuccess("add-url", actionData);

  // Poll while jobs are moving: one revalidation a second, never two at once.
  const { revalidate, state: revalidation } = useRevalidator();
  const active = jobs.some((job) => job.state === "queued" || job.state === "running");
  useEffect(() => {
    if (!active || revalidation !== "idle") return;
    const timer = setTimeout(() => void revalidate(), 1000);
    return () => clearTimeout(timer);
  }, [active, revalidation, revalidate]);

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
          <CopyButton text={snippet} />
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

      <section aria-labelledby="add-knowledge">
        <h2 id="add-knowledge">Add knowledge</h2>
        <div className="grid">
          <Form method="post" encType="multipart/form-data" className="card" ref={uploadForm}>
            <h3>Upload files</h3>
            <input type="hidden" name="intent" value="upload" />
            <label htmlFor="files">Files</label>
            <input
              id="files"
              name="files"
              type="file"
              multiple
              required
              accept={supportedExtensions.join(",")}
              aria-describedby="files-hint"
            />
            <p id="files-hint" className="hint muted">
              {supportedExtensions.join(", ")} — up to {MAX_FILES_PER_UPLOAD} files,{" "}
              {formatBytes(maxUploadBytes)} each.
            </p>
            <FormMessage intent="upload" actionData={actionData} />
            <div className="actions">
              <button type="submit" disabled={pending === "upload"}>
                {pending === "upload" ? "Uploading…" : "Upload"}
              </button>
            </div>
          </Form>

          <Form method="post" className="card" ref={textForm}>
            <h3>Paste text</h3>
            <input type="hidden" name="intent" value="add-text" />
            <label htmlFor="text-title">Title</label>
            <input id="text-title" name="title" type="text" required maxLength={200} />
            <label htmlFor="text-body">Text</label>
            <textarea id="text-body" name="text" required rows={6} />
            <p className="hint muted">
              Pasting again with the same title replaces the earlier text.
            </p>
            <FormMessage intent="add-text" actionData={actionData} />
            <div className="actions">
              <button type="submit" disabled={pending === "add-text"}>
                {pending === "add-text" ? "Adding…" : "Add text"}
              </button>
            </div>
          </Form>

          <Form method="post" className="card" ref={urlForm}>
            <h3>Add a web page</h3>
            <input type="hidden" name="intent" value="add-url" />
            <label htmlFor="page-url">Page URL</label>
            <input
              id="page-url"
              name="url"
              type="url"
              required
              maxLength={2048}
              placeholder="https://example.com/help/returns"
              aria-describedby="url-hint"
            />
            <p id="url-hint" className="hint muted">
              One page is fetched (links are not followed).
            </p>
            <FormMessage intent="add-url" actionData={actionData} />
            <div className="actions">
              <button type="submit" disabled={pending === "add-url"}>
                {pending === "add-url" ? "Adding…" : "Add page"}
              </button>
            </div>
          </Form>
        </div>
      </section>

      <section aria-labelledby="jobs">
        <h2 id="jobs">Jobs</h2>
        {jobs.length === 0 ? (
          <p className="muted">Nothing has been added yet.</p>
        ) : (
          <div
            className="table-scroll"
            role="region"
            aria-label="Ingestion jobs (scrolls sideways)"
            tabIndex={0}
          >
            <table>
              <caption className="visually-hidden">
                Ingestion jobs, newest first{active ? " (updating every second)" : ""}
              </caption>
              <thead>
                <tr>
                  <th scope="col">Source</th>
                  <th scope="col">State</th>
                  <th scope="col">Stage or result</th>
                  <th scope="col" className="progress-col">
                    Progress
                  </th>
                  <th scope="col">Updated</th>
                </tr>
              </thead>
              <tbody>
                {jobs.map((job) => (
                  <tr key={job.id}>
                    <td>
                      <span className="source-type">{job.sourceType}</span> {job.title}
                      {job.error ? <p className="error job-error">{job.error}</p> : null}
                    </td>
                    <td>
                      <span className={`badge badge-${job.state}`}>{job.state}</span>
                      {job.attempts > 1 ? (
                        <span className="muted"> (attempt {job.attempts})</span>
                      ) : null}
                    </td>
                    <td>{(job.state === "done" ? job.outcome : job.stage) ?? "—"}</td>
                    <td>
                      <JobProgress
                        title={job.title}
                        done={job.progressDone}
                        total={job.progressTotal}
                        state={job.state}
                      />
                    </td>
                    <td>{formatTime(job.updatedAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>

      <section aria-labelledby="documents">
        <h2 id="documents">Documents</h2>
        {documents.length === 0 ? (
          <p className="muted">No documents yet. Add some knowledge above.</p>
        ) : (
          <div
            className="table-scroll"
            role="region"
            aria-label="Documents (scrolls sideways)"
            tabIndex={0}
          >
            <table>
              <caption className="visually-hidden">Documents in the knowledge base</caption>
              <thead>
                <tr>
                  <th scope="col">Title</th>
                  <th scope="col">Type</th>
                  <th scope="col">Chunks</th>
                  <th scope="col">Size</th>
                  <th scope="col">Updated</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {documents.map((document) => (
                  <tr key={document.id}>
                    <td>
                      {document.url ? (
                        <a href={document.url} rel="noreferrer noopener" target="_blank">
                          {document.title}
                        </a>
                      ) : (
                        document.title
                      )}
                    </td>
                    <td>{document.sourceType}</td>
                    <td>{document.chunkCount}</td>
                    <td>{formatBytes(document.bytes)}</td>
                    <td>{formatTime(document.updatedAt)}</td>
                    <td>
                      <Form
                        method="post"
                        onSubmit={(event) => {
                          if (
                            !window.confirm(`Delete “${document.title}” from the knowledge base?`)
                          ) {
                            event.preventDefault();
                          }
                        }}
                      >
                        <input type="hidden" name="intent" value="delete-document" />
                        <input type="hidden" name="documentId" value={document.id} />
                        <button
                          type="submit"
                          className="danger"
                          aria-label={`Delete ${document.title}`}
                          disabled={pending === "delete-document"}
                        >
                          Delete
                        </button>
                      </Form>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <FormMessage intent="delete-document" actionData={actionData} />
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

function JobProgress(props: { title: string; done: number; total: number; state: string }) {
  const total = props.state === "done" && props.total === 0 ? 1 : props.total;
  const done = props.state === "done" ? total : Math.min(props.done, total);
  const percent = total > 0 ? Math.round((done / total) * 100) : 0;
  return (
    <div className="progress-cell">
      <div
        className="progress"
        role="progressbar"
        aria-label={`Progress of ${props.title}`}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={percent}
        aria-valuetext={total > 0 ? `${done} of ${total}` : "not started"}
      >
        <span style={{ width: `${percent}%` }} />
      </div>
      <span className="muted small">{total > 0 ? `${done}/${total}` : "—"}</span>
    </div>
  );
}

function CopyButton({ text }: { text: string }) {
  const [copied, setCopied] = useState(false);
  useEffect(() => {
    if (!copied) return;
    const timer = setTimeout(() => setCopied(false), 2000);
    return () => clearTimeout(timer);
  }, [copied]);
  return (
    <button
      type="button"
      className="secondary"
      onClick={() => {
        void navigator.clipboard.writeText(text).then(() => setCopied(true));
      }}
    >
      <span aria-live="polite">{copied ? "Copied" : "Copy snippet"}</span>
    </button>
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
