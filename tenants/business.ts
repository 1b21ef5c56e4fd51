// What a tenant's database knows about the business itself, as the trial's sign-up stored it
// in the tenant's `meta` table: its industry (absent for older tenants and for sign-ups that
// skipped it). Touches only the tenant database it is handed.
import { statement } from "./statements.ts";
import type { TenantDb } from "./store.ts";

/** The industry exactly as stored (an INDUSTRIES value), or undefined. */
export function storedIndustry(db: TenantDb): string | undefined {
  const row = statement(db, "SELECT value FROM meta WHERE key = 'industry'").get() as
    { value: string } | undefined;
  return row?.value;
}

export function setIndustry(db: TenantDb, industry: string): void {
  statement(
    db,
    "INSERT INTO meta (key, value) VALUES ('industry', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
  ).run(industry);
}
