// A per-tenant cache of retrieval results. Asking the same question again (case, spacing and
// trailing punctuation ignored) skips the query embedding and both search stages. Entries are
// discarded as soon as the tenant's knowledge-base version changes (tenant-cache.server.ts).
import type { TenantDb } from "#tenants/store.ts";
import { normaliseQuestion } from "#tenants/question.ts";
import type { Config } from "../config.server.ts";
import type { EmbeddingProvider } from "../embeddings/provider.server.ts";
import {
  retrieveWithStats,
  type RetrieveOptions,
  type RetrieveResult,
} from "../retrieval/retrieve.server.ts";
import { knowledgeBaseVersion } from "#tenants/knowledge-base.ts";
import { TenantCache, type CacheCounts } from "../tenant-cache.server.ts";

export interface CachedRetrieveResult extends RetrieveResult {
  cached: boolean;
}

export class RetrievalCache {
  readonly #cache: TenantCache<RetrieveResult>;

  constructor(cache: TenantCache<RetrieveResult>) {
    this.#cache = cache;
  }

  get enabled(): boolean {
    return this.#cache.enabled;
  }

  /** `retrieveWithStats`, answered from the cache when the same question was asked before. */
  async retrieve(
    tenantId: string,
    /** The handle, or a function that returns it (see retrieveWithStats). */
    db: TenantDb | (() => TenantDb),
    embedder: EmbeddingProvider,
    query: string,
    opts: RetrieveOptions,
  ): Promise<CachedRetrieveResult> {
    if (!this.enabled)
      return { ...(await retrieveWithStats(db, embedder, query, opts)), cached: false };
    const key = cacheKey(query, opts);
    const version = knowledgeBaseVersion(typeof db === "function" ? db() : db);
    const hit = this.#cache.get(tenantId, version, key);
    if (hit) return { chunks: hit.chunks, stats: zeroStats(), cached: true };
    const result = await retrieveWithStats(db, embedder, query, opts);
    this.#cache.set(tenantId, version, key, result);
    return { ...result, cached: false };
  }

  counts(tenantId: string): CacheCounts {
    return this.#cache.counts(tenantId);
  }

  forget(tenantId: string): void {
    this.#cache.forget(tenantId);
  }
}

/** The cache the RETRIEVAL_CACHE_* settings describe. */
export function createRetrievalCache(
  config: Pick<Config, "RETRIEVAL_CACHE_SIZE" | "CACHE_TENANTS" | "RETRIEVAL_CACHE_TTL_MS">,
  onLookup?: (hit: boolean) => void,
): RetrievalCache {
  return new RetrievalCache(
    new TenantCache<RetrieveResult>(
      {
        entriesPerTenant: config.RETRIEVAL_CACHE_SIZE,
        maxTenants: config.CACHE_TENANTS,
        ttlMs: config.RETRIEVAL_CACHE_TTL_MS,
      },
      onLookup,
    ),
  );
}

function cacheKey(query: string, opts: RetrieveOptions): string {
  const weights = `${opts.keywordWeight ?? ""}/${opts.vectorWeight ?? ""}/${opts.candidates ?? ""}`;
  return `${opts.topK}|${weights}|${normaliseQuestion(query)}`;
}

function zeroStats(): RetrieveResult["stats"] {
  return { keywordMs: 0, embedMs: 0, vectorMs: 0, totalMs: 0, keywordHits: 0, vectorHits: 0 };
}
