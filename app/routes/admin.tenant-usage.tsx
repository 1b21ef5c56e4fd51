// /admin/tenants/:tenantId/usage — the tenant's last 30 days as charts: questions, tokens
// against the plan's budget, the answer cache's hit rate and the 95th percentile latency,
// each with its numbers as a table. Exact figures from the tenant's own database
// (tenants/usage.ts), not from Prometheus.
import { Link } from "react-router";
import { usageSeries, usageTotals } from "#app/server/tenancy/reads.server.ts";
import { requireTenantAccess } from "#app/server/access/auth.server.ts";
import { tenantQuota } from "#app/server/limits/quota.server.ts";
import { storageQuota } from "#app/server/limits/storage-quota.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";
import { tenantDb } from "#app/server/tenancy/tenants.server.ts";
import { TenantNav } from "#app/admin/tenant-nav.tsx";
import { TimeChart } from "#app/admin/time-chart.tsx";
import type { Route } from "./+types/admin.tenant-usage";

const USAGE_CHART_DAYS = 30;

export const meta: Route.MetaFunction = ({ data }) => [
  { title: `Usage: ${data?.tenant.name ?? "tenant"} — BiTB admin` },
];

export async function loader({ request, params }: Route.LoaderArgs) {
  const runtime = await getRuntime();
  const { tenant } = await requireTenantAccess(runtime, request, params.tenantId);
  const db = tenantDb(runtime, tenant);
  const quota = tenantQuota(runtime.control, db, tenant.id);
  const series = usageSeries(db, { days: USAGE_CHART_DAYS, periodStart: quota.periodStart });
  return {
    tenant: { id: tenant.id, name: tenant.name },
    quota,
    storage: storageQuota(runtime.control, db, tenant.id),
    series,
    totals: usageTotals(series),
  };
}

const percent = (value: number) => `${Math.round(value * 100)}%`;
const ms = (value: number) => `${value.toLocaleString("en")} ms`;
const count = (value: number) => value.toLocaleString("en");
const plural = (n: number, word: string) => `${count(n)} ${word}${n === 1 ? "" : "s"}`;
const utc = (at: number) => `${new Date(at).toISOString().slice(0, 10)} (UTC)`;

// Colours with at least 3:1 contrast on white, told apart by shape (bars, line, dashes) too.
const BLUE = "#2546d8";
const TEAL = "#0b7a6f";
const ORANGE = "#b54708";
const RED = "#b42318";

