import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import type { KbCheck } from "#app/shared/kb-check.ts";
import { KbCheckView } from "./kb-check-view.tsx";

const base: KbCheck = {
  id: 1,
  trigger: "auto",
  state: "done",
  step: null,
  progress: { done: 3, total: 3 },
  startedAt: 0,
  finishedAt: 1,
  error: null,
  report: {
    counts: { documents: 4, chunks: 9, words: 1234, failedJobs: 1, pendingJobs: 0 },
    findings: [
      {
        kind: "tiny",
        severity: "warning",
        summary: "“Note” is tiny",
        detail: "3 words (fewer than 30).",
        fix: "Merge it into a fuller page.",
        documents: [{ id: 3, title: "Note" }],
      },
    ],
    starterQuestions: [
      { question: "When are you open?", outcome: "answered", topSource: null, answeredBy: "x" },
      { question: "Do you fix bikes?", outcome: "abstained", topSource: null, answeredBy: "x" },
    ],
    answerer: "extractive:x",
    thresholds: {
      tinyWords: 30,
      shingleWords: 5,
      nearDuplicateShare: 0.8,
      minAlphanumericShare: 0.6,
      maxGarbledShare: 0.01,
    },
  },
};

describe("KbCheckView", () => {
  it("says when no check ran yet", () => {
    expect(renderToStaticMarkup(<KbCheckView check={null} />)).toMatch(/No check has run yet/);
  });

  it("shows progress while running", () => {
    const html = renderToStaticMarkup(
      <KbCheckView
        check={{
          ...base,
          state: "running",
          step: "Asking",
          progress: { done: 1, total: 4 },
          report: null,
        }}
      />,
    );
    expect(html).toMatch(/aria-valuenow="25"/);
    expect(html).toMatch(/Asking/);
  });

  it("shows counts, findings with what to do, and the starter questions", () => {
    const html = renderToStaticMarkup(<KbCheckView check={base} />);
    expect(html).toMatch(/1,234/);
    expect(html).toMatch(/“Note” is tiny/);
    expect(html).toMatch(/What to do:.*Merge it/);
    expect(html).toMatch(/Answered.*When are you open\?/);
    expect(html).toMatch(/Not answered.*Do you fix bikes\?/);
  });

  it("says a failed check did not finish", () => {
    const html = renderToStaticMarkup(
      <KbCheckView check={{ ...base, state: "failed", error: "boom", report: null }} />,
    );
    expect(html).toMatch(/did not finish: boom/);
  });
});
