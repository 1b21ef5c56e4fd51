// The knowledge-base check and suggested actions through the built server's HTTP surface:
// ingest a small knowledge base with known defects (an empty file, a tiny note, two copies of
// one text) and pages that point to actions (opening hours and appointments, returns and
// refunds); the check runs by itself once ingestion settles and reports each defect with its
// measurement, the starter question the knowledge base cannot answer, and the two actions
// with their evidence; the admin accepts one (the action is switched on) and rejects the other.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ActionSuggestion, KbCheck } from "../../app/shared/kb-check.ts";
import { createTenant, signIn, waitForJobs } from "../support/admin.ts";
import { createAdmin } from "../support/cli.ts";
import {
  startServer,
  tempDataDir,
  waitFor,
  type Client,
  type TestServer,
} from "../support/server.ts";

let server: TestServer;
let admin: Client;
let tenantId: string;

const HOURS_MD = `# Visiting the clinic

## Opening hours

Our opening hours are Monday to Friday from 8:00 to 18:00 and Saturday from 9:00 to 13:00.
We are closed on Sundays and public holidays. The reception answers the phone during opening
hours and can tell you which doctor is on duty that day.

## Appointments

Book an appointment online or by phone. Appointments last thirty minutes; please arrive ten
minutes early with your insurance card. You can cancel an appointment up to a day before.
`;

const RETURNS_MD = `# Returns and refunds

## Returns policy

Our returns policy lets you send any unused product back within 30 days of delivery. Print the
return label from your account page and drop the parcel at any post office.

## Refunds

Refunds are paid to your original payment method within five working days after the returned
product reaches our warehouse. Shipping costs are refunded when the product was faulty.
`;

const DUPLICATE = `Parking is available behind the building, with twelve spaces for patients and two
for disabled visitors. The car park is free for the first two hours; ask at the reception for a
ticket. Bicycles can be left in the covered rack by the main entrance.`;

type Overview = {
  check: KbCheck | null;
  lastReport: KbCheck | null;
  suggestions: ActionSuggestion[];
};

async function overview(): Promise<Overview> {
  const res = await admin.fetch(`/api/tenants/${tenantId}/check`);
  expect(res.status).toBe(200);
  return (await res.json()) as Overview;
}

async function upload(name: string, content: string): Promise<number> {
  const form = new FormData();
  form.append("file", new Blob([content]), name);
  const res = await admin.fetch(`/api/tenants/${tenantId}/documents`, {
    method: "POST",
    body: form,
  });
  expect(res.status).toBe(202);
  return ((await res.json()) as { jobs: { id: number }[] }).jobs[0]!.id;
}

async function paste(title: string, text: string): Promise<number> {
  const res = await admin.json(`/api/tenants/${tenantId}/documents`, { type: "text", title, text });
  expect(res.status).toBe(202);
  return ((await res.json()) as { jobs: { id: number }[] }).jobs[0]!.id;
}

beforeAll(async () => {
  const dataDir = tempDataDir();
  await createAdmin(dataDir);
  server = await startServer({ dataDir });
  admin = await signIn(server.url);
  tenantId = await createTenant(admin, "Riverside Clinic");
  const widget = await admin.json(
    `/api/tenants/${tenantId}`,
    { widget: { starterQuestions: ["What are your opening hours?", "Do you repair bicycles?"] } },
    "PATCH",
  );
  expect(widget.status).toBe(200);
});

afterAll(async () => {
  await server?.stop();
});

