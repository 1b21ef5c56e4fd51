// The knowledge-base check as the admin sees it: progress while it runs, then the counts,
// each finding with its measurement and what to do, and how the starter questions fared.
// Shown on the Check tab and in the trial's step 2 (docs/decisions/032).
import type { FindingSeverity, KbCheck, KbFinding } from "#app/shared/kb-check.ts";

const SEVERITY_LABEL: Record<FindingSeverity, string> = {
  problem: "Problem",
  warning: "Warning",
  info: "Note",
};

const number = new Intl.NumberFormat("en");

export function KbCheckView({ check }: { check: KbCheck | null }) {
  if (!check) {
    return (
      <p className="muted" data-testid="kb-check-none">
        No check has run yet. It runs by itself once your documents are indexed.
      </p>
    );
  }
  if (check.state === "running") {
    const { done, total } = check.progress;
    const percent = total > 0 ? Math.round((done / total) * 100) : 0;
    return (
      <div className="kb-check" data-testid="kb-check" data-state="running" aria-busy="true">
        <p role="status">
          Checking your knowledge base…{" "}
          {check.step ? <span className="muted">{check.step}</span> : null}
        </p>
        <div
          className="progress"
          role="progressbar"
          aria-label="Knowledge-base check progress"
          aria-valuemin={0}
          aria-valuemax={100}
          aria-valuenow={percent}
        >
          <span style={{ width: `${percent}%` }} />
        </div>
      </div>
    );
  }
  if (check.state === "failed" || !check.report) {
    return (
      <div className="kb-check" data-testid="kb-check" data-state="failed">
        <p className="error" role="alert">
          The check did not finish: {check.error ?? "unknown error"}. Run it again.
        </p>
      </div>
    );
  }
  const { counts, findings, starterQuestions } = check.report;
  const problems = findings.filter((f) => f.severity !== "info").length;
  return (
    <div className="kb-check" data-testid="kb-check" data-state="done">
      <dl className="kb-counts">
        <div>
          <dt>Documents</dt>
          <dd data-testid="kb-count-documents">{number.format(counts.documents)}</dd>
        </div>
        <div>
          <dt>Chunks</dt>
          <dd>{number.format(counts.chunks)}</dd>
        </div>
        <div>
          <dt>Words</dt>
          <dd>{number.format(counts.words)}</dd>
        </div>
        <div>
          <dt>Failed</dt>
          <dd>{number.format(counts.failedJobs)}</dd>
        </div>
      </dl>
      <p className="muted small">
        Checked {new Date(check.finishedAt ?? check.startedAt).toLocaleString("en")} (
        {check.trigger === "auto" ? "after ingestion" : "on request"}).
        {counts.pendingJobs > 0
          ? ` ${counts.pendingJobs} document(s) were still being indexed.`
          : ""}
      </p>
      {problems === 0 && findings.length === 0 ? (
        <p className="ok" role="status">
          Nothing to fix: no empty, tiny, duplicate or unreadable documents, and every starter
          question was answered.
        </p>
      ) : (
        <ul className="kb-findings" aria-label="Findings">
          {findings.map((finding, index) => (
            <FindingItem key={`${finding.kind}-${index}`} finding={finding} />
          ))}
        </ul>
      )}
      {starterQuestions.length > 0 ? (
        <>
          <h3 className="small-heading">Starter questions</h3>
          <ul className="kb-questions">
            {starterQuestions.map((result) => (
              <li key={result.question} data-outcome={result.outcome}>
                <span
                  className={`badge ${result.outcome === "answered" ? "badge-done" : "badge-failed"}`}
                >
                  {result.outcome === "answered"
                    ? "Answered"
                    : result.outcome === "error"
                      ? "Not checked"
                      : "Not answered"}
                </span>{" "}
                {result.question}
                {result.topSource ? (
                  <span className="muted small"> — best passage: {result.topSource.title}</span>
                ) : null}
              </li>
            ))}
          </ul>
        </>
      ) : null}
    </div>
  );
}

function FindingItem({ finding }: { finding: KbFinding }) {
  return (
    <li className={`kb-finding kb-${finding.severity}`} data-kind={finding.kind}>
      <p>
        <span
          className={`badge ${finding.severity === "problem" ? "badge-failed" : finding.severity === "warning" ? "badge-running" : ""}`}
        >
          {SEVERITY_LABEL[finding.severity]}
        </span>{" "}
        <strong>{finding.summary}</strong>
      </p>
      <p className="small">{finding.detail}</p>
      <p className="small">
        <span className="muted">What to do:</span> {finding.fix}
      </p>
    </li>
  );
}
