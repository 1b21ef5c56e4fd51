// /signup/knowledge — step 2 of the trial: add knowledge (upload files, paste text, crawl a
// website), watch each ingestion job's and each crawl's progress live (app/admin/progress.tsx),
// then the knowledge-base check (app/admin/kb-check-view.tsx, decision 032), which runs by
// itself once ingestion settles, before moving on to styling the widget.
import { useEffect, useRef } from "react";
import { data, Form, Link, redirect, useNavigation } from "react-router";
import { z } from "zod";
import { listJobs } from "#app/server/tenancy/reads.server.ts";
import {
  CrawlProgressView,
  failureAdvice,
  JobProgressView,
  jobStatusText,
  usePollWhile,
} from "#app/admin/progress.tsx";
import { KbCheckView } from "#app/admin/kb-check-view.tsx";
import { signupStepPath } from "#app/shared/signup-steps.ts";
import { assertSameOrigin } from "#app/server/access/auth.server.ts";
import { auditAdminAction } from "#app/server/audit/audit.server.ts";
import { ApiError } from "#app/server/errors.server.ts";
import { DEFAULT_MAX_PAGES, listCrawls, startCrawl } from "#app/server/ingest/crawl.server.ts";
import {
  intakeFormFiles,
  intakeText,
  supportedExtensions,
  textIntakeSchema,
} from "#app/server/ingest/intake.server.ts";
import { startCheck } from "#app/server/kb-check/api.server.ts";
import { latestKbCheck } from "#app/server/kb-check/check.server.ts";
import { readFormData } from "#app/server/request.server.ts";
import { tenantDb } from "#app/server/tenancy/tenants.server.ts";
import {
  advanceSignup,
  knowledgeSummary,
  requireSignupStep,
} from "#app/server/trial/trial.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";
import type { Route } from "./+types/signup.knowledge";

export const meta: Route.MetaFunction = () => [{ title: "Add knowledge — BiTB trial" }];

const MAX_FILES_PER_UPLOAD = 10;
const JOBS_SHOWN = 30;
const intentSchema = z.enum(["upload", "add-text", "crawl", "check", "next"]);
type Intent = z.infer<typeof intentSchema>;
type ActionResult = { intent: Intent | null; ok: boolean; message: string };
const crawlFormSchema = z.strictObject({
  url: z
    .url({
      protocol: /^https?$/,
      error: "Give your website's address, like https://www.example.com/.",
    })
    .max(2048),
  maxPages: z
    .string()
    .trim()
    .transform((value) => (value === "" ? undefined : Number(value)))
    .pipe(
      z
        .number({ error: "Pages at most must be a number." })
        .int("Pages at most must be a whole number.")
        .min(1, "Crawl at least 1 page.")
        .optional(),
    ),
});

export async function loader({ request }: Route.LoaderArgs) {
  const runtime = await getRuntime();
  const { tenant } = await requireSignupStep(runtime, request, 2);
  const db = tenantDb(runtime, tenant);
  return {
    tenantId: tenant.id,
    maxUploadBytes: runtime.config.MAX_UPLOAD_BYTES,
    supportedExtensions,
    maxCrawlPages: runtime.config.CRAWL_MAX_PAGES,
    defaultCrawlPages: Math.min(DEFAULT_MAX_PAGES, runtime.config.CRAWL_MAX_PAGES),
    crawls: listCrawls(db),
    check: latestKbCheck(db),
    checkPending: runtime.kbChecks.pending(tenant.id),
    summary: knowledgeSummary(db),
    jobs: listJobs(db, { limit: JOBS_SHOWN }).map((job) => ({
      id: job.id,
      title: job.title,
      sourceType: job.sourceType,
      state: job.state,
      stage: job.stage,
      progressDone: job.progressDone,
      progressTotal: job.progressTotal,
      attempts: job.attempts,
      error: job.error,
      outcome: job.outcome,
    })),
  };
}

