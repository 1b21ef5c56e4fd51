// A per-tenant cache of whole answers. The same first question of a conversation (case,
// spacing and trailing punctuation ignored), asked of the same knowledge base with the same
// tenant settings and answerer, gets the stored answer with its sources and citations,
// streamed like any other answer and marked `cached`. Entries die with the tenant's
// knowledge-base version (tenant-cache.server.ts); a settings change changes the key.
import { createHash } from "node:crypto";
import type { Citation } from "#app/ask-events.ts";
import { normaliseQuestion } from "#tenants/question.ts";
import type { Config } from "../config.server.ts";
import type { TenantRecord } from "../control-db.server.ts";
import { TenantCache } from "./tenant-cache.server.ts";

export interface CachedAnswer {
  answer: string;
  sources: Citation[];
  citations: Citation[];
  abstained: boolean;
  provider: string;
  model: string;
}

export type AnswerCache = TenantCache<CachedAnswer>;

/** The cache the ANSWER_CACHE_* settings describe. */
export function createAnswerCache(
  config: Pick<Config, "ANSWER_CACHE_SIZE" | "CACHE_TENANTS" | "ANSWER_CACHE_TTL_MS">,
  onLookup?: (hit: boolean) => void,
): AnswerCache {
  return new TenantCache<CachedAnswer>(
    {
      entriesPerTenant: config.ANSWER_CACHE_SIZE,
      maxTenants: config.CACHE_TENANTS,
      ttlMs: config.ANSWER_CACHE_TTL_MS,
    },
    onLookup,
  );
}

/**
 * The key of a question for one tenant: its settings (any change to them makes a new key)
 * and answerer, then the normalised question.
 */
export function answerCacheKey(
  tenant: TenantRecord,
  answerer: { name: string; model: string },
  question: string,
): string {
  const settings = createHash("sha256").update(JSON.stringify(tenant)).digest("base64url");
  return `${settings}|${answerer.name}:${answerer.model}|${normaliseQuestion(question)}`;
}

/** A stored answer cut into a few words at a time, so it streams like a generated one. */
export function streamPieces(answer: string, wordsPerPiece = 4): string[] {
  const words = answer.match(/\S+\s*|\s+/g) ?? [];
  const pieces: string[] = [];
  for (let i = 0; i < words.length; i += wordsPerPiece) {
    pieces.push(words.slice(i, i + wordsPerPiece).join(""));
  }
  return pieces;
}
