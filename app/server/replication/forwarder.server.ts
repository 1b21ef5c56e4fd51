// Forwards a replica's outbox to the primary (docs/decisions/023): every `intervalMs`, the
// oldest pending entries go in one signed POST to the primary's /api/internal/outbox, and the
// keys it acknowledges are marked forwarded. While the primary is unreachable the entries
// wait, and the interval backs off (doubling, up to `maxBackoffMs`); nothing is dropped. When
// this machine becomes the primary itself, it applies its own outbox directly.
import type { Logger } from "../logger.server.ts";
import type { CoreParts } from "../parts.server.ts";
import {
  applyOutboxBatch,
  outboxSecret,
  pruneAppliedKeys,
  SIGNATURE_HEADER,
  signBatch,
  type OutboxBatch,
} from "./apply.server.ts";
import type { Outbox } from "./outbox.server.ts";
import type { ReplicationRole } from "./role.server.ts";

export const OUTBOX_PATH = "/api/internal/outbox";

export interface ForwarderOptions {
  outbox: Outbox;
  role: ReplicationRole;
  /** The primary's base URL, given its hostname (from the `.primary` file). */
  primaryUrl: (primaryHost: string) => string;
  runtime: Pick<CoreParts, "tenants" | "control" | "logger">;
  logger: Logger;
  intervalMs: number;
  batchSize: number;
  maxBackoffMs?: number;
  timeoutMs?: number;
}

export class OutboxForwarder {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private backoffMs = 0;
  private stopped = false;

  constructor(private readonly options: ForwarderOptions) {}

  start(): void {
    this.stopped = false;
    this.schedule(this.options.intervalMs);
  }

  /** Sends what is pending now; resolves once this round is done. */
  flush(): Promise<void> {
    this.running ??= this.round().finally(() => (this.running = undefined));
    return this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.flush().then(() => this.schedule(this.options.intervalMs + this.backoffMs));
    }, ms);
    this.timer.unref();
  }

  private async round(): Promise<void> {
    const { outbox, role, batchSize, logger } = this.options;
    // Drain in batches while the primary keeps acknowledging.
    for (;;) {
      if (!outbox.open) return;
      const entries = outbox.pending(batchSize);
      if (entries.length === 0) {
        this.backoffMs = 0;
        return;
      }
      const batch: OutboxBatch = { entries };
      const current = role.current();
      let acknowledged: string[];
      try {
        acknowledged = current.primary
          ? this.applyHere(batch)
          : await this.send(batch, current.primaryHost ?? "unknown");
      } catch (error) {
        const max = this.options.maxBackoffMs ?? 30_000;
        this.backoffMs = Math.min(max, Math.max(this.options.intervalMs, this.backoffMs * 2));
        logger.warn(
          { err: error, pending: outbox.pendingCount(), retryInMs: this.backoffMs },
          "outbox: the primary did not take the batch; keeping it",
        );
        return;
      }
      outbox.acknowledge(acknowledged);
      this.backoffMs = 0;
      logger.debug({ forwarded: acknowledged.length }, "outbox batch forwarded");
      if (entries.length < batchSize) return;
    }
  }

  /** This machine is the primary now (promoted with entries still pending). */
  private applyHere(batch: OutboxBatch): string[] {
    const { runtime } = this.options;
    const result = applyOutboxBatch(runtime, batch);
    pruneAppliedKeys(
      runtime,
      batch.entries.map((e) => e.tenantId),
    );
    return result.acknowledged;
  }

  private async send(batch: OutboxBatch, primaryHost: string): Promise<string[]> {
    const { runtime, primaryUrl, timeoutMs = 10_000 } = this.options;
    const body = JSON.stringify(batch);
    const response = await fetch(new URL(OUTBOX_PATH, primaryUrl(primaryHost)), {
      method: "POST",
      headers: {
        "content-type": "application/json",
        [SIGNATURE_HEADER]: signBatch(outboxSecret(runtime.control), body, Date.now()),
      },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!response.ok) {
      throw new Error(`the primary answered ${response.status} to the outbox batch`);
    }
    const result = (await response.json()) as { acknowledged?: unknown };
    if (!Array.isArray(result.acknowledged)) {
      throw new Error("the primary's outbox answer has no acknowledged keys");
    }
    return result.acknowledged.filter((k): k is string => typeof k === "string");
  }
}
