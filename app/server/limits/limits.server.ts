// The request rate limits of the public API: token buckets per tenant, per visitor session,
// per secret key and per client IP, answered with 429 `rate_limited` and Retry-After. Each instance's share
// of a limit is the limit divided by RATE_LIMIT_INSTANCES (docs/decisions/017).
import type { Config } from "../config.server.ts";
import { ApiError } from "../errors.server.ts";
import { metrics } from "../metrics.server.ts";
import { type BucketSpec, TokenBucketStore } from "./token-bucket.server.ts";

export type LimitScope = "tenant" | "session" | "key" | "ip";

type LimitConfig = Pick<
  Config,
  | "RATE_LIMIT_TENANT_PER_MINUTE"
  | "RATE_LIMIT_SESSION_PER_MINUTE"
  | "RATE_LIMIT_KEY_PER_MINUTE"
  | "RATE_LIMIT_IP_PER_MINUTE"
  | "RATE_LIMIT_INSTANCES"
  | "limitsDir"
>;

const perMinute: Record<LimitScope, keyof LimitConfig> = {
  tenant: "RATE_LIMIT_TENANT_PER_MINUTE",
  session: "RATE_LIMIT_SESSION_PER_MINUTE",
  key: "RATE_LIMIT_KEY_PER_MINUTE",
  ip: "RATE_LIMIT_IP_PER_MINUTE",
};

/** This instance's bucket for a per-minute limit; null when the limit is switched off. */
export function bucketSpec(limitPerMinute: number, instances: number): BucketSpec | null {
  if (limitPerMinute <= 0) return null;
  const share = limitPerMinute / instances;
  return { capacity: Math.max(1, Math.floor(share)), refillPerSecond: share / 60 };
}

/** Counts a rejection in the metrics (bitb_rate_limit_rejections_total by scope). */
export function onRateLimited(scope: LimitScope | "quota"): void {
  metrics.rateLimitRejections.inc({ scope });
}

const stores = new Map<string, TokenBucketStore>();

/** The bucket store of a limits folder, opened once per process. */
export function limiterFor(config: Pick<LimitConfig, "limitsDir">): TokenBucketStore {
  let store = stores.get(config.limitsDir);
  if (!store) {
    store = new TokenBucketStore(config.limitsDir);
    stores.set(config.limitsDir, store);
  }
  return store;
}

/** Closes every limiter file this process opened (at shutdown). */
export function closeLimiters(): void {
  for (const store of stores.values()) store.close();
  stores.clear();
}

export interface LimitCheck {
  scope: LimitScope;
  /** The tenant id, the session's conversation id, the secret key's id or the client address. */
  id: string;
  /** Tokens the request takes from this bucket: one per question (a batch of N takes N). */
  cost?: number;
}

/**
 * Takes a check's cost (default one token) from each bucket in order; the first empty one throws 429 with Retry-After
 * (whole seconds, at least 1). A refused request keeps the tokens it took from earlier
 * buckets: a client hammering one limit also drains its others, which is what we want.
 */
export function enforceRateLimits(
  config: LimitConfig,
  checks: LimitCheck[],
  store: TokenBucketStore = limiterFor(config),
  now = Date.now(),
): void {
  for (const check of checks) {
    const spec = bucketSpec(config[perMinute[check.scope]] as number, config.RATE_LIMIT_INSTANCES);
    if (!spec) continue;
    const cost = check.cost ?? 1;
    const scope = check.scope === "ip" ? "address" : check.scope;
    if (cost > spec.capacity) {
      // Waiting would never help: the bucket never holds that many tokens.
      onRateLimited(check.scope);
      throw new ApiError(
        "rate_limited",
        `${cost} questions at once are more than this ${scope}'s limit of ${spec.capacity} a minute. Send at most ${spec.capacity}.`,
        { "Retry-After": "60" },
      );
    }
    const result = store.tryTake(`${check.scope}:${check.id}`, spec, now, cost);
    if (!result.allowed) {
      onRateLimited(check.scope);
      const seconds = Math.max(1, Math.ceil(result.retryAfterMs / 1000));
      throw new ApiError(
        "rate_limited",
        `Too many requests for this ${scope}. Try again in ${seconds} s.`,
        { "Retry-After": String(seconds) },
      );
    }
  }
}
