// /admin/tenants/:tenantId/knowledge — the tenant's knowledge base: add files, pasted text, a
// web page or a whole website (a crawl, docs/decisions/029); every ingestion job and crawl with
// a live progress bar (the page revalidates every second while anything moves); the documents
// with their status, passages, size and last sync, to re-sync or delete; and what failed, why,
// and what to do about it.
import { useEffect, useRef, useState } from "react";
import { data, Form, Link } from "react-router";
import { z } from "zod";
import {
  deleteDocument,
  getDocument,
  listDocuments,
  listJobs,
} from "#app/server/tenancy/reads.server.ts";
import type { IngestJob } from "#tenants/knowledge-base.ts";
import type { TenantId } from "#tenants/id.ts";
import {
  CrawlProgressView,
  failureAdvice,
  JobProgressView,
  jobStatusText,
  usePollWhile,
} from "#app/admin/progress.tsx";
import { TenantNav } from "#app/admin/tenant-nav.tsx";
import { assertSameOrigin, requireTenantAccess } from "#app/server/access/auth.server.ts";
import { auditAdminAction } from "#app/server/audit/audit.server.ts";
import { ApiError } from "#app/server/errors.server.ts";
import {
  cancelCrawl,
  DEFAULT_MAX_DEPTH,
  DEFAULT_MAX_PAGES,
  listCrawls,
  scheduleRecrawl,
  startCrawl,
} from "#app/server/ingest/crawl.server.ts";
import {
  intakeFormFiles,
  intakeText,
  intakeUrl,
  supportedExtensions,
  textIntakeSchema,
  urlIntakeSchema,
} from "#app/server/ingest/intake.server.ts";
import { readFormData } from "#app/server/request.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";
import { enqueueIngest, tenantDb } from "#app/server/tenancy/tenants.server.ts";
import type { Route } from "./+types/admin.tenant-knowledge";
import { FormMessage, formatBytes, formatTime, usePendingIntent } from "#app/admin/forms.tsx";

export const meta: Route.MetaFunction = ({ data }) => [
  { title: `Knowledge: ${data?.tenant.name ?? "tenant"} — BiTB admin` },
];

/** Files in one upload; each is at most MAX_UPLOAD_BYTES. */
const MAX_FILES_PER_UPLOAD = 10;
const JOBS_SHOWN = 50;

const intentSchema = z.enum([
  "upload",
  "add-text",
  "add-url",
  "crawl",
  "cancel-crawl",
  "set-recrawl",
  "resync-document",
  "delete-document",
]);
type Intent = z.infer<typeof intentSchema>;
const idSchema = z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER);
const recrawlSchema = z.enum(["off", "daily", "weekly"], {
  error: "Choose how often to re-crawl.",
});
const optionalNumber = (label: string, min: number) =>
  z
    .string()
    .trim()
    .transform((value) => (value === "" ? undefined : Number(value)))
    .pipe(
      z
        .number({ error: `${label} must be a number.` })
        .int(`${label} must be a whole number.`)
        .min(min, `${label} must be at least ${min}.`)
        .optional(),
    );
const crawlFormSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: "Give the website's http(s) address." }).max(2048),
  maxPages: optionalNumber("Max pages", 1),
  maxDepth: optionalNumber("Link depth", 0),
  recrawl: recrawlSchema,
});

