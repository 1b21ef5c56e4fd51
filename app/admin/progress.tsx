// Progress for long admin operations: a labelled progress bar, an ingestion job's and a website
// crawl's progress, and the polling hook that keeps them fresh while work is moving. The bars
// keep a fixed size whatever their value, so polling never shifts the layout.
import { useEffect, useRef } from "react";
import { useNavigation, useRevalidator } from "react-router";
import type { CrawlProgress } from "#tenants/crawls.ts";
import type { DocumentOutcome, JobStage, JobState } from "#tenants/knowledge-base.ts";
import { formatTime } from "./forms.tsx";

/**
 * Revalidates the page's loaders every `ms` while `active` (one revalidation at a time, none
 * while a form is being submitted), so progress moves without a reload.
 */
export function usePollWhile(active: boolean, ms = 1000): void {
  const { revalidate } = useRevalidator();
  const navigation = useNavigation();
  const navigating = useRef(false);
  navigating.current = navigation.state !== "idle";
  useEffect(() => {
    if (!active) return;
    return pollEvery(ms, () => (navigating.current ? Promise.resolve() : revalidate()));
  }, [active, revalidate, ms]);
}

/**
 * Calls `poll` `ms` after the previous call settled, until the returned stop function runs.
 * The next call is scheduled from the previous one's promise, not from a render: a render
 * that React skips (a fast revalidation batched away under load) cannot stop the polling.
 */