describe("the knowledge-base check", () => {
  it("has nothing to show before any ingestion", async () => {
    expect(await overview()).toEqual({ check: null, lastReport: null, suggestions: [] });
  });

  it("runs by itself after ingestion and reports what it measured", async () => {
    const jobs = [
      // Not zero bytes (refused at upload), but no text: a page with only an image.
      await upload("empty.html", '<html><body><img src="logo.png" alt=""></body></html>'),
      await paste("Holiday note", "Closed on public holidays."),
      await paste("Parking", DUPLICATE),
      await paste("Parking (copy)", DUPLICATE),
      await upload("hours.md", HOURS_MD),
      await upload("returns.md", RETURNS_MD),
    ];
    const done = await waitForJobs(admin, tenantId, jobs);
    expect(done.map((j) => j.state).sort()).toEqual([
      "done",
      "done",
      "done",
      "done",
      "done",
      "failed",
    ]);

    const { check } = await waitFor(
      async () => {
        const seen = await overview();
        return seen.check?.state === "done" ? seen : undefined;
      },
      { what: "the automatic check", timeoutMs: 60_000 },
    );
    expect(check).toMatchObject({ trigger: "auto", error: null });
    const report = check!.report!;
    expect(report.counts).toMatchObject({ documents: 5, failedJobs: 1, pendingJobs: 0 });
    expect(report.counts.chunks).toBeGreaterThanOrEqual(5);
    expect(report.counts.words).toBeGreaterThan(150);

    const byKind = (kind: string) => report.findings.filter((f) => f.kind === kind);
    expect(byKind("empty")).toHaveLength(1);
    expect(byKind("empty")[0]).toMatchObject({ summary: "“empty.html” has no text" });
    expect(byKind("empty")[0]!.detail).toMatch(/no text/);
    expect(byKind("tiny").map((f) => f.summary)).toEqual(["“Holiday note” is tiny"]);
    expect(byKind("tiny")[0]!.detail).toMatch(/^4 words \(fewer than 30\)/);
    expect(byKind("duplicate")).toHaveLength(1);
    expect(
      byKind("duplicate")[0]!
        .documents.map((d) => d.title)
        .sort(),
    ).toEqual(["Parking", "Parking (copy)"]);
    expect(byKind("duplicate")[0]!.detail).toMatch(/identical text/);
    expect(byKind("unanswerable_question").map((f) => f.question)).toEqual([
      "Do you repair bicycles?",
    ]);
    for (const finding of report.findings) expect(finding.fix.length).toBeGreaterThan(10);
    expect(report.starterQuestions.map((q) => [q.question, q.outcome])).toEqual([
      ["What are your opening hours?", "answered"],
      ["Do you repair bicycles?", "abstained"],
    ]);
  });

  it("suggests actions with their evidence; accepting one switches it on", async () => {
    const { suggestions } = await overview();
    expect(suggestions.map((s) => [s.action, s.status])).toEqual([
      ["book_appointment", "proposed"],
      ["returns_and_refunds", "proposed"],
    ]);
    const booking = suggestions[0]!;
    expect(booking.evidence.length).toBeGreaterThanOrEqual(2);
    expect(booking.evidence.every((e) => e.title === "Visiting the clinic")).toBe(true);
    expect(booking.evidence.map((e) => e.matched)).toContain("opening hours");
    expect(booking.reason).toMatch(/passages in 1 document mention opening hours/);

    const accepted = await admin.json(`/api/tenants/${tenantId}/suggestions/${booking.id}`, {
      decision: "accept",
    });
    expect(accepted.status).toBe(200);
    const body = (await accepted.json()) as { suggestion: ActionSuggestion; message: string };
    expect(body.suggestion).toMatchObject({ status: "accepted", outcome: "enabled" });
    expect(body.message).toMatch(/is on/);
    const actions = await admin.fetch(`/api/tenants/${tenantId}/actions`);
    const settings = (await actions.json()) as {
      settings: { actions: Record<string, { enabled: boolean }> };
    };
    expect(settings.settings.actions.book_appointment?.enabled).toBe(true);
    expect(settings.settings.actions.returns_and_refunds?.enabled).toBe(false);

    const returns = suggestions[1]!;
    const rejected = await admin.json(`/api/tenants/${tenantId}/suggestions/${returns.id}`, {
      decision: "reject",
    });
    expect(((await rejected.json()) as { suggestion: ActionSuggestion }).suggestion.status).toBe(
      "rejected",
    );
    const again = await admin.json(`/api/tenants/${tenantId}/suggestions/${returns.id}`, {
      decision: "accept",
    });
    expect(again.status).toBe(409);
    expect(await again.json()).toEqual({
      error: { code: "conflict", message: "This suggestion was already rejected." },
    });
  });

  it("runs again on request, with progress, keeping the decisions", async () => {
    const started = await admin.json(`/api/tenants/${tenantId}/check`, {});
    expect(started.status).toBe(202);
    const running = ((await started.json()) as { check: KbCheck }).check;
    expect(running).toMatchObject({ state: "running", trigger: "manual", report: null });
    expect(running.progress.total).toBeGreaterThan(0);
    const finished = await waitFor(
      async () => {
        const seen = await overview();
        return seen.check?.id === running.id && seen.check.state === "done" ? seen : undefined;
      },
      { what: "the requested check", timeoutMs: 60_000 },
    );
    expect(finished.lastReport?.id).toBe(running.id);
    expect(finished.suggestions.map((s) => [s.action, s.status])).toEqual([
      ["book_appointment", "accepted"],
      ["returns_and_refunds", "rejected"],
    ]);
  });

  it("validates requests strictly, with the one error shape", async () => {
    const extra = await admin.json(`/api/tenants/${tenantId}/check`, { wait: true, force: 1 });
    expect(extra.status).toBe(400);
    const body = (await extra.json()) as { error: { code: string; message: string } };
    expect(Object.keys(body)).toEqual(["error"]);
    expect(body.error.code).toBe("validation_failed");
    const bad = await admin.json(`/api/tenants/${tenantId}/suggestions/1`, { decision: "maybe" });
    expect(bad.status).toBe(400);
    const notId = await admin.json(`/api/tenants/${tenantId}/suggestions/abc`, {
      decision: "accept",
    });
    expect(notId.status).toBe(404);
  });

  it("shows the Check tab with the findings and the decided suggestions", async () => {
    const res = await admin.fetch(`/admin/tenants/${tenantId}/check`);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain("Knowledge-base check");
    expect(html).toContain("“Holiday note” is tiny");
    expect(html).toContain("Run again");
    expect(html).toContain("Book an appointment");
    expect(html).toContain("Accepted: switched on");
  });
});
