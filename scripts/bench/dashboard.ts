// What the dashboard's reads cost on a busy tenant (docs/decisions/031): the usage charts'
// 30 days (exact daily p95 from the window's messages, found by id) against the same query
// scanning every message, and the conversations list's first page and searches. The ask
// path is unchanged: the dashboard adds no index for it to maintain.
// `npm run bench:dashboard -- [asks]` — prints its figures; not a timed test.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { recordExchange } from "#tenants/conversations.ts";
import { newTenantId } from "#tenants/id.ts";
import { openTenantDb } from "#tenants/store.ts";
import { listConversations } from "#tenants/transcripts.ts";
import { DAY_MS, usageSeries } from "#tenants/usage.ts";

const ASKS = Number(process.argv[2] ?? 60_000);
const SPAN_DAYS = 180;
const NOW = Date.UTC(2026, 11, 2, 12);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-bench-dashboard-"));
const db = openTenantDb(dir, newTenantId(), { model: "t", dimension: 4 }, { create: true });

const started = performance.now();
db.transaction(() => {
  for (let i = 0; i < ASKS; i++) {
    recordExchange(db, {
      conversationId: `cv_bench${String(Math.floor(i / 3)).padStart(8, "0")}`,
      question: `question ${i} about shipping and returns`,
      answer: `answer ${i} with a citation [1]`,
      citations: [{ n: 1, title: "Doc", url: null, snippet: "text", headingPath: "" }],
      provider: "extractive:v1",
      promptTokens: 100,
      completionTokens: 40,
      latencyMs: 50 + ((i * 7919) % 400),
      abstained: false,
      now: NOW - SPAN_DAYS * DAY_MS + Math.floor((i / ASKS) * SPAN_DAYS * DAY_MS),
    });
  }
})();
console.log(
  `${ASKS} asks (${ASKS * 2} messages) over ${SPAN_DAYS} days recorded in ${Math.round(performance.now() - started)} ms`,
);

function time(label: string, run: () => unknown, times = 20) {
  run();
  const at = performance.now();
  for (let i = 0; i < times; i++) run();
  console.log(`  ${label.padEnd(44)} ${((performance.now() - at) / times).toFixed(2)} ms`);
}
const scanQuery = `WITH ranked AS (
  SELECT created_at / ${DAY_MS} AS d, latency_ms,
    ROW_NUMBER() OVER (PARTITION BY created_at / ${DAY_MS} ORDER BY latency_ms) AS rank,
    COUNT(*) OVER (PARTITION BY created_at / ${DAY_MS}) AS n
  FROM messages WHERE role = 'assistant' AND created_at >= ? AND created_at < ?
    AND latency_ms IS NOT NULL)
  SELECT d, n, latency_ms FROM ranked WHERE rank = (n * 95 + 99) / 100`;
console.log("reads:");
time("usageSeries, 30 days (window found by id)", () => usageSeries(db, { now: NOW }));
time("same p95 query scanning every message", () =>
  db.prepare(scanQuery).all(NOW - 29 * DAY_MS, NOW + DAY_MS),
);
time("listConversations, first page", () => listConversations(db, { limit: 20 }));
time("listConversations, search 'returns'", () =>
  listConversations(db, { limit: 20, search: "returns" }),
);
time(
  "listConversations, search with no match",
  () => listConversations(db, { limit: 20, search: "zzz-nothing" }),
  3,
);
db.close();
fs.rmSync(dir, { recursive: true, force: true });
