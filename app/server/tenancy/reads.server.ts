// What the admin's pages read from (and delete in) a tenant's database, under a `.server`
// name: UI route modules import these values from here, never from `#tenants/*` directly, so
// keeping SQLite code out of the browser bundle never depends on tree-shaking (React Router's
// decision 0009). API routes and server modules may import `#tenants/*` themselves.
export {
  countChunks,
  deleteDocument,
  getDocument,
  hasPendingJobs,
  listDocuments,
  listJobs,
} from "#tenants/knowledge-base.ts";
export { storedIndustry } from "#tenants/business.ts";
export { getTranscript, listConversations } from "#tenants/transcripts.ts";
export { groupUnanswered, listUnanswered } from "#tenants/unanswered.ts";
export { usageSeries, usageTotals } from "#tenants/usage.ts";