export async function action({ request }: Route.ActionArgs) {
  const runtime = await getRuntime();
  assertSameOrigin(runtime, request);
  const { tenant, admin } = await requireSignupStep(runtime, request, 2);
  let intent: Intent | null = null;
  const result = (ok: boolean, message: string, status = 200) =>
    data<ActionResult>({ intent, ok, message }, { status });
  try {
    const form = await readFormData(
      request,
      runtime.config.MAX_UPLOAD_BYTES * MAX_FILES_PER_UPLOAD + 64 * 1024,
    );
    const parsed = intentSchema.safeParse(form.get("intent"));
    if (!parsed.success) return result(false, "Unknown action. Reload the page.", 400);
    intent = parsed.data;
    switch (intent) {
      case "upload": {
        const files = form.getAll("files").filter((f): f is File => typeof f !== "string");
        if (files.length > MAX_FILES_PER_UPLOAD) {
          return result(false, `Choose at most ${MAX_FILES_PER_UPLOAD} files at once.`, 400);
        }
        const jobs = await intakeFormFiles(runtime, tenant, files);
        auditAdminAction(runtime, tenant, admin, "page.upload");
        return result(true, `${jobs.length} file${jobs.length === 1 ? "" : "s"} queued.`);
      }
      case "add-text": {
        const input = textIntakeSchema.parse({
          type: "text",
          title: form.get("title") ?? "",
          text: form.get("text") ?? "",
        });
        intakeText(runtime, tenant, input);
        auditAdminAction(runtime, tenant, admin, "page.add-text");
        return result(true, `“${input.title}” queued.`);
      }
      case "crawl": {
        const input = crawlFormSchema.parse({
          url: String(form.get("url") ?? "").trim(),
          maxPages: form.get("maxPages") ?? "",
        });
        await startCrawl(runtime, tenant.id, input);
        auditAdminAction(runtime, tenant, admin, "page.crawl", { url: input.url });
        return result(true, "The crawl has started: its progress shows below.");
      }
      case "check":
        await startCheck(runtime, tenant, admin, false);
        return result(true, "The check is running.");
      case "next":
        advanceSignup(runtime.control, tenant.id, 3);
        return redirect(signupStepPath(3));
    }
  } catch (error) {
    if (error instanceof ApiError) return result(false, error.message, error.status);
    if (error instanceof z.ZodError) {
      return result(false, error.issues[0]?.message ?? "Check the form.", 400);
    }
    throw error;
  }
}

