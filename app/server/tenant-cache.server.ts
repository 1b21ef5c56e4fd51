// A bounded in-memory cache with one LRU per tenant, whose entries are valid only at the
// tenant's knowledge-base version they were computed at (see `knowledgeBaseVersion` in tenants/knowledge-base.ts). The
// retrieval cache and the answer cache are both built on it. Tenants never share an entry.
import { LRUCache } from "lru-cache";

export interface TenantCacheOptions {
  /** Entries kept per tenant; 0 turns the cache off. */
  entriesPerTenant: number;
  /** How many tenants' caches are kept at once (least recently used go first). */
  maxTenants: number;
  /** How long an unused entry is kept; a memory bound, not a correctness bound. */
  ttlMs: number;
}

export interface CacheCounts {
  hits: number;
  misses: number;
}

interface Entry<V> {
  version: string;
  value: V;
}

export class TenantCache<V extends NonNullable<unknown>> {
  readonly #options: TenantCacheOptions;
  readonly #tenants: LRUCache<string, LRUCache<string, Entry<V>>>;
  readonly #counts = new Map<string, CacheCounts>();
  readonly #onLookup: (hit: boolean) => void;

  constructor(options: TenantCacheOptions, onLookup: (hit: boolean) => void = () => {}) {
    this.#options = options;
    this.#onLookup = onLookup;
    this.#tenants = new LRUCache({
      max: Math.max(1, options.maxTenants),
      dispose: (_entries, tenantId) => this.#counts.delete(tenantId),
    });
  }

  get enabled(): boolean {
    return this.#options.entriesPerTenant > 0;
  }

  /** The entry for `key` if it was stored at `version`; counts the hit or miss. */
  get(tenantId: string, version: string, key: string): V | undefined {
    if (!this.enabled) return undefined;
    const entry = this.#tenants.get(tenantId)?.get(key);
    const value = entry && entry.version === version ? entry.value : undefined;
    this.countLookup(tenantId, value !== undefined);
    return value;
  }

  /**
   * The entry, like `get`, but neither counted nor made more recent: for a caller that decides
   * whether to use it before counting (the cached-answer lane, which hands a miss on to the
   * route, where `get` counts it) and then counts it with `countLookup`.
   */
  peek(tenantId: string, version: string, key: string): V | undefined {
    if (!this.enabled) return undefined;
    const entry = this.#tenants.peek(tenantId)?.peek(key);
    return entry && entry.version === version ? entry.value : undefined;
  }

  /** Counts one lookup in the tenant's hit rate and the metrics. */
  countLookup(tenantId: string, hit: boolean): void {
    const counts = this.#countsOf(tenantId);
    if (hit) counts.hits += 1;
    else counts.misses += 1;
    this.#onLookup(hit);
  }

  /** Stores `value` as valid at `version` (read before the value was computed). */
  set(tenantId: string, version: string, key: string, value: V): void {
    if (!this.enabled) return;
    let entries = this.#tenants.get(tenantId);
    if (!entries) {
      entries = new LRUCache<string, Entry<V>>({
        max: this.#options.entriesPerTenant,
        ttl: this.#options.ttlMs,
      });
      this.#tenants.set(tenantId, entries);
    }
    entries.set(key, { version, value });
  }

  /** Hits and misses since this tenant's cache was created in this process. */
  counts(tenantId: string): CacheCounts {
    const counts = this.#counts.get(tenantId);
    return counts ? { ...counts } : { hits: 0, misses: 0 };
  }

  /** Drops one tenant's entries (its database was deleted or replaced). */
  forget(tenantId: string): void {
    this.#tenants.delete(tenantId);
    this.#counts.delete(tenantId);
  }

  #countsOf(tenantId: string): CacheCounts {
    let counts = this.#counts.get(tenantId);
    if (!counts) {
      counts = { hits: 0, misses: 0 };
      this.#counts.set(tenantId, counts);
    }
    return counts;
  }
}
