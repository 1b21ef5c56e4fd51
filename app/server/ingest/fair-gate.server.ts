// Turns at the ingestion worker's CPU-bound steps (parsing a document, embedding one batch of
// chunks), shared round-robin between tenants (decision 043). A job takes a turn for
// each step and gives it back after, so a tenant's 20,000-chunk document lets another tenant's
// small job in between two batches instead of after the last one.
export class FairGate {
  private free: number;
  /** Waiters by tenant; a Map keeps insertion order, which is the round-robin order. */
  private readonly waiting = new Map<string, Array<() => void>>();

  constructor(permits: number) {
    if (!Number.isInteger(permits) || permits < 1) throw new RangeError("permits must be ≥ 1");
    this.free = permits;
  }

  /** Tenants with a step waiting for a turn. */
  get waitingTenants(): number {
    return this.waiting.size;
  }

  acquire(tenant: string): Promise<void> {
    if (this.free > 0 && this.waiting.size === 0) {
      this.free--;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const queue = this.waiting.get(tenant);
      if (queue) queue.push(resolve);
      else this.waiting.set(tenant, [resolve]);
    });
  }

  /** Gives the turn to the next tenant in line, or back to the pool. */
  release(): void {
    const next = this.waiting.entries().next();
    if (next.done) {
      this.free++;
      return;
    }
    const [tenant, queue] = next.value;
    const resolve = queue.shift() as () => void;
    // The tenant just served goes to the back of the line.
    this.waiting.delete(tenant);
    if (queue.length > 0) this.waiting.set(tenant, queue);
    resolve();
  }

  /** Runs `step` in one of the tenant's turns. */
  async run<T>(tenant: string, step: () => Promise<T> | T): Promise<T> {
    await this.acquire(tenant);
    try {
      return await step();
    } finally {
      this.release();
    }
  }
}
