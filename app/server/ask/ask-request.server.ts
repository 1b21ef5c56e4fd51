// The prologue of every POST /api/ask, in one place: the body's schema, who is calling
// (a secret key, or the widget's key + visitor session from an allowed origin), and the
// admission (rate limits, the token quota) with its audit entry when refused. The route
// (app/routes/api.ask.ts) and the cached-answer lane (cached-lane.server.ts) both call these,
// so an ask is checked the same way whichever of them answers it.
import type { AppLoadContext } from "react-router";
import { z } from "zod";
import type { AskUsage } from "#app/shared/ask-events.ts";
import { auditAsk } from "../audit/audit.server.ts";
import type { Config } from "../config.server.ts";
import type { TenantRecord } from "../control-db.server.ts";
import {
  clientIp,
  type Cors,
  noCors,
  requireVisitorConversation,
  requireWidgetKey,
  secretKeyCaller,
  widgetCors,
} from "../access/embed-guard.server.ts";
import { ApiError } from "../errors.server.ts";
import { enforceRateLimits } from "../limits/limits.server.ts";
import { assertWithinQuota, tenantQuota } from "../limits/quota.server.ts";
import { withHeldUsage } from "../replication/writes.server.ts";
import type { RequestHead } from "../request.server.ts";
import type { Runtime } from "../runtime/runtime.server.ts";
import { requireTenant, tenantDb } from "../tenancy/tenants.server.ts";

export const ASK_METHODS = "POST, OPTIONS";
const conversationIdPattern = /^[A-Za-z0-9_-]{8,64}$/;

// Building a zod schema costs more than parsing a request with it: one per pair of limits.
const askSchemas = new Map<string, ReturnType<typeof buildAskSchema>>();

/** The schema of an ask's body under this server's limits. */
export function askSchema(config: Pick<Config, "MAX_QUERY_CHARS" | "BATCH_MAX_QUESTIONS">) {
  const key = `${config.MAX_QUERY_CHARS}:${config.BATCH_MAX_QUESTIONS}`;
  let schema = askSchemas.get(key);
  if (!schema) {
    schema = buildAskSchema(config.MAX_QUERY_CHARS, config.BATCH_MAX_QUESTIONS);
    askSchemas.set(key, schema);
  }
  return schema;
}

function buildAskSchema(maxQueryChars: number, maxQuestions: number) {
  const question = z
    .string()
    .trim()
    .min(1, "Ask a question.")
    .max(maxQueryChars, `Questions are limited to ${maxQueryChars} characters.`);
  return z
    .strictObject({
      tenant_id: z.string().max(64),
      query: question.optional(),
      queries: z
        .array(question)
        .min(1, "Send at least one question in queries.")
        .max(maxQuestions, `Send at most ${maxQuestions} questions at once.`)
        .optional(),
      /** The widget's publishable key and visitor session. */
      key: z.string().max(100).optional(),
      session_token: z.string().max(200).optional(),
      /** A server-to-server caller's conversation id (with a secret key only). */
      session_id: z.string().regex(conversationIdPattern, "Invalid session id.").optional(),
    })
    .superRefine((body, ctx) => {
      if (body.query !== undefined && body.queries !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["queries"],
          message: "Send either query (one question) or queries (a batch), not both.",
        });
      } else if (body.query === undefined && body.queries === undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["query"],
          message: "Ask a question: send query (one question) or queries (a batch).",
        });
      }
    });
}

export type AskBody = z.infer<ReturnType<typeof askSchema>>;

/** Refuses a batch when this server has batches switched off. */
export function assertBatchAllowed(config: Pick<Config, "BATCH_ENABLED">, body: AskBody): void {
  if (body.queries !== undefined && !config.BATCH_ENABLED) {
    throw new ApiError("bad_request", "Batch questions are switched off on this server.");
  }
}

export interface Caller {
  tenant: TenantRecord;
  cors: Cors;
  conversationId?: string;
  /** Who the audit log names: the conversation, or the secret key. */
  actor: string;
  /** The per-session rate limit's key. */
  sessionKey: string;
  viaKey: boolean;
}

type CallerRuntime = Pick<Runtime, "control" | "config"> & Partial<Pick<Runtime, "replication">>;