export default function TenantUsage({ loaderData }: Route.ComponentProps) {
  const { tenant, quota, storage, series, totals } = loaderData;
  const stored = [
    { label: "Documents", used: storage.documents, max: storage.maxDocuments, unit: "" },
    { label: "Chunks", used: storage.chunks, max: storage.maxChunks, unit: "" },
    { label: "Text", used: storage.textBytes, max: storage.maxTextBytes, unit: " bytes" },
  ];
  const days = series.map((d) => d.start);
  const busiest = series.reduce((best, d) => (d.asks > best.asks ? d : best), series[0]!);
  const budget = quota.tokenBudget;
  const usedShare = budget ? quota.usedTokens / budget : null;
  const cacheDays = series.filter((d) => d.cacheHitRate !== null);
  const latencyDays = series.filter((d) => d.latencyP95Ms !== null);
  const latest = latencyDays.at(-1);

  return (
    <main className="page">
      <p className="breadcrumbs">
        <Link to="/admin">Tenants</Link> /{" "}
        <Link to={`/admin/tenants/${tenant.id}`}>{tenant.name}</Link> / Usage
      </p>
      <h1>Usage</h1>
      <TenantNav tenantId={tenant.id} />

      <section className="card" aria-labelledby="usage-summary">
        <h2 id="usage-summary">Last {USAGE_CHART_DAYS} days</h2>
        <dl className="stats">
          <div>
            <dt>Questions</dt>
            <dd>{count(totals.asks)}</dd>
          </div>
          <div>
            <dt>Tokens</dt>
            <dd>{count(totals.tokens)}</dd>
          </div>
          <div>
            <dt>From the answer cache</dt>
            <dd>{totals.cacheHitRate === null ? "—" : percent(totals.cacheHitRate)}</dd>
          </div>
          <div>
            <dt>Worst daily p95 latency</dt>
            <dd>{totals.worstP95Ms === null ? "—" : ms(totals.worstP95Ms)}</dd>
          </div>
        </dl>
        <p className="muted">
          Plan {quota.plan}: {count(quota.usedTokens)} tokens used since {utc(quota.periodStart)}
          {budget === null
            ? " — no token budget."
            : ` of ${count(budget)} (${percent(usedShare ?? 0)}).`}
          {quota.trialEndsAt === null ? "" : ` The trial ends ${utc(quota.trialEndsAt)}.`}
        </p>
      </section>

      <section className="card" aria-labelledby="usage-storage">
        <h2 id="usage-storage">Storage against the plan&apos;s quotas</h2>
        <dl className="stats">
          {stored.map((row) => (
            <div key={row.label}>
              <dt>{row.label}</dt>
              <dd>
                {count(row.used)}
                {row.unit}
                {row.max === null
                  ? " (no quota)"
                  : ` of ${count(row.max)}${row.unit} (${percent(row.max ? row.used / row.max : 1)})`}
              </dd>
            </div>
          ))}
        </dl>
        {storage.pendingJobs > 0 ? (
          <p className="muted">
            {plural(storage.pendingJobs, "document")} still being added count against the document
            quota.
          </p>
        ) : null}
        <p className="muted">
          Uploads, pasted text, addresses and crawls past a quota are refused; ask a platform admin
          to raise it.
        </p>
      </section>

      {totals.asks === 0 ? (
        <p className="card muted">
          No questions in the last {USAGE_CHART_DAYS} days. Ask one in the{" "}
          <Link to={`/admin/tenants/${tenant.id}/playground`}>playground</Link> or put the widget on
          your site; the charts fill in as visitors ask.
        </p>
      ) : null}

      <div className="chart-grid">
        <TimeChart
          title="Questions per day"
          yLabel="Questions"
          summary={
            totals.asks === 0
              ? "No questions yet."
              : `${plural(totals.asks, "question")} on ${plural(totals.activeDays, "day")} of ${USAGE_CHART_DAYS}; the busiest was ${busiest.day} with ${count(busiest.asks)}.`
          }
          days={days}
          series={[
            { label: "Questions", values: series.map((d) => d.asks), color: BLUE, kind: "bars" },
          ]}
        />
        <TimeChart
          title="Tokens per day"
          yLabel="Tokens"
          summary={
            budget === null
              ? `${count(totals.tokens)} tokens in ${USAGE_CHART_DAYS} days; the plan has no token budget.`
              : `${count(quota.usedTokens)} of the ${count(budget)}-token budget used in this period (${percent(usedShare ?? 0)}); the dashed line is the budget, the solid line the period's running total.`
          }
          days={days}
          series={[
            { label: "Tokens", values: series.map((d) => d.tokens), color: BLUE, kind: "bars" },
            ...(budget === null
              ? []
              : [
                  {
                    label: "Used in period",
                    values: series.map((d) => d.periodTokens),
                    color: TEAL,
                    kind: "line" as const,
                  },
                  {
                    label: "Budget",
                    values: series.map(() => budget),
                    color: RED,
                    kind: "rule" as const,
                  },
                ]),
          ]}
        />
        <TimeChart
          title="Answer cache hit rate"
          yLabel="Hit rate"
          yRange={[0, 1]}
          summary={
            cacheDays.length === 0
              ? "No questions yet, so no cache hits."
              : `${percent(totals.cacheHitRate ?? 0)} of questions were answered from the cache (${count(totals.cacheHits)} of ${count(totals.asks)}); days without questions are gaps.`
          }
          days={days}
          series={[
            {
              label: "Hit rate",
              values: series.map((d) => d.cacheHitRate),
              color: TEAL,
              kind: "line",
              format: percent,
            },
          ]}
        />
        <TimeChart
          title="95th percentile latency"
          yLabel="Latency"
          summary={
            latest === undefined
              ? "No answers yet."
              : `On ${latest.day}, 95% of answers were complete within ${ms(latest.latencyP95Ms ?? 0)}; the slowest day's p95 was ${ms(totals.worstP95Ms ?? 0)}.`
          }
          days={days}
          series={[
            {
              label: "p95 latency",
              values: series.map((d) => d.latencyP95Ms),
              color: ORANGE,
              kind: "line",
              format: ms,
            },
          ]}
        />
      </div>
    </main>
  );
}
