// A widget visitor's session token: `v1.<tenant>.<conversation>.<expires>.<signature>`, an
// HMAC-SHA256 (secret `visitor-session` in the control DB's meta table) over the first four
// parts. It names the one conversation its holder may continue and rate, so a visitor cannot
// pick another's conversation id. Stateless: nothing is stored per visitor.
import { createHmac, timingSafeEqual } from "node:crypto";
import { isTenantId, type TenantId } from "#tenants/id.ts";
import { newConversationId } from "#tenants/conversations.ts";
import { type ControlDb, getOrCreateSecret } from "../control-db.server.ts";
import { ApiError } from "../errors.server.ts";

export interface VisitorSession {
  tenantId: TenantId;
  conversationId: string;
  /** Seconds since the epoch. */
  expiresAt: number;
}

const VERSION = "v1";
const CONVERSATION = /^cv_[0-9a-f]{24}$/;
export const MAX_TOKEN_LENGTH = 200;

function sign(secret: string, payload: string): string {
  return createHmac("sha256", secret).update(payload).digest("base64url");
}

export function sessionSecret(db: ControlDb): string {
  return getOrCreateSecret(db, "visitor-session");
}

/** A token for a new conversation of this tenant. */
export function issueVisitorSession(
  secret: string,
  tenantId: TenantId,
  ttlSeconds: number,
  nowMs = Date.now(),
): { token: string; session: VisitorSession } {
  const session: VisitorSession = {
    tenantId,
    conversationId: newConversationId(),
    expiresAt: Math.floor(nowMs / 1000) + ttlSeconds,
  };
  const payload = `${VERSION}.${tenantId}.${session.conversationId}.${session.expiresAt}`;
  return { token: `${payload}.${sign(secret, payload)}`, session };
}

/**
 * The session a token proves, for this tenant only. Throws 401 `unauthorized` for a forged,
 * malformed or other tenant's token, and 401 `session_expired` for an expired one (the widget
 * then starts a new conversation).
 */
export function verifyVisitorSession(
  secret: string,
  token: string,
  tenantId: TenantId,
  nowMs = Date.now(),
): VisitorSession {
  const invalid = () => new ApiError("unauthorized", "Invalid visitor session.");
  if (token.length > MAX_TOKEN_LENGTH) throw invalid();
  const parts = token.split(".");
  if (parts.length !== 5) throw invalid();
  const [version, tenant, conversationId, expires, signature] = parts as [
    string,
    string,
    string,
    string,
    string,
  ];
  const expected = Buffer.from(sign(secret, parts.slice(0, 4).join(".")));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) throw invalid();
  if (version !== VERSION || !isTenantId(tenant) || !CONVERSATION.test(conversationId)) {
    throw invalid();
  }
  if (tenant !== tenantId) throw invalid();
  const expiresAt = Number(expires);
  if (!Number.isSafeInteger(expiresAt)) throw invalid();
  if (expiresAt * 1000 <= nowMs) {
    throw new ApiError("session_expired", "The visitor session has expired. Start a new chat.");
  }
  return { tenantId: tenant, conversationId, expiresAt };
}
