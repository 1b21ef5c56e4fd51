import { describe, expect, it, vi } from "vitest";
import type { TenantId } from "#tenants/id.ts";
import { silentLogger } from "../logger.server.ts";
import { KbCheckScheduler } from "./scheduler.server.ts";

describe("KbCheckScheduler", () => {
  it("waits while jobs are pending, runs once, and stops on close", async () => {
    const runs: string[] = [];
    let busy = true;
    const scheduler = new KbCheckScheduler({
      run: async (id) => {
        runs.push(id);
      },
      busy: () => busy,
      logger: silentLogger,
      delayMs: 10,
    });
    const id = "tn_0123456789abcdef0123456789abcdef" as TenantId;
    scheduler.schedule(id);
    scheduler.schedule(id);
    await new Promise((r) => setTimeout(r, 50));
    expect(runs).toEqual([]);
    expect(scheduler.pending(id)).toBe(true);
    busy = false;
    await vi.waitFor(() => expect(runs).toEqual([id]));
    scheduler.schedule(id);
    await scheduler.close();
    scheduler.schedule(id);
    await new Promise((r) => setTimeout(r, 30));
    expect(runs).toEqual([id]);
  });

  it("tries a check that could not start again, with backoff, then gives up", async () => {
    const warn = vi.fn();
    let calls = 0;
    const scheduler = new KbCheckScheduler({
      run: async () => undefined,
      busy: () => {
        calls++;
        throw new Error("gone");
      },
      logger: { ...silentLogger, warn } as unknown as typeof silentLogger,
      delayMs: 2,
      retries: 2,
    });
    const id = "tn_0123456789abcdef0123456789abcdef" as TenantId;
    scheduler.schedule(id);
    await vi.waitFor(() => expect(warn).toHaveBeenCalledTimes(3));
    expect(calls).toBe(3);
    expect(warn.mock.calls.map(([fields]) => (fields as { retry: boolean }).retry)).toEqual([
      true,
      true,
      false,
    ]);
    expect(scheduler.pending(id)).toBe(false);
    await scheduler.close();
  });

  it("runs a failed check again", async () => {
    const runs: number[] = [];
    const scheduler = new KbCheckScheduler({
      run: async () => {
        runs.push(runs.length);
        if (runs.length === 1) throw new Error("embedder restarting");
      },
      busy: () => false,
      logger: silentLogger,
      delayMs: 2,
    });
    scheduler.schedule("tn_0123456789abcdef0123456789abcdef" as TenantId);
    await vi.waitFor(() => expect(runs).toEqual([0, 1]));
    await new Promise((r) => setTimeout(r, 30));
    expect(runs).toEqual([0, 1]);
    await scheduler.close();
  });
});
