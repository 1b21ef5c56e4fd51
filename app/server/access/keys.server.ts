// A tenant's credentials in the control database: the publishable widget key (`pk_…`, public,
// rotatable), the origins allowed to embed the widget, and secret API keys (`bitb_sk_…`) for
// server-to-server ask and ingest. Secret keys are shown once and kept only as SHA-256 (they
// are 190 random bits, so a fast hash is enough); each belongs to one tenant. Touches only
// the control database.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import type { TenantId } from "#tenants/id.ts";
import { statement } from "#tenants/statements.ts";
import type { ControlDb } from "../control-db.server.ts";

export const PUBLISHABLE_PREFIX = "pk_";
export const SECRET_PREFIX = "bitb_sk_";
export const MAX_ORIGINS = 50;
export const MAX_ACTIVE_SECRET_KEYS = 20;
/** Writing last_used_at on every request would turn each read into a write. */
const LAST_USED_RESOLUTION_MS = 60_000;

const publishableKeyPattern = /^pk_[A-Za-z0-9_-]{24,64}$/;
const secretKeyPattern = /^bitb_sk_[A-Za-z0-9_-]{32,64}$/;

export const publishableKeySchema = z
  .string()
  .regex(publishableKeyPattern, "Invalid widget key.")
  .max(70);

export function newPublishableKey(): string {
  return `${PUBLISHABLE_PREFIX}${randomBytes(18).toString("base64url")}`;
}

const sha256 = (value: string) => createHash("sha256").update(value).digest("hex");

// ---- the publishable key -----------------------------------------------------------------

/** The tenant's widget key, made on first use (tenants created before keys existed). */
export function getWidgetKey(db: ControlDb, tenantId: TenantId): string {
  // Every widget ask checks its key: the statement is prepared once per handle.
  const row = statement(db, "SELECT widget_key FROM tenants WHERE id = ?").get(tenantId) as
    { widget_key: string | null } | undefined;
  if (!row) throw new Error(`no tenant ${tenantId}`);
  if (row.widget_key) return row.widget_key;
  db.prepare("UPDATE tenants SET widget_key = ? WHERE id = ? AND widget_key IS NULL").run(
    newPublishableKey(),
    tenantId,
  );
  return getWidgetKey(db, tenantId);
}

/** Sets a known widget key (a tenant imported under its own id keeps its key). */
export function setWidgetKey(db: ControlDb, tenantId: TenantId, key: string): void {
  if (!/^pk_[A-Za-z0-9_-]{16,128}$/.test(key)) throw new Error("not a widget key");
  db.prepare("UPDATE tenants SET widget_key = ? WHERE id = ?").run(key, tenantId);
}

/** A new widget key; the old one stops working at once (sites must update their snippet). */
export function rotateWidgetKey(db: ControlDb, tenantId: TenantId): string {
  const key = newPublishableKey();
  db.prepare("UPDATE tenants SET widget_key = ? WHERE id = ?").run(key, tenantId);
  return key;
}

