// A per-tenant cache of retrieval results. Asking the same question again (case, spacing and
// trailing punctuation ignored) skips the query embedding and both search stages.
//
// Invalidation is exact, not time-based: each tenant database keeps a knowledge-base version
// in `meta` that SQL triggers bump on every change to its documents or its retrieval settings
// (tenants/migrations.ts, migration 3). An entry remembers the version it was computed at and
// is discarded as soon as the tenant's current version differs — whichever process or replica
// made the change. The TTL only bounds how long an unused answer to a question stays in memory.
import { LRUCache } from "lru-cache";
import type { TenantDb } from "#tenants/store.ts";
import type { Config } from "../config.server.ts";
import type { EmbeddingProvider } from "../embeddings/provider.server.ts";
import {
  retrieveWithStats,
  type RetrieveOptions,
  type RetrieveResult,
} from "../retrieval/retrieve.server.ts";
import { normaliseQuestion } from "#tenants/question.ts";

export interface RetrievalCacheOptions {
  /** Entries kept per tenant; 0 turns the cache off. */
  entriesPerTenant: number;
  /** How many tenants' caches are kept at once (least recently used go first). */
  maxTenants: number;
  ttlMs: number;
}

export interface CachedRetrieveResult extends RetrieveResult {
  cached: boolean;
}

export interface CacheCounts {
  hits: number;
  misses: number;
}

interface Entry {
  version: string;
  result: RetrieveResult;
}

const VERSION_SQL = "SELECT value FROM meta WHERE key = 'kb_version'";

/** The tenant's knowledge-base version; changes whenever what retrieval reads changes. */
export function knowledgeBaseVersion(db: TenantDb): string {
  return (db.prepare(VERSION_SQL).pluck().get() as string | undefined) ?? "0";
}

export class RetrievalCache {
  readonly #options: RetrievalCacheOptions;
  readonly #tenants: LRUCache<string, LRUCache<string, Entry>>;
  readonly #counts = new Map<string, CacheCounts>();
  readonly #onLookup: (hit: boolean) => void;

  constructor(options: RetrievalCacheOptions, onLookup: (hit: boolean) => void = () => {}) {
    this.#options = options;
    this.#onLookup = onLookup;
    this.#tenants = new LRUCache({
      max: Math.max(1, options.maxTenants),
      dispose: (_cache, tenantId) => this.#counts.delete(tenantId),
    });
  }

  get enabled(): boolean {
    return this.#options.entriesPerTenant > 0;
  }

  /** `retrieveWithStats`, answered from the cache when the same question was asked before. */
  async retrieve(
    tenantId: string,
    db: TenantDb,
    embedder: EmbeddingProvider,
    query: string,
    opts: RetrieveOptions,
  ): Promise<CachedRetrieveResult> {
    if (!this.enabled)
      return { ...(await retrieveWithStats(db, embedder, query, opts)), cached: false };

    const key = cacheKey(query, opts);
    const version = knowledgeBaseVersion(db);
    const entries = this.#tenantEntries(tenantId);
    const entry = entries.get(key);
    const counts = this.#countsOf(tenantId);
    if (entry && entry.version === version) {
      counts.hits += 1;
      this.#onLookup(true);
      return { chunks: entry.result.chunks, stats: zeroStats(), cached: true };
    }
    counts.misses += 1;
    this.#onLookup(false);
    const result = await retrieveWithStats(db, embedder, query, opts);
    // Stored under the version read before the search: a change made meanwhile invalidates it.
    entries.set(key, { version, result });
    return { ...result, cached: false };
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

  #tenantEntries(tenantId: string): LRUCache<string, Entry> {
    let entries = this.#tenants.get(tenantId);
    if (!entries) {
      entries = new LRUCache<string, Entry>({
        max: this.#options.entriesPerTenant,
        ttl: this.#options.ttlMs,
      });
      this.#tenants.set(tenantId, entries);
    }
    return entries;
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

function cacheKey(query: string, opts: RetrieveOptions): string {
  const weights = `${opts.keywordWeight ?? ""}/${opts.vectorWeight ?? ""}/${opts.candidates ?? ""}`;
  return `${opts.topK}|${weights}|${normaliseQuestion(query)}`;
}

function zeroStats(): RetrieveResult["stats"] {
  return { keywordMs: 0, embedMs: 0, vectorMs: 0, totalMs: 0, keywordHits: 0, vectorHits: 0 };
}

/** The cache the RETRIEVAL_CACHE_* settings describe. */
export function createRetrievalCache(
  config: Pick<
    Config,
    "RETRIEVAL_CACHE_SIZE" | "RETRIEVAL_CACHE_TENANTS" | "RETRIEVAL_CACHE_TTL_MS"
  >,
  onLookup?: (hit: boolean) => void,
): RetrievalCache {
  return new RetrievalCache(
    {
      entriesPerTenant: config.RETRIEVAL_CACHE_SIZE,
      maxTenants: config.RETRIEVAL_CACHE_TENANTS,
      ttlMs: config.RETRIEVAL_CACHE_TTL_MS,
    },
    onLookup,
  );
}
