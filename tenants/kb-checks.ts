// Data access for the knowledge-base check's runs (table `kb_checks`, tenant migration 11):
// one row per run, its progress updated as it goes and its report stored as JSON when it
// finishes. Only the last few runs are kept. app/server/kb-check/ runs the check and parses
// the report; this module touches only the tenant database it is handed.
import type { TenantDb } from "./store.ts";

export interface KbCheckRow {
  id: number;
  trigger: string;
  state: string;
  step: string | null;
  progress_done: number;
  progress_total: number;
  /** JSON report, once done. */
  report: string | null;
  error: string | null;
  started_at: number;
  finished_at: number | null;
}

/** The newest run (running or finished). */
export function latestKbCheckRow(db: TenantDb): KbCheckRow | undefined {
  return db.prepare("SELECT * FROM kb_checks ORDER BY id DESC LIMIT 1").get() as
    KbCheckRow | undefined;
}

export function kbCheckRow(db: TenantDb, id: number): KbCheckRow | undefined {
  return db.prepare("SELECT * FROM kb_checks WHERE id = ?").get(id) as KbCheckRow | undefined;
}

/** The newest finished run. */
export function latestDoneKbCheckRow(db: TenantDb): KbCheckRow | undefined {
  return db
    .prepare("SELECT * FROM kb_checks WHERE state = 'done' ORDER BY id DESC LIMIT 1")
    .get() as KbCheckRow | undefined;
}

/**
 * Starts a run, in one transaction: runs still "running" that started before `staleBefore`
 * are marked failed (their process stopped), all but the last 20 runs are deleted, and the
 * new row is inserted. Returns its id.
 */
export function insertKbCheck(
  db: TenantDb,
  run: { trigger: string; step: string; now: number; staleBefore: number },
): number {
  return db.transaction(() => {
    db.prepare(
      `UPDATE kb_checks SET state = 'failed', error = 'The check was interrupted.', finished_at = ?
       WHERE state = 'running' AND started_at < ?`,
    ).run(run.now, run.staleBefore);
    // Only the last few runs are worth keeping.
    db.prepare("DELETE FROM kb_checks WHERE id <= (SELECT max(id) FROM kb_checks) - 20").run();
    return Number(
      db
        .prepare(
          `INSERT INTO kb_checks (trigger, state, step, started_at) VALUES (?, 'running', ?, ?)`,
        )
        .run(run.trigger, run.step, run.now).lastInsertRowid,
    );
  })();
}

export function updateKbCheckProgress(
  db: TenantDb,
  id: number,
  step: string,
  done: number,
  total: number,
): void {
  db.prepare(
    "UPDATE kb_checks SET step = ?, progress_done = ?, progress_total = ? WHERE id = ?",
  ).run(step, done, total, id);
}

/** Marks a run done with its report (JSON). */
export function finishKbCheck(db: TenantDb, id: number, report: string, now: number): void {
  db.prepare(
    `UPDATE kb_checks SET state = 'done', step = NULL, progress_done = progress_total,
       report = ?, finished_at = ? WHERE id = ?`,
  ).run(report, now, id);
}

/** Marks a run failed with the reason. */
export function failKbCheck(db: TenantDb, id: number, error: string, now: number): void {
  db.prepare(
    "UPDATE kb_checks SET state = 'failed', step = NULL, error = ?, finished_at = ? WHERE id = ?",
  ).run(error, now, id);
}
