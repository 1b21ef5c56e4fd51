// A per-tenant cache of whole answers. The same first question of a conversation (case,
// spacing and trailing punctuation ignored), asked of the same knowledge base with the same
// tenant settings and answerer, gets the stored answer with its sources and citations,
// streamed like any other answer and marked `cached`. Entries die with the tenant's
// knowledge-base version (tenant-cache.server.ts); a settings change changes the key.
import { createHash } from "node:crypto";
import { LRUCache } from "lru-cache";
import type { AskLatency, Citation, DoneEvent } from "#app/shared/ask-events.ts";
import { normaliseQuestion } from "#tenants/question.ts";
import type { Config } from "../config.server.ts";
import type { TenantRecord } from "../control-db.server.ts";
import { TenantCache } from "../tenant-cache.server.ts";

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
  return `${settingsDigest(JSON.stringify(tenant))}|${answerer.name}:${answerer.model}|${normaliseQuestion(question)}`;
}

// The digest of a tenant's settings, remembered for the tenants asked most recently.
const settingsDigests = new LRUCache<string, string>({ max: 1024 });

function settingsDigest(settings: string): string {
  let digest = settingsDigests.get(settings);
  if (digest === undefined) {
    digest = createHash("sha256").update(settings).digest("base64url");
    settingsDigests.set(settings, digest);
  }
  return digest;
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

/** The `done` event of a replayed answer; its key order is the one the lane's bytes keep. */
export function cachedAnswerDone(
  hit: CachedAnswer,
  conversationId: string,
  messageId: number,
  latency: AskLatency,
): DoneEvent {
  return { conversationId, messageId, ...cachedDoneFields(hit), latency };
}

/** The fields of a replayed answer's `done` event that do not change from one replay to the next. */
export function cachedDoneFields(hit: CachedAnswer) {
  return {
    answer: hit.answer,
    citations: hit.citations,
    abstained: hit.abstained,
    degraded: false,
    degradedReason: null,
    cached: true,
    provider: hit.provider,
    model: hit.model,
    usage: { promptTokens: 0, completionTokens: 0, estimated: false },
  } as const;
}

interface EncodedAnswer {
  /** The sources event after its conversation id. */
  sourcesTail: string;
  /** Every token event. */
  tokens: string;
  /** The done event's fields between its message id and its latency. */
  doneFields: string;
}

// Encoded once per cached answer and kept as long as the entry is (weakly keyed by it).
const encodedAnswers = new WeakMap<CachedAnswer, EncodedAnswer>();

function encodedAnswer(hit: CachedAnswer): EncodedAnswer {
  let encoded = encodedAnswers.get(hit);
  if (!encoded) {
    encoded = {
      sourcesTail: `,"sources":${JSON.stringify(hit.sources)}}\n\n`,
      tokens: streamPieces(hit.answer)
        .map((text) => `event: token\ndata: ${JSON.stringify({ text })}\n\n`)
        .join(""),
      doneFields: JSON.stringify(cachedDoneFields(hit)).slice(1, -1),
    };
    encodedAnswers.set(hit, encoded);
  }
  return encoded;
}

/**
 * The whole SSE body of a replayed answer — sources, tokens, done — byte for byte what
 * encodeEvent (sse.server.ts) makes of the events replayCachedAnswer yields, with only the
 * conversation id, message id and latency encoded per ask. `done` is this answer's replay
 * (cachedAnswerDone).
 */
export function cachedAnswerSse(hit: CachedAnswer, done: DoneEvent): string {
  const encoded = encodedAnswer(hit);
  const conversation = JSON.stringify(done.conversationId);
  return (
    `event: sources\ndata: {"conversationId":${conversation}${encoded.sourcesTail}` +
    encoded.tokens +
    `event: done\ndata: {"conversationId":${conversation},"messageId":${JSON.stringify(done.messageId)},` +
    `${encoded.doneFields},"latency":${JSON.stringify(done.latency)}}\n\n`
  );
}
