import { renderToStaticMarkup } from "react-dom/server";
import { createMemoryRouter, RouterProvider } from "react-router";
import { describe, expect, it, vi } from "vitest";
import type { CrawlProgress } from "#tenants/crawls.ts";
import {
  CrawlProgressView,
  failureAdvice,
  JobProgressView,
  jobStatusText,
  pollEvery,
  ProgressBar,
  type JobProgressData,
} from "./progress.tsx";

const render = (element: React.ReactElement) => {
  const router = createMemoryRouter([{ path: "/", element }]);
  return renderToStaticMarkup(<RouterProvider router={router} />);
};

describe("ProgressBar", () => {
  it("is a labelled progressbar with its value, max and a visible figure", () => {
    const html = render(<ProgressBar label="Pages fetched" value={3} max={12} />);
    expect(html).toContain('role="progressbar"');
    expect(html).toContain('aria-label="Pages fetched"');
    expect(html).toContain('aria-valuenow="3"');
    expect(html).toContain('aria-valuemax="12"');
    expect(html).toContain('aria-valuetext="3 of 12 (25%)"');
    expect(html).toContain("width:25%");
    expect(html).toContain(">3/12<");
  });

  it("clamps values and says when nothing has started", () => {
    expect(render(<ProgressBar label="x" value={20} max={10} />)).toContain('aria-valuenow="10"');
    const empty = render(<ProgressBar label="x" value={0} max={0} />);
    expect(empty).toContain('aria-valuetext="not started"');
    expect(empty).toContain(">—<");
  });
});

const job = (over: Partial<JobProgressData>): JobProgressData => ({
  id: 1,
  title: "Guide",
  state: "running",
  stage: "embed",
  progressDone: 4,
  progressTotal: 10,
  ...over,
});

describe("JobProgressView", () => {
  it("shows passages embedded, and a finished job as complete", () => {
    expect(render(<JobProgressView job={job({})} />)).toContain(
      'aria-valuetext="4 of 10 passages, embedding passages (40%)"',
    );
    const done = render(
      <JobProgressView
        job={job({ state: "done", progressDone: 0, progressTotal: 0, outcome: "unchanged" })}
      />,
    );
    expect(done).toContain('aria-valuenow="1"');
    expect(done).toContain('aria-valuemax="1"');
  });

  it("says what a job is doing", () => {
    expect(jobStatusText(job({ state: "queued", attempts: 0 }))).toBe("queued");
    expect(jobStatusText(job({ state: "queued", attempts: 2 }))).toBe(
      "waiting to retry (attempt 2)",
    );
    expect(jobStatusText(job({ stage: null }))).toBe("starting");
    expect(jobStatusText(job({ state: "done", outcome: "replaced" }))).toBe("updated");
    expect(jobStatusText(job({ state: "done", outcome: null }))).toBe("done");
    expect(jobStatusText(job({ state: "failed" }))).toBe("failed");
  });
});

describe("CrawlProgressView", () => {
  const crawl: CrawlProgress = {
    id: 7,
    url: "https://shop.example/",
    state: "running",
    pagesFound: 10,
    pagesFetched: 4,
    pagesIndexed: 2,
    pagesProcessed: 6,
    failures: [{ url: "https://shop.example/gone", reason: "HTTP 404: the page does not exist." }],
    skipped: [
      { url: "https://shop.example/copy", reason: "Same content as https://shop.example/a." },
    ],
    startedAt: Date.UTC(2026, 11, 2, 8, 0),
    finishedAt: null,
    recrawl: "weekly",
    nextRunAt: null,
    maxPages: 50,
    maxDepth: 3,
    note: "Stopped at the 10-page limit.",
    error: null,
  };

  it("shows both bars, the figures, the failures with reasons and the skipped pages", () => {
    const html = render(<CrawlProgressView crawl={crawl} />);
    expect(html).toContain('aria-label="Pages fetched of https://shop.example/"');
    expect(html).toContain('aria-valuenow="6"');
    expect(html).toContain('aria-label="Pages indexed of https://shop.example/"');
    expect(html).toContain("10 found · 4 fetched · 2 indexed · 1 failed · 1 skipped");
    expect(html).toContain("re-crawled weekly");
    expect(html).toContain("HTTP 404: the page does not exist.");
    expect(html).toContain("Same content as https://shop.example/a.");
    expect(html).toContain("Stopped at the 10-page limit.");
  });

  it("shows why a crawl failed", () => {
    const html = render(
      <CrawlProgressView
        crawl={{ ...crawl, state: "failed", error: "robots.txt could not be read" }}
      />,
    );
    expect(html).toContain('class="error"');
    expect(html).toContain("robots.txt could not be read");
  });
});

describe("failureAdvice", () => {
  it("says what to do about a failure", () => {
    const formats = [".txt", ".pdf"];
    expect(failureAdvice("x answered HTTP 404 Not Found.", formats)).toMatch(/Check the address/);
    expect(failureAdvice("x answered HTTP 401.", formats)).toMatch(/login/);
    expect(failureAdvice("x is larger than the 5-byte limit.", formats)).toMatch(
      /MAX_UPLOAD_BYTES/,
    );
    expect(failureAdvice("x resolves to a private network address", formats)).toMatch(
      /public.*INGEST_ALLOW_PRIVATE_URLS=true/,
    );
    expect(failureAdvice("x did not answer within 5 ms.", formats)).toMatch(/later/);
    expect(failureAdvice("The document contains no text.", formats)).toMatch(/readable text/);
    expect(failureAdvice("Unsupported document type", formats)).toMatch(/\.txt, \.pdf/);
    expect(
      failureAdvice(
        "The document expands to more than 50 MB (INGEST_MAX_DECOMPRESSED_BYTES).",
        formats,
      ),
    ).toMatch(/split it, or ask the operator to raise INGEST_MAX_DECOMPRESSED_BYTES/);
    expect(
      failureAdvice("This knowledge base is at its plan's quota of 3 chunks.", formats),
    ).toMatch(/raise the plan's quota/);
    expect(failureAdvice(null, formats)).toMatch(/server log/);
  });
});

describe("pollEvery", () => {
  it("polls again after each poll settles, even a failed one, until stopped", async () => {
    vi.useFakeTimers();
    try {
      let calls = 0;
      const stop = pollEvery(1000, () => {
        calls++;
        return calls === 2 ? Promise.reject(new Error("offline")) : Promise.resolve();
      });
      await vi.advanceTimersByTimeAsync(999);
      expect(calls).toBe(0);
      await vi.advanceTimersByTimeAsync(1);
      expect(calls).toBe(1);
      await vi.advanceTimersByTimeAsync(2000);
      expect(calls).toBe(3);
      stop();
      await vi.advanceTimersByTimeAsync(5000);
      expect(calls).toBe(3);
    } finally {
      vi.useRealTimers();
    }
  });

  it("waits for a slow poll before starting the next one", async () => {
    vi.useFakeTimers();
    try {
      let calls = 0;
      let finish: () => void = () => {};
      const stop = pollEvery(100, () => {
        calls++;
        return new Promise<void>((resolve) => (finish = resolve));
      });
      await vi.advanceTimersByTimeAsync(1000);
      expect(calls).toBe(1);
      finish();
      await vi.advanceTimersByTimeAsync(100);
      expect(calls).toBe(2);
      stop();
    } finally {
      vi.useRealTimers();
    }
  });
});