export async function loader({ request, params }: Route.LoaderArgs) {
  const runtime = await getRuntime();
  const { tenant } = await requireTenantAccess(runtime, request, params.tenantId);
  const db = tenantDb(runtime, tenant);
  const jobs = listJobs(db, { limit: JOBS_SHOWN });
  // The newest job of each source tells a document's status (being updated, update failed).
  const latestJob = new Map<string, IngestJob>();
  for (const job of jobs) if (!latestJob.has(job.sourceKey)) latestJob.set(job.sourceKey, job);
  return {
    tenant: { id: tenant.id, name: tenant.name },
    maxUploadBytes: runtime.config.MAX_UPLOAD_BYTES,
    supportedExtensions,
    crawlLimits: {
      maxPages: runtime.config.CRAWL_MAX_PAGES,
      maxDepth: runtime.config.CRAWL_MAX_DEPTH,
      defaultPages: Math.min(DEFAULT_MAX_PAGES, runtime.config.CRAWL_MAX_PAGES),
      defaultDepth: Math.min(DEFAULT_MAX_DEPTH, runtime.config.CRAWL_MAX_DEPTH),
    },
    crawls: listCrawls(db),
    jobs: jobs.map((job) => ({
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
      whatToDo: job.state === "failed" ? failureAdvice(job.error, supportedExtensions) : null,
    })),
    documents: listDocuments(db).map((document) => {
      const job = latestJob.get(document.sourceKey);
      const status =
        job?.state === "queued" || job?.state === "running"
          ? "updating"
          : job?.state === "failed"
            ? "update failed"
            : "indexed";
      return {
        id: document.id,
        title: document.title,
        sourceType: document.sourceType,
        url: document.url,
        bytes: document.bytes,
        chunkCount: document.chunkCount,
        updatedAt: document.updatedAt,
        status,
      };
    }),
  };
}

type ActionResult = { intent: Intent | null; ok: boolean; message: string };

function result(intent: Intent | null, ok: boolean, message: string, status = 200) {
  return data<ActionResult>({ intent, ok, message }, { status });
}