function formatBytes(bytes: number): string {
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${Math.round(bytes / (1024 * 1024))} MB`;
}

function Result({ intent, actionData }: { intent: Intent; actionData?: ActionResult }) {
  const mine = actionData?.intent === intent ? actionData : undefined;
  return (
    <p
      className={`form-result ${mine ? (mine.ok ? "ok" : "error") : ""}`}
      role={mine && !mine.ok ? "alert" : "status"}
    >
      {mine?.message ?? ""}
    </p>
  );
}

/** A form that empties itself after its action succeeded. */
function useResetOnSuccess(intent: Intent, actionData: ActionResult | undefined) {
  const ref = useRef<HTMLFormElement>(null);
  useEffect(() => {
    if (actionData?.ok && actionData.intent === intent) ref.current?.reset();
  }, [actionData, intent]);
  return ref;
}

export default function SignupKnowledge({ loaderData, actionData }: Route.ComponentProps) {
  const { jobs, summary } = loaderData;
  const navigation = useNavigation();
  const pending =
    navigation.state !== "idle" && navigation.formMethod === "POST"
      ? String(navigation.formData?.get("intent") ?? "")
      : null;
  const uploadForm = useResetOnSuccess("upload", actionData);
  const textForm = useResetOnSuccess("add-text", actionData);
  const crawlForm = useResetOnSuccess("crawl", actionData);
  const { crawls, check } = loaderData;
  const active =
    jobs.some((job) => job.state === "queued" || job.state === "running") ||
    crawls.some((crawl) => crawl.state === "running");
  const checking = check?.state === "running" || loaderData.checkPending;
  usePollWhile(active || checking);

  return (
    <>
      <p>
        Give your assistant something to answer from: your FAQ, product pages, opening hours,
        policies. Add as much as you like; you can add more later.
      </p>
      <div className="grid">
        <Form method="post" encType="multipart/form-data" className="card" ref={uploadForm}>
          <h2>Upload files</h2>
          <input type="hidden" name="intent" value="upload" />
          <label htmlFor="files">Files</label>
          <input
            id="files"
            name="files"
            type="file"
            multiple
            required
            accept={loaderData.supportedExtensions.join(",")}
            aria-describedby="files-hint"
          />
          <p id="files-hint" className="hint muted">
            {loaderData.supportedExtensions.join(", ")} — up to {MAX_FILES_PER_UPLOAD} files,{" "}
            {formatBytes(loaderData.maxUploadBytes)} each.
          </p>
          <div className="actions">
            <button type="submit" disabled={pending === "upload"}>
              {pending === "upload" ? "Uploading…" : "Upload"}
            </button>
          </div>
          <Result intent="upload" actionData={actionData} />
        </Form>
        <Form method="post" className="card" ref={textForm}>
          <h2>Paste text</h2>
          <input type="hidden" name="intent" value="add-text" />
          <label htmlFor="text-title">Title</label>
          <input id="text-title" name="title" type="text" required maxLength={200} />
          <label htmlFor="text-body">Text</label>
          <textarea id="text-body" name="text" required rows={6} />
          <div className="actions">
            <button type="submit" disabled={pending === "add-text"}>
              {pending === "add-text" ? "Adding…" : "Add text"}
            </button>
          </div>
          <Result intent="add-text" actionData={actionData} />
        </Form>
        <Form method="post" className="card" ref={crawlForm}>
          <h2>Add your website</h2>
          <input type="hidden" name="intent" value="crawl" />
          <label htmlFor="crawl-url">Website address</label>
          <input
            id="crawl-url"
            name="url"
            type="url"
            required
            maxLength={2048}
            placeholder="https://www.example.com/"
            aria-describedby="crawl-hint"
          />
          <label htmlFor="crawl-pages">Pages at most</label>
          <input
            id="crawl-pages"
            className="pages-input"
            name="maxPages"
            type="number"
            min={1}
            max={loaderData.maxCrawlPages}
            defaultValue={loaderData.defaultCrawlPages}
          />
          <p id="crawl-hint" className="hint muted">
            BiTB reads your sitemap or follows the links from this page, on this site only, and
            respects robots.txt. Up to {loaderData.maxCrawlPages} pages.
          </p>
          <div className="actions">
            <button type="submit" disabled={pending === "crawl"}>
              {pending === "crawl" ? "Starting…" : "Crawl website"}
            </button>
          </div>
          <Result intent="crawl" actionData={actionData} />
        </Form>
      </div>

      <section className="card" aria-labelledby="progress-heading">
        <h2 id="progress-heading">Progress</h2>
        {jobs.length === 0 && crawls.length === 0 ? (
          <p className="muted">Nothing added yet.</p>
        ) : null}
        {crawls.length > 0 ? (
          <>
            <h3>Website</h3>
            {crawls.map((crawl) => (
              <CrawlProgressView key={crawl.id} crawl={crawl} />
            ))}
          </>
        ) : null}
        {jobs.length > 0 ? (
          <>
            <h3>Documents being added</h3>
            <ul className="job-list">
              {jobs.map((job) => (
                <li key={job.id}>
                  <div className="job-line">
                    <span>
                      <span className="source-type">{job.sourceType}</span> {job.title}
                    </span>
                    <span className={`badge badge-${job.state}`}>{jobStatusText(job)}</span>
                  </div>
                  <JobProgressView job={job} />
                  {job.error ? (
                    <p className="error job-error">
                      {job.error} {failureAdvice(job.error, loaderData.supportedExtensions)}
                    </p>
                  ) : null}
                </li>
              ))}
            </ul>
          </>
        ) : null}
        <p className="visually-hidden" role="status">
          {active ? "Indexing…" : jobs.length > 0 ? "Everything you added has been processed." : ""}
        </p>
      </section>

      <section className="card" aria-labelledby="kb-check-heading">
        <h2 id="kb-check-heading">Knowledge-base check</h2>
        {check ? (
          <KbCheckView check={check} />
        ) : (
          <>
            <dl className="kb-summary">
              <div>
                <dt>Documents</dt>
                <dd>{summary.documents}</dd>
              </div>
              <div>
                <dt>Passages</dt>
                <dd>{summary.chunks}</dd>
              </div>
              <div>
                <dt>Words</dt>
                <dd>{summary.words.toLocaleString("en")}</dd>
              </div>
            </dl>
            <p className="muted">
              {active || checking
                ? "The check runs by itself a few seconds after indexing has finished."
                : summary.documents === 0
                  ? "Nothing indexed yet. Add at least one document so the assistant has something to answer from."
                  : "No check has run yet."}
            </p>
          </>
        )}
        {summary.documents > 0 && !active && !checking ? (
          <Form method="post" className="actions">
            <input type="hidden" name="intent" value="check" />
            <button type="submit" className="secondary" disabled={pending === "check"}>
              {check ? "Run the check again" : "Run the check now"}
            </button>
          </Form>
        ) : null}
        <Result intent="check" actionData={actionData} />
      </section>

      <Form method="post" className="step-actions">
        <input type="hidden" name="intent" value="next" />
        <Link to={signupStepPath(1)}>Back</Link>
        <button type="submit" disabled={pending === "next"}>
          Continue to styling
        </button>
        {summary.documents === 0 ? (
          <span className="muted small">You can also add knowledge later.</span>
        ) : null}
      </Form>
    </>
  );
}