/**
 * Who is asking: a secret key of the body's tenant (no CORS; it may name its conversation),
 * or the widget — an allowed origin, the tenant's publishable key and a visitor session
 * token that names the conversation. Anything else is refused (400, 401, 403, 404).
 */
export function identifyCaller(
  runtime: CallerRuntime,
  request: RequestHead,
  body: AskBody,
): Caller {
  const tenant = requireTenant(runtime, body.tenant_id);
  const secret = secretKeyCaller(runtime, request, tenant.id);
  if (secret) {
    if (body.key !== undefined || body.session_token !== undefined) {
      throw new ApiError("bad_request", "Use either a secret key or a widget session, not both.");
    }
    return {
      tenant,
      cors: noCors,
      // A secret key is the tenant's own full trust: it may continue any of its conversations.
      conversationId: body.session_id,
      actor: `key:${secret.keyId}`,
      sessionKey: `key:${secret.keyId}`,
      viaKey: true,
    };
  }
  const cors = widgetCors(runtime, request, tenant.id, ASK_METHODS);
  if (body.session_id !== undefined) {
    throw new ApiError(
      "bad_request",
      "The widget's conversation comes from its session token.",
      cors,
    );
  }
  requireWidgetKey(runtime, tenant, body.key, cors);
  const conversationId = requireVisitorConversation(runtime, tenant, body.session_token, cors);
  return {
    tenant,
    cors,
    conversationId,
    actor: conversationId,
    sessionKey: conversationId,
    viaKey: false,
  };
}

/** A widget visitor's single question may be offered actions (docs/decisions/027). */
export function mayOfferActions(caller: Caller): caller is Caller & { conversationId: string } {
  return !caller.viaKey && caller.conversationId !== undefined;
}

/** Writes the ask's one audit entry: its outcome, usage and whether the cache answered it. */
export type AskAuditor = (outcome: string, usage?: AskUsage, cacheHit?: boolean) => void;

/** The auditor of one ask; its latency counts from now. */
export function askAuditor(
  runtime: Pick<Runtime, "tenants" | "logger"> & Partial<Pick<Runtime, "replication">>,
  caller: Caller,
  questions: string[],
  batch: boolean,
): AskAuditor {
  const started = performance.now();
  return (outcome, usage, cacheHit = false) =>
    auditAsk(runtime, caller.tenant, {
      cacheHit,
      actor: caller.actor,
      questions,
      outcome,
      latencyMs: performance.now() - started,
      promptTokens: usage?.promptTokens ?? 0,
      completionTokens: usage?.completionTokens ?? 0,
      batch,
    });
}

/**
 * Admits an ask: takes a token per question (a batch of N takes N) from each of its rate-limit
 * buckets and checks the tenant's quota. A refusal (429) is audited here, and nothing else is
 * written; the caller adds the CORS grant to the error. Runs once per ask, right before it is
 * answered.
 */
export function admitAsk(
  runtime: Pick<Runtime, "config" | "control" | "tenants"> & Partial<Pick<Runtime, "replication">>,
  request: RequestHead,
  context: AppLoadContext | undefined,
  caller: Caller,
  audit: AskAuditor,
  questions = 1,
): void {
  const { tenant } = caller;
  try {
    // A secret key is one backend serving many people from one address: its address is not
    // limited, its tenant's bucket and its own (per key) are. Widget visitors also have their
    // address's bucket.
    enforceRateLimits(
      runtime.config,
      caller.viaKey
        ? [
            { scope: "tenant", id: tenant.id, cost: questions },
            { scope: "key", id: caller.sessionKey, cost: questions },
          ]
        : [
            { scope: "ip", id: clientIp(runtime, request, context), cost: questions },
            { scope: "tenant", id: tenant.id, cost: questions },
            { scope: "session", id: caller.sessionKey, cost: questions },
          ],
    );
    assertWithinQuota(
      withHeldUsage(
        runtime,
        tenant,
        tenantQuota(runtime.control, tenantDb(runtime, tenant), tenant.id),
      ),
    );
  } catch (error) {
    if (error instanceof ApiError) audit(error.code);
    throw error;
  }
}
