// Group commit of the cached-answer lane's writes (docs/decisions/034). A replayed answer
// writes its exchange, the day's usage and its audit entry: on their own that is two SQLite
// commits per ask, the largest cost of a cached ask after the socket write. Here the writes of
// the asks that arrive within one turn of the event loop (or within MAX_DELAY_MS, or
// MAX_BATCH asks) run in one transaction per tenant database, each in its own savepoint (one
// failing ask does not undo the others), and each ask is told its result only after the
// COMMIT: an answer is never sent for writes that were not committed, so a crash loses
// nothing that was acknowledged — only asks still waiting for their turn, which get no answer.
import type { TenantId } from "#tenants/id.ts";
import { transactionOn } from "#tenants/statements.ts";
import type { TenantDb } from "#tenants/store.ts";

/** The longest an ask waits for its batch, even when the event loop is busy. */
export const MAX_DELAY_MS = 2;
/** The most asks one transaction carries. */
export const MAX_BATCH = 64;

interface Pending {
  work: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

export class TurnCommit {
  readonly #open: (tenantId: TenantId) => TenantDb;
  #pending = new Map<TenantId, Pending[]>();
  #size = 0;
  #openedAt = 0;
  #scheduled = false;

  /** `open`: the one way to a tenant's handle, taken at commit time (the pool may close it). */
  constructor(open: (tenantId: TenantId) => TenantDb) {
    this.#open = open;
  }

  /** Runs `work` (synchronous writes to this tenant) in the turn's transaction. */
  run<T>(tenantId: TenantId, work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let batch = this.#pending.get(tenantId);
      if (!batch) {
        batch = [];
        this.#pending.set(tenantId, batch);
      }
      batch.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (this.#size++ === 0) this.#openedAt = performance.now();
      if (this.#size >= MAX_BATCH || performance.now() - this.#openedAt >= MAX_DELAY_MS) {
        this.flush();
      } else if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => {
          this.#scheduled = false;
          this.flush();
        });
      }
    });
  }

  /** Commits every waiting ask's writes now. */
  flush(): void {
    const batches = this.#pending;
    this.#pending = new Map();
    this.#size = 0;
    for (const [tenantId, batch] of batches) {
      let outcomes: Outcome[];
      try {
        const db = this.#open(tenantId);
        outcomes = transactionOn(db, "turnCommit", (asks: readonly Pending[]) =>
          asks.map((ask) => inSavepoint(db, ask.work)),
        )(batch);
      } catch (error) {
        // The COMMIT (or the handle) failed: nothing of the batch was written.
        for (const ask of batch) ask.reject(error);
        continue;
      }
      batch.forEach((ask, i) => {
        const outcome = outcomes[i]!;
        if (outcome.ok) ask.resolve(outcome.value);
        else ask.reject(outcome.error);
      });
    }
  }
}

function inSavepoint(db: TenantDb, work: () => unknown): Outcome {
  try {
    // Nested in the turn's transaction: a SAVEPOINT, rolled back alone if the work throws.
    return {
      ok: true,
      value: transactionOn(db, "turnCommitAsk", (run: () => unknown) => run())(work),
    };
  } catch (error) {
    return { ok: false, error };
  }
}
