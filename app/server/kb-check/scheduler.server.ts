// When a tenant's knowledge-base check runs: once its ingestion has settled (decision 032).
// The check itself is ./check.server.ts; the runtime hands it in as \`run\`.
import type { TenantId } from "#tenants/id.ts";
import type { Logger } from "../logger.server.ts";

export interface KbCheckSchedulerOptions {
  /** Runs the check; `signal` aborts when the scheduler closes. */
  run: (id: TenantId, signal: AbortSignal) => Promise<unknown>;
  /** True while the tenant still has ingestion jobs queued or running, or a check running. */
  busy: (id: TenantId) => boolean;
  logger: Logger;
  /** How long the queue must stay quiet before the check runs (ms). */
  delayMs?: number;
  /** How many times a check that could not start or failed is tried again (default 3). */
  retries?: number;
}

/**
 * Runs the check once a tenant's ingestion has settled: every change (re)arms a timer, and
 * when it fires while jobs (or a check) are still pending it waits again — so a 200-page crawl
 * gets one check at the end, not 200, and a change made during a check gets a check of its
 * own. A check that cannot start or fails is tried again, after 2, 4, 8… times the delay, so
 * a passing fault never leaves the admin without one. Like the calibration scheduler
 * (retrieval/calibrate.server.ts).
 */
export class KbCheckScheduler {
  private readonly timers = new Map<TenantId, NodeJS.Timeout>();
  private readonly active = new Set<Promise<unknown>>();
  private readonly stop = new AbortController();
  private closed = false;

  constructor(private readonly options: KbCheckSchedulerOptions) {}

  /** The tenant's knowledge base changed. */
  schedule(id: TenantId): void {
    this.arm(id, 0);
  }

  private arm(id: TenantId, failures: number): void {
    if (this.closed) return;
    clearTimeout(this.timers.get(id));
    const delay = (this.options.delayMs ?? 3000) * 2 ** failures;
    const timer = setTimeout(() => {
      this.timers.delete(id);
      if (this.closed) return;
      const retry = (error: unknown, message: string) => {
        const again = failures < (this.options.retries ?? 3);
        this.options.logger.warn({ err: error, tenantId: id, retry: again }, message);
        if (again) this.arm(id, failures + 1);
      };
      let busy: boolean;
      try {
        busy = this.options.busy(id);
      } catch (error) {
        retry(error, "knowledge-base check could not start");
        return;
      }
      if (busy) {
        this.arm(id, failures);
        return;
      }
      const run = this.options
        .run(id, this.stop.signal)
        .catch((error: unknown) => retry(error, "knowledge-base check failed"))
        .finally(() => this.active.delete(run));
      this.active.add(run);
    }, delay);
    timer.unref();
    this.timers.set(id, timer);
  }

  /** Whether a check of the tenant is waiting for its ingestion to settle. */
  pending(id: TenantId): boolean {
    return this.timers.has(id);
  }

  /** Cancels waiting checks and waits for those in progress. */
  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.stop.abort();
    await Promise.allSettled([...this.active]);
  }
}
