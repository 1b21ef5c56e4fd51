import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ApiError } from "../errors.server.ts";
import { metrics } from "../metrics.server.ts";
import { bucketSpec, closeLimiters, enforceRateLimits, limiterFor } from "./limits.server.ts";
import { TokenBucketStore } from "./token-bucket.server.ts";

const dirs: string[] = [];
const tempDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-limits-"));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

describe("TokenBucketStore", () => {
  it("admits the burst, then refills at its rate, with an exact Retry-After", () => {
    const store = new TokenBucketStore(tempDir());
    const spec = { capacity: 3, refillPerSecond: 1 };
    const t = 1_000_000;
    expect([1, 2, 3].map(() => store.tryTake("k", spec, t).allowed)).toEqual([true, true, true]);
    expect(store.tryTake("k", spec, t)).toEqual({ allowed: false, retryAfterMs: 1000 });
    expect(store.tryTake("k", spec, t + 500)).toEqual({ allowed: false, retryAfterMs: 500 });
    expect(store.tryTake("k", spec, t + 1000).allowed).toBe(true);
    // Other keys have their own buckets.
    expect(store.tryTake("other", spec, t).allowed).toBe(true);
    store.close();
  });

  it("takes a batch's cost all at once, or none of it", () => {
    const store = new TokenBucketStore(tempDir());
    const spec = { capacity: 5, refillPerSecond: 1 };
    expect(store.tryTake("k", spec, 0, 4)).toEqual({ allowed: true, remaining: 1 });
    expect(store.tryTake("k", spec, 0, 2)).toEqual({ allowed: false, retryAfterMs: 1000 });
    // The refused batch took nothing: the one token left is still there.
    expect(store.tryTake("k", spec, 0, 1)).toEqual({ allowed: true, remaining: 0 });
    store.close();
  });

  it("shares buckets between two handles on one file (two processes)", () => {
    const dir = tempDir();
    const one = new TokenBucketStore(dir);
    const two = new TokenBucketStore(dir);
    const spec = { capacity: 4, refillPerSecond: 0.001 };
    const admitted = [one, two, one, two, one, two].filter(
      (store) => store.tryTake("tenant:x", spec, 5000).allowed,
    ).length;
    expect(admitted).toBe(4);
    expect(one.sweep(5000 + 3_600_001)).toBe(1);
    one.close();
    two.close();
  });
});

describe("limits", () => {
  it("divides a limit among instances and switches off at 0", () => {
    expect(bucketSpec(0, 1)).toBeNull();
    expect(bucketSpec(120, 1)).toEqual({ capacity: 120, refillPerSecond: 2 });
    expect(bucketSpec(120, 4)).toEqual({ capacity: 30, refillPerSecond: 0.5 });
    expect(bucketSpec(1, 4)?.capacity).toBe(1);
  });

  it("answers 429 with Retry-After in whole seconds, counted in the metrics", async () => {
    const config = {
      RATE_LIMIT_TENANT_PER_MINUTE: 1,
      RATE_LIMIT_SESSION_PER_MINUTE: 0,
      RATE_LIMIT_KEY_PER_MINUTE: 0,
      RATE_LIMIT_IP_PER_MINUTE: 0,
      RATE_LIMIT_INSTANCES: 1,
      limitsDir: tempDir(),
    };
    const store = new TokenBucketStore(config.limitsDir);
    const checks = [
      { scope: "ip" as const, id: "1.2.3.4" },
      { scope: "tenant" as const, id: "t" },
    ];
    enforceRateLimits(config, checks, store, 0);
    const rejections = async () =>
      (await metrics.rateLimitRejections.get()).values.find((v) => v.labels.scope === "tenant")
        ?.value ?? 0;
    const before = await rejections();
    try {
      enforceRateLimits(config, checks, store, 0);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ApiError);
      expect((error as ApiError).status).toBe(429);
      expect((error as ApiError).headers["Retry-After"]).toBe("60");
    }
    expect(await rejections()).toBe(before + 1);
    store.close();
  });

  it("charges a batch of N questions N tokens, and refuses one larger than the bucket", () => {
    const config = {
      RATE_LIMIT_TENANT_PER_MINUTE: 20,
      RATE_LIMIT_SESSION_PER_MINUTE: 0,
      RATE_LIMIT_KEY_PER_MINUTE: 0,
      RATE_LIMIT_IP_PER_MINUTE: 0,
      RATE_LIMIT_INSTANCES: 1,
      limitsDir: tempDir(),
    };
    const store = new TokenBucketStore(config.limitsDir);
    const batch = (cost: number) => [{ scope: "tenant" as const, id: "t", cost }];
    enforceRateLimits(config, batch(20), store, 0);
    expect(() => enforceRateLimits(config, batch(1), store, 0)).toThrow(/Try again in 3 s/);
    expect(() => enforceRateLimits(config, batch(21), store, 0)).toThrow(
      /more than this tenant's limit of 20 a minute/,
    );
    store.close();
  });

  it("closes every limiter file at shutdown, leaving no -wal behind", () => {
    const dir = tempDir();
    const store = limiterFor({ limitsDir: dir });
    store.tryTake("tenant:x", { capacity: 1, refillPerSecond: 1 }, 0);
    closeLimiters();
    expect(fs.readdirSync(dir).filter((f) => f.endsWith("-wal"))).toEqual([]);
    const again = limiterFor({ limitsDir: dir });
    expect(again).not.toBe(store);
    closeLimiters();
  });
});