/** Whether `key` is this tenant's widget key (compared in constant time). */
export function isWidgetKeyOf(db: ControlDb, tenantId: TenantId, key: string): boolean {
  const expected = Buffer.from(getWidgetKey(db, tenantId));
  const given = Buffer.from(key);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

// ---- allowed origins ---------------------------------------------------------------------

/**
 * `https://shop.example.com` from what an admin typed (`https://shop.example.com/`, any
 * case); null for anything that is not an http(s) origin: paths, credentials, wildcards.
 */
export function normalizeOrigin(input: string): string | null {
  const text = input.trim();
  if (!/^https?:\/\/[^/?#@*\s]+\/?$/i.test(text) || !URL.canParse(text)) return null;
  const url = new URL(text);
  if (url.username || url.password) return null;
  return url.origin;
}

export const originListSchema = z
  .array(z.string().max(300))
  .max(MAX_ORIGINS, `At most ${MAX_ORIGINS} origins.`)
  .transform((list, ctx) => {
    const origins = new Set<string>();
    for (const entry of list) {
      const origin = normalizeOrigin(entry);
      if (origin === null) {
        ctx.addIssue({
          code: "custom",
          message: `Not an origin: ${JSON.stringify(entry.slice(0, 80))} (use https://host[:port]).`,
        });
        return z.NEVER;
      }
      origins.add(origin);
    }
    return [...origins].sort();
  });

export function listAllowedOrigins(db: ControlDb, tenantId: TenantId): string[] {
  return (
    db
      .prepare("SELECT origin FROM tenant_origins WHERE tenant_id = ? ORDER BY origin")
      .all(tenantId) as Array<{ origin: string }>
  ).map((row) => row.origin);
}

/** Replaces the tenant's list (already normalised by originListSchema). */
export function setAllowedOrigins(db: ControlDb, tenantId: TenantId, origins: string[]): void {
  db.transaction(() => {
    db.prepare("DELETE FROM tenant_origins WHERE tenant_id = ?").run(tenantId);
    const insert = db.prepare("INSERT INTO tenant_origins (tenant_id, origin) VALUES (?, ?)");
    for (const origin of origins) insert.run(tenantId, origin);
  })();
}

export function isOriginAllowedFor(db: ControlDb, tenantId: TenantId, origin: string): boolean {
  return (
    statement(db, "SELECT 1 FROM tenant_origins WHERE tenant_id = ? AND origin = ?").get(
      tenantId,
      origin,
    ) !== undefined
  );
}

/** Whether any tenant lets this origin embed its widget (CORS preflights carry no tenant). */
export function isOriginAllowedByAnyTenant(db: ControlDb, origin: string): boolean {
  return (
    db.prepare("SELECT 1 FROM tenant_origins WHERE origin = ? LIMIT 1").get(origin) !== undefined
  );
}

// ---- secret API keys ---------------------------------------------------------------------

export interface SecretKeyRecord {
  id: number;
  tenantId: TenantId;
  name: string;
  /** The first characters, enough to recognise a key in a list. */
  prefix: string;
  createdBy: string;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

interface SecretKeyRow {
  id: number;
  tenant_id: string;
  name: string;
  prefix: string;
  created_by: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

const KEY_COLUMNS = "id, tenant_id, name, prefix, created_by, created_at, last_used_at, revoked_at";

function toSecretKey(row: SecretKeyRow): SecretKeyRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id as TenantId,
    name: row.name,
    prefix: row.prefix,
    createdBy: row.created_by,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  };
}

export const secretKeyNameSchema = z.string().trim().min(1, "Name the key.").max(80);

export class TooManyKeysError extends Error {
  override name = "TooManyKeysError";
}

/** Makes a key; the returned `secret` is the only time anyone sees it. */
export function createSecretKey(
  db: ControlDb,
  input: { tenantId: TenantId; name: string; createdBy: string },
  now = Date.now(),
): { secret: string; key: SecretKeyRecord } {
  const secret = `${SECRET_PREFIX}${randomBytes(24).toString("base64url")}`;
  const id = db
    .transaction(() => {
      const active = db
        .prepare("SELECT count(*) AS n FROM api_keys WHERE tenant_id = ? AND revoked_at IS NULL")
        .get(input.tenantId) as { n: number };
      if (active.n >= MAX_ACTIVE_SECRET_KEYS) {
        throw new TooManyKeysError(`A tenant has at most ${MAX_ACTIVE_SECRET_KEYS} active keys.`);
      }
      return db
        .prepare(
          `INSERT INTO api_keys (tenant_id, name, prefix, key_hash, created_by, created_at)
         VALUES (?, ?, ?, ?, ?, ?)`,
        )
        .run(input.tenantId, input.name, secret.slice(0, 14), sha256(secret), input.createdBy, now)
        .lastInsertRowid;
      // IMMEDIATE: the count is read under the write lock, so a writer in another process (the
      // CLI beside the server) makes this wait (busy timeout) instead of failing on a stale read.
    })
    .immediate();
  const row = db
    .prepare(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE id = ?`)
    .get(id) as SecretKeyRow;
  return { secret, key: toSecretKey(row) };
}

export function listSecretKeys(db: ControlDb, tenantId: TenantId): SecretKeyRecord[] {
  return (
    db
      .prepare(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE tenant_id = ? ORDER BY id DESC`)
      .all(tenantId) as SecretKeyRow[]
  ).map(toSecretKey);
}

/** Revokes one of this tenant's keys; false when the tenant has no such active key. */
export function revokeSecretKey(
  db: ControlDb,
  tenantId: TenantId,
  keyId: number,
  now = Date.now(),
): boolean {
  return (
    db
      .prepare(
        "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND tenant_id = ? AND revoked_at IS NULL",
      )
      .run(now, keyId, tenantId).changes === 1
  );
}

/**
 * The tenant an active secret key belongs to, or null. Marks the key used unless `touch` is
 * false (a LiteFS replica, whose control database is read-only).
 */
export function authenticateSecretKey(
  db: ControlDb,
  secret: string,
  now = Date.now(),
  touch = true,
): { tenantId: TenantId; keyId: number } | null {
  if (!secretKeyPattern.test(secret)) return null;
  // Every server-to-server ask authenticates: the statement is prepared once per handle.
  const row = statement(
    db,
    "SELECT id, tenant_id, last_used_at FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL",
  ).get(sha256(secret)) as
    { id: number; tenant_id: string; last_used_at: number | null } | undefined;
  if (!row) return null;
  if (touch && (row.last_used_at === null || now - row.last_used_at >= LAST_USED_RESOLUTION_MS)) {
    db.prepare("UPDATE api_keys SET last_used_at = ? WHERE id = ?").run(now, row.id);
  }
  return { tenantId: row.tenant_id as TenantId, keyId: row.id };
}

/** The secret key of an `Authorization: Bearer bitb_sk_…` header, if there is one. */
export function bearerSecret(request: { readonly headers: Pick<Headers, "get"> }): string | null {
  const header = request.headers.get("authorization");
  if (!header) return null;
  const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
  return match?.[1] ?? "";
}

/** The tag a site pastes to embed the tenant's widget. */
export function embedSnippet(appOrigin: string, tenantId: TenantId, widgetKey: string): string {
  return `<script src="${appOrigin}/widget.js" data-tenant="${tenantId}" data-key="${widgetKey}" async></script>`;
}