export function pollEvery(ms: number, poll: () => Promise<unknown>): () => void {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const settled = () => {
    if (!stopped) next();
  };
  const next = () => {
    timer = setTimeout(() => void poll().then(settled, settled), ms);
  };
  next();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/**
 * A progress bar with its label and "value of max" as visible text. With max 0 the work has
 * not started (or its size is unknown): the bar is empty and says so.
 */
export function ProgressBar(props: {
  label: string;
  value: number;
  max: number;
  /** Overrides the visible figure (e.g. "12 of 40 pages"). */
  text?: string;
  /** Hides the label visually (it stays the bar's accessible name). */
  hideLabel?: boolean;
}) {
  const max = Math.max(0, props.max);
  const value = Math.min(Math.max(0, props.value), max);
  const percent = max > 0 ? Math.round((value / max) * 100) : 0;
  const text = props.text ?? (max > 0 ? `${value} of ${max}` : "not started");
  return (
    <div className="progress-block">
      <div className={props.hideLabel ? "visually-hidden" : "progress-label small"}>
        {props.label}
      </div>
      <div className="progress-cell">
        <div
          className="progress"
          role="progressbar"
          aria-label={props.label}
          aria-valuemin={0}
          aria-valuemax={max}
          aria-valuenow={value}
          aria-valuetext={max > 0 ? `${text} (${percent}%)` : text}
        >
          <span style={{ width: `${percent}%` }} />
        </div>
        <span className="muted small progress-text">{max > 0 ? `${value}/${max}` : "—"}</span>
      </div>
    </div>
  );
}

/** The fields of an ingestion job the view needs (a loader's plain object). */
export interface JobProgressData {
  id: number;
  title: string;
  state: JobState;
  stage: JobStage | null;
  progressDone: number;
  progressTotal: number;
  attempts?: number;
  error?: string | null;
  outcome?: DocumentOutcome | null;
}

const STAGE_WORDS: Record<JobStage, string> = {
  fetch: "fetching",
  parse: "reading",
  chunk: "splitting into passages",
  embed: "embedding passages",
  index: "indexing",
};

const OUTCOME_WORDS: Record<DocumentOutcome, string> = {
  created: "added",
  replaced: "updated",
  unchanged: "unchanged since last time",
};

/** What a job is doing, in words: "queued", "embedding passages", "updated", "failed". */
export function jobStatusText(job: JobProgressData): string {
  switch (job.state) {
    case "queued":
      return (job.attempts ?? 0) > 0 ? `waiting to retry (attempt ${job.attempts})` : "queued";
    case "running":
      return job.stage ? STAGE_WORDS[job.stage] : "starting";
    case "done":
      return job.outcome ? OUTCOME_WORDS[job.outcome] : "done";
    case "failed":
      return "failed";
  }
}

/** One ingestion job's progress: passages embedded out of all, complete when done. */
export function JobProgressView({ job }: { job: JobProgressData }) {
  const finished = job.state === "done";
  const max = finished ? Math.max(1, job.progressTotal) : job.progressTotal;
  const value = finished ? max : job.progressDone;
  return (
    <ProgressBar
      label={`Progress of ${job.title}`}
      hideLabel
      value={value}
      max={max}
      text={
        job.state === "failed"
          ? "failed"
          : job.progressTotal > 0
            ? `${value} of ${max} passages, ${jobStatusText(job)}`
            : jobStatusText(job)
      }
    />
  );
}

/** What an admin can do about a failed job, from its error. */
export function failureAdvice(error: string | null, formats: readonly string[]): string {
  const text = error ?? "";
  // Limits of the parsing sandbox and storage quotas (decision 043): trying again cannot help.
  const setting = /\((INGEST_[A-Z_]+)\)/.exec(text)?.[1];
  if (setting)
    return `The document is over one of this server's limits: split it, or ask the operator to raise ${setting}.`;
  if (/plan's quota/.test(text))
    return "Remove documents you no longer need, or ask a platform admin to raise the plan's quota.";
  if (/HTTP 404|HTTP 410|does not exist/.test(text))
    return "Check the address, or remove the link to it.";
  if (/HTTP 40[13]|refused access/.test(text))
    return "Pages behind a login cannot be fetched; upload the content as a file instead.";
  if (/larger than|Too large/.test(text))
    return "Split the file, or raise MAX_UPLOAD_BYTES on the server.";
  if (/private network/.test(text))
    return "Only public addresses can be fetched: the server's operator can allow private ones (an intranet) with INGEST_ALLOW_PRIVATE_URLS=true.";
  if (/did not answer|Timeout|HTTP 5\d\d|Could not fetch/.test(text))
    return "The site did not answer; add it again later.";
  if (/no text|empty|contains no/i.test(text))
    return "The document has no readable text (a scanned PDF?); paste its text instead.";
  if (/Unsupported|upload .* files|not supported/i.test(text))
    return `Use one of the supported formats: ${formats.join(", ")}.`;
  return "Try adding it again; if it keeps failing, check the server log.";
}

export type CrawlProgressData = CrawlProgress;

const CRAWL_STATE_WORDS: Record<CrawlProgress["state"], string> = {
  running: "running",
  done: "done",
  failed: "failed",
  cancelled: "cancelled",
};

/**
 * A crawl's progress: pages fetched out of pages found, pages indexed out of pages fetched,
 * the failures with their reasons and the pages left out on purpose.
 */
export function CrawlProgressView({ crawl }: { crawl: CrawlProgressData }) {
  const fetchingDone = crawl.state !== "running" || crawl.pagesProcessed >= crawl.pagesFound;
  return (
    <div className="crawl-progress">
      <p className="crawl-head">
        <a href={crawl.url} rel="noreferrer noopener" target="_blank">
          {crawl.url}
        </a>{" "}
        <span className={`badge badge-${crawl.state}`}>{CRAWL_STATE_WORDS[crawl.state]}</span>
      </p>
      <div className="grid-2">
        <ProgressBar
          label={`Pages fetched of ${crawl.url}`}
          value={crawl.pagesProcessed}
          max={crawl.pagesFound}
          text={`${crawl.pagesProcessed} of ${crawl.pagesFound} pages found${
            fetchingDone ? "" : " (still finding pages)"
          }`}
        />
        <ProgressBar
          label={`Pages indexed of ${crawl.url}`}
          value={crawl.pagesIndexed}
          max={crawl.pagesFetched}
          text={`${crawl.pagesIndexed} of ${crawl.pagesFetched} fetched pages indexed`}
        />
      </div>
      <p className="muted small">
        {crawl.pagesFound} found · {crawl.pagesFetched} fetched · {crawl.pagesIndexed} indexed ·{" "}
        {crawl.failures.length} failed · {crawl.skipped.length} skipped · started{" "}
        {formatTime(crawl.startedAt)}
        {crawl.finishedAt !== null ? ` · finished ${formatTime(crawl.finishedAt)}` : ""}
        {crawl.recrawl !== "off"
          ? ` · re-crawled ${crawl.recrawl}${
              crawl.nextRunAt !== null ? `, next ${formatTime(crawl.nextRunAt)}` : ""
            }`
          : ""}
      </p>
      {crawl.error ? (
        <p className={crawl.state === "failed" ? "error" : "muted"} role="note">
          {crawl.error}
        </p>
      ) : null}
      {crawl.note ? <p className="muted small">{crawl.note}</p> : null}
      {crawl.failures.length > 0 ? (
        <details>
          <summary>
            {crawl.failures.length} page{crawl.failures.length === 1 ? "" : "s"} failed — why, and
            what to do
          </summary>
          <ul className="crawl-failures">
            {crawl.failures.map((failure) => (
              <li key={failure.url}>
                <code>{failure.url}</code>: {failure.reason}
              </li>
            ))}
          </ul>
        </details>
      ) : null}
      {crawl.skipped.length > 0 ? (
        <details>
          <summary>
            {crawl.skipped.length} page{crawl.skipped.length === 1 ? "" : "s"} skipped
          </summary>
          <ul className="crawl-failures">
            {crawl.skipped.map((page) => (
              <li key={page.url}>
                <code>{page.url}</code>: {page.reason}
              </li>
            ))}
          </ul>
        </details>
      ) : null}
    </div>
  );
}