export async function action({ request, params }: Route.ActionArgs) {
  const runtime = await getRuntime();
  assertSameOrigin(runtime, request);
  const { tenant, admin } = await requireTenantAccess(runtime, request, params.tenantId);
  let intent: Intent | null = null;
  try {
    const form = await readFormData(
      request,
      runtime.config.MAX_UPLOAD_BYTES * MAX_FILES_PER_UPLOAD + 64 * 1024,
    );
    const parsedIntent = intentSchema.safeParse(form.get("intent"));
    if (!parsedIntent.success) return result(null, false, "Unknown action.", 400);
    intent = parsedIntent.data;
    const db = tenantDb(runtime, tenant);
    // Audited once the action has been carried out, never for a refused one.
    const done = (message: string, detail?: unknown) => {
      auditAdminAction(runtime, tenant, admin, `page.${intent}`, detail);
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
      case "crawl": {
        const input = crawlFormSchema.parse({
          url: String(form.get("url") ?? "").trim(),
          maxPages: String(form.get("maxPages") ?? ""),
          maxDepth: String(form.get("maxDepth") ?? ""),
          recrawl: form.get("recrawl") ?? "off",
        });
        const { crawlId } = await startCrawl(runtime, tenant.id as TenantId, input);
        return done("The crawl has started: its progress shows below and updates by itself.", {
          crawlId,
        });
      }
      case "cancel-crawl": {
        const id = idSchema.safeParse(form.get("crawlId"));
        return id.success && cancelCrawl(db, id.data)
          ? done("The crawl was cancelled. Pages already fetched are still indexed.", {
              crawlId: id.data,
            })
          : result(intent, false, "That crawl had already ended. The list is now up to date.", 409);
      }
      case "set-recrawl": {
        const id = idSchema.safeParse(form.get("crawlId"));
        const recrawl = recrawlSchema.parse(form.get("recrawl"));
        if (!id.success || !scheduleRecrawl(runtime, tenant.id as TenantId, id.data, recrawl)) {
          return result(intent, false, "That crawl is gone. The list is now up to date.", 404);
        }
        return done(
          recrawl === "off"
            ? "The site will not be re-crawled automatically."
            : `The site will be re-crawled ${recrawl}.`,
          { crawlId: id.data, recrawl },
        );
      }
      case "resync-document": {
        const id = idSchema.safeParse(form.get("documentId"));
        const document = id.success ? getDocument(db, id.data) : undefined;
        if (!document) {
          return result(intent, false, "That document is gone. The list is now up to date.", 404);
        }
        if (!document.url) {
          return result(
            intent,
            false,
            "Only web pages can be re-synced; upload the file or paste the text again to update it.",
            400,
          );
        }
        enqueueIngest(runtime, tenant.id as TenantId, {
          sourceType: "url",
          sourceKey: document.sourceKey,
          url: document.url,
          title: document.title,
        });
        return done(`“${document.title}” will be fetched again.`, { documentId: document.id });
      }
      case "delete-document": {
        const id = idSchema.safeParse(form.get("documentId"));
        const deleted = id.success && deleteDocument(db, id.data);
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

/** A form that empties itself after its action succeeded. */
function useResetOnSuccess(intent: Intent, actionData: ActionResult | undefined) {
  const ref = useRef<HTMLFormElement>(null);
  useEffect(() => {
    if (actionData?.ok && actionData.intent === intent) ref.current?.reset();
  }, [actionData, intent]);
  return ref;
}

/**
 * The last action's result, kept while the page polls: a revalidation clears the router's
 * action data, and the message would vanish (and the page below it jump) after a second.
 */
function useLastResult(actionData: ActionResult | undefined): ActionResult | undefined {
  const [last, setLast] = useState(actionData);
  useEffect(() => {
    if (actionData) setLast(actionData);
  }, [actionData]);
  return actionData ?? last;
}

export default function KnowledgePage({ loaderData, actionData: fresh }: Route.ComponentProps) {
  const { tenant, jobs, documents, crawls, maxUploadBytes, supportedExtensions, crawlLimits } =
    loaderData;
  const actionData = useLastResult(fresh);
  const pending = usePendingIntent();
  const uploadForm = useResetOnSuccess("upload", fresh);
  const textForm = useResetOnSuccess("add-text", fresh);
  const urlForm = useResetOnSuccess("add-url", fresh);
  const crawlForm = useResetOnSuccess("crawl", fresh);

  // Poll while jobs or crawls are moving: one revalidation a second, never two at once.
  const jobsActive = jobs.some((job) => job.state === "queued" || job.state === "running");
  const crawlsActive = crawls.some((crawl) => crawl.state === "running");
  usePollWhile(jobsActive || crawlsActive);
  const failedJobs = jobs.filter((job) => job.state === "failed");

  return (
    <main className="page">
      <p className="breadcrumbs">
        <Link to="/admin">Tenants</Link> /{" "}
        <Link to={`/admin/tenants/${tenant.id}`}>{tenant.name}</Link> / Knowledge
      </p>
      <h1>{tenant.name}: knowledge</h1>
      <TenantNav tenantId={tenant.id} />

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
              One page is fetched (links are not followed; crawl the website for that).
            </p>
            <FormMessage intent="add-url" actionData={actionData} />
            <div className="actions">
              <button type="submit" disabled={pending === "add-url"}>
                {pending === "add-url" ? "Adding…" : "Add page"}
              </button>
            </div>
          </Form>

          <Form method="post" className="card" ref={crawlForm}>
            <h3>Crawl a website</h3>
            <input type="hidden" name="intent" value="crawl" />
            <label htmlFor="crawl-url">Website address</label>
            <input
              id="crawl-url"
              name="url"
              type="url"
              required
              maxLength={2048}
              placeholder="https://example.com/"
              aria-describedby="crawl-hint"
            />
            <div className="row">
              <div className="grow">
                <label htmlFor="crawl-pages">Max pages</label>
                <input
                  id="crawl-pages"
                  name="maxPages"
                  type="number"
                  min={1}
                  max={crawlLimits.maxPages}
                  defaultValue={crawlLimits.defaultPages}
                />
              </div>
              <div className="grow">
                <label htmlFor="crawl-depth">Link depth</label>
                <input
                  id="crawl-depth"
                  name="maxDepth"
                  type="number"
                  min={0}
                  max={crawlLimits.maxDepth}
                  defaultValue={crawlLimits.defaultDepth}
                />
              </div>
            </div>
            <label htmlFor="crawl-recrawl">Re-crawl</label>
            <select id="crawl-recrawl" name="recrawl" defaultValue="off">
              <option value="off">Never (crawl once)</option>
              <option value="daily">Daily</option>
              <option value="weekly">Weekly</option>
            </select>
            <p id="crawl-hint" className="hint muted">
              Reads the site&apos;s sitemap, or follows its links from this page; obeys robots.txt
              (user agent BiTB). At most {crawlLimits.maxPages} pages and a depth of{" "}
              {crawlLimits.maxDepth}. Crawling again updates changed pages only.
            </p>
            <FormMessage intent="crawl" actionData={actionData} />
            <div className="actions">
              <button type="submit" disabled={pending === "crawl"}>
                {pending === "crawl" ? "Starting…" : "Crawl website"}
              </button>
            </div>
          </Form>
        </div>
      </section>

      <section aria-labelledby="crawls" className="card">
        <h2 id="crawls">Website crawls</h2>
        {crawls.length === 0 ? (
          <p className="muted">No website crawled yet.</p>
        ) : (
          crawls.map((crawl) => (
            <div key={crawl.id}>
              <CrawlProgressView crawl={crawl} />
              <div className="row">
                {crawl.state === "running" && crawl.pagesProcessed < crawl.pagesFound ? (
                  <Form method="post">
                    <input type="hidden" name="intent" value="cancel-crawl" />
                    <input type="hidden" name="crawlId" value={crawl.id} />
                    <button
                      type="submit"
                      className="secondary"
                      aria-label={`Cancel the crawl of ${crawl.url}`}
                      disabled={pending === "cancel-crawl"}
                    >
                      Cancel crawl
                    </button>
                  </Form>
                ) : null}
                <Form method="post" className="row" key={`${crawl.id}-${crawl.recrawl}`}>
                  <input type="hidden" name="intent" value="set-recrawl" />
                  <input type="hidden" name="crawlId" value={crawl.id} />
                  <label htmlFor={`recrawl-${crawl.id}`} className="visually-hidden">
                    Re-crawl schedule of {crawl.url}
                  </label>
                  <select id={`recrawl-${crawl.id}`} name="recrawl" defaultValue={crawl.recrawl}>
                    <option value="off">No re-crawl</option>
                    <option value="daily">Re-crawl daily</option>
                    <option value="weekly">Re-crawl weekly</option>
                  </select>
                  <button
                    type="submit"
                    className="secondary"
                    aria-label={`Save the re-crawl schedule of ${crawl.url}`}
                  >
                    Save schedule
                  </button>
                </Form>
              </div>
            </div>
          ))
        )}
        <FormMessage intent="cancel-crawl" actionData={actionData} />
        <FormMessage intent="set-recrawl" actionData={actionData} />
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
                Ingestion jobs, newest first{jobsActive ? " (updating every second)" : ""}
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
                    <td>{jobStatusText(job)}</td>
                    <td>
                      <JobProgressView job={job} />
                    </td>
                    <td>{formatTime(job.updatedAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>

      {failedJobs.length > 0 ? (
        <section aria-labelledby="failures" className="card">
          <h2 id="failures">What failed, and what to do</h2>
          <ul>
            {failedJobs.map((job) => (
              <li key={job.id}>
                <strong>{job.title}</strong>: {job.error ?? "failed"} <br />
                <span className="muted">{job.whatToDo}</span>
              </li>
            ))}
          </ul>
        </section>
      ) : null}

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
                  <th scope="col">Status</th>
                  <th scope="col">Chunks</th>
                  <th scope="col">Size</th>
                  <th scope="col">Last sync</th>
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
                    <td>{document.status}</td>
                    <td>{document.chunkCount}</td>
                    <td>{formatBytes(document.bytes)}</td>
                    <td>{formatTime(document.updatedAt)}</td>
                    <td>
                      <div className="row">
                        {document.url ? (
                          <Form method="post">
                            <input type="hidden" name="intent" value="resync-document" />
                            <input type="hidden" name="documentId" value={document.id} />
                            <button
                              type="submit"
                              className="secondary"
                              aria-label={`Re-sync ${document.title}`}
                              disabled={pending === "resync-document"}
                            >
                              Re-sync
                            </button>
                          </Form>
                        ) : null}
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
                      </div>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <FormMessage intent="resync-document" actionData={actionData} />
        <FormMessage intent="delete-document" actionData={actionData} />
      </section>
    </main>
  );
}
