// The control database: the tenant registry, admins and their tenants, admin sessions,
// one-time setup tokens and server secrets. One small SQLite file beside the tenant files.
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { statement } from "#tenants/statements.ts";
import { migrate } from "#tenants/store.ts";
import { isTenantId, type TenantId } from "#tenants/id.ts";

export type ControlDb = Database.Database;

export const controlMigrations: readonly string[] = [
  /* 1 */ `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;

  CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    plan TEXT NOT NULL DEFAULT 'trial',
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    pending_jobs INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE admins (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('platform', 'tenant')),
    created_at INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE admin_tenants (
    admin_id INTEGER NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    PRIMARY KEY (admin_id, tenant_id)
  ) STRICT;

  CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    expires_at INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE setup_tokens (
    token_hash TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
  ) STRICT;
  `,
  /* 2 */ `
  -- The tenant's own LLM model, overriding the server's default (NULL: the default).
  ALTER TABLE tenants ADD COLUMN llm_model TEXT;
  `,
  /* 3 */ `
  -- The widget's look and behaviour (JSON validated by widget-settings.server.ts).
  ALTER TABLE tenants ADD COLUMN widget_settings TEXT NOT NULL DEFAULT '{}';
  `,
  /* 4 */ `
  -- Failed sign-ins per account ('account:<e-mail>') and per client ('ip:<address>'), kept
  -- here so a restart does not hand an attacker a fresh set of guesses (sign-in-throttle).
  CREATE TABLE sign_in_failures (
    key TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    window_started_at INTEGER NOT NULL,
    locked_until INTEGER NOT NULL DEFAULT 0
  ) STRICT;
  -- Mask PII in this tenant's stored transcripts (questions and answers).
  ALTER TABLE tenants ADD COLUMN mask_transcripts INTEGER NOT NULL DEFAULT 0;
  `,
  /* 5 */ `
  -- Embeds and quotas (keys.server.ts, limits/quota.server.ts): the publishable widget key,
  -- the token budget (NULL: unlimited) and the trial's end (NULL: no end). Tenants that
  -- existed before keep no budget and no end; new trial tenants get the configured ones.
  ALTER TABLE tenants ADD COLUMN widget_key TEXT;
  ALTER TABLE tenants ADD COLUMN token_budget INTEGER;
  ALTER TABLE tenants ADD COLUMN trial_ends_at INTEGER;
  CREATE UNIQUE INDEX tenants_widget_key ON tenants (widget_key);

  -- The origins allowed to embed a tenant's widget (scheme://host[:port], normalised).
  CREATE TABLE tenant_origins (
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    origin TEXT NOT NULL,
    PRIMARY KEY (tenant_id, origin)
  ) STRICT;
  CREATE INDEX tenant_origins_by_origin ON tenant_origins (origin);
  `,
  /* 6 */ `
  -- Secret API keys for server-to-server ask and ingest; only their SHA-256 is kept.
  CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at INTEGER
  ) STRICT;
  CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id, id);
  `,
  /* 7 */ `
  -- Platform-level audit: what happened to whole tenants (export, import, erasure). Kept in
  -- the control database because an erased tenant's own database is gone. No foreign key:
  -- the rows outlive the tenant.
  CREATE TABLE platform_audit (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    tenant_id TEXT,
    detail TEXT NOT NULL DEFAULT '{}'
  ) STRICT;
  CREATE INDEX platform_audit_tenant ON platform_audit (tenant_id, at);
  `,
  /* 8 */ `
  -- The self-serve trial (trial.server.ts, docs/decisions/030): how far each sign-up got
  -- through its four steps (the step to resume at: 2 knowledge, 3 widget, 4 embed) and when
  -- it was finished; and recent sign-up attempts per client (a hash of its address), which
  -- the per-client sign-up limit counts.
  CREATE TABLE signups (
    tenant_id TEXT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
    admin_id INTEGER NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
    step INTEGER NOT NULL DEFAULT 2 CHECK (step BETWEEN 2 AND 4),
    created_at INTEGER NOT NULL,
    completed_at INTEGER
  ) STRICT;
  CREATE INDEX signups_by_admin ON signups (admin_id, created_at);
  CREATE TABLE signup_attempts (
    client_key TEXT NOT NULL,
    at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX signup_attempts_by_client ON signup_attempts (client_key, at);
  `,
  /* 9 */ `
  -- Failed sign-ins are now kept under keyed hashes of the e-mail and client address
  -- (sign-in-throttle.server.ts). SQL cannot compute those, so the rows that named them in
  -- plain text go: their windows and locks end at once, which is at most one lockout early.
  DELETE FROM sign_in_failures;
  `,
  /* 10 */ `
  -- Storage quotas of the tenant's plan (limits/storage-quota.server.ts, decision 043):
  -- documents, chunks and bytes of chunk text; NULL: unlimited. Tenants that existed before
  -- keep none; new trial tenants get the configured ones.
  ALTER TABLE tenants ADD COLUMN max_documents INTEGER;
  ALTER TABLE tenants ADD COLUMN max_chunks INTEGER;
  ALTER TABLE tenants ADD COLUMN max_text_bytes INTEGER;
  `,
];

export const CONTROL_FILE = "control.db";

export function openControlDb(dataDir: string): ControlDb {
  fs.mkdirSync(dataDir, { recursive: true });
  const db = new Database(path.join(dataDir, CONTROL_FILE));
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("foreign_keys = ON");
  db.pragma("busy_timeout = 5000");
  migrate(db, controlMigrations);
  return db;
}

// ---- secrets ---------------------------------------------------------------------------

/** A random secret kept in the control database, made on first use (e.g. cookie signing). */
export function getOrCreateSecret(db: ControlDb, name: string): string {
  const key = `secret:${name}`;
  // Every widget ask reads the visitor-session secret: prepared once per handle.
  const row = statement(db, "SELECT value FROM meta WHERE key = ?").get(key) as
    { value: string } | undefined;
  if (row) return row.value;
  const value = randomBytes(32).toString("hex");
  db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)").run(key, value);
  return (db.prepare("SELECT value FROM meta WHERE key = ?").get(key) as { value: string }).value;
}

export function getMeta(db: ControlDb, key: string): string | undefined {
  const row = db.prepare("SELECT value FROM meta WHERE key = ?").get(key) as
    { value: string } | undefined;
  return row?.value;
}

export function setMeta(db: ControlDb, key: string, value: string): void {
  db.prepare(
    "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
  ).run(key, value);
}

export function deleteMeta(db: ControlDb, key: string): void {
  db.prepare("DELETE FROM meta WHERE key = ?").run(key);
}

/**
 * The keys starting with `prefix` whose value, read as an integer (a time in ms), is at most
 * `dueBy`, in key order (the crawl scheduler's `crawl:<tenantId>` keys).
 */
export function metaKeysDueBy(db: ControlDb, prefix: string, dueBy: number): string[] {
  const rows = db
    .prepare(
      `SELECT key FROM meta WHERE key >= ? AND key < ? AND CAST(value AS INTEGER) <= ?
       ORDER BY key`,
    )
    .all(prefix, `${prefix}\uffff`, dueBy) as { key: string }[];
  return rows.map((row) => row.key);
}

/** Whether the control database answers a query (the health check). */
export function controlDbResponds(db: ControlDb): boolean {
  return db.prepare("SELECT 1 AS ok").get() !== undefined;
}

/** Forgets which demo documents were queued (meta `demo-file:*`), so all are queued again. */
export function forgetDemoFiles(db: ControlDb): void {
  db.prepare("DELETE FROM meta WHERE key LIKE 'demo-file:%'").run();
}

// ---- tenants ---------------------------------------------------------------------------

export interface TenantRecord {
  id: TenantId;
  name: string;
  plan: string;
  status: "active" | "suspended";
  /** The tenant's LLM model override, or null for the server's default model. */
  llmModel: string | null;
  /** Whether stored transcripts have PII (e-mails, phone numbers, cards…) masked. */
  maskTranscripts: boolean;
  createdAt: number;
}

interface TenantRow {
  id: string;
  name: string;
  plan: string;
  status: "active" | "suspended";
  llm_model: string | null;
  mask_transcripts: number;
  created_at: number;
}

const TENANT_COLUMNS = "id, name, plan, status, llm_model, mask_transcripts, created_at";

function toTenant(row: TenantRow): TenantRecord {
  return {
    id: row.id as TenantId,
    name: row.name,
    plan: row.plan,
    status: row.status,
    llmModel: row.llm_model,
    maskTranscripts: row.mask_transcripts === 1,
    createdAt: row.created_at,
  };
}

export function insertTenant(
  db: ControlDb,
  tenant: { id: TenantId; name: string; plan?: string },
  now = Date.now(),
): TenantRecord {
  db.prepare("INSERT INTO tenants (id, name, plan, created_at) VALUES (?, ?, ?, ?)").run(
    tenant.id,
    tenant.name,
    tenant.plan ?? "trial",
    now,
  );
  return getTenant(db, tenant.id) as TenantRecord;
}

/** A tenant's plan and token budget, as the quota reads them. */
export interface TenantQuotaRow {
  plan: string;
  token_budget: number | null;
  trial_ends_at: number | null;
  created_at: number;
}

/** Read on every ask: prepared once per handle. */
export function tenantQuotaRow(db: ControlDb, id: TenantId): TenantQuotaRow | undefined {
  return statement(
    db,
    "SELECT plan, token_budget, trial_ends_at, created_at FROM tenants WHERE id = ?",
  ).get(id) as TenantQuotaRow | undefined;
}

/** Sets a tenant's budget and trial end; its plan too when `plan` is given. */
export function updateTenantQuota(
  db: ControlDb,
  id: TenantId,
  quota: { plan?: string; tokenBudget: number | null; trialEndsAt: number | null },
): void {
  db.prepare(
    "UPDATE tenants SET plan = coalesce(?, plan), token_budget = ?, trial_ends_at = ? WHERE id = ?",
  ).run(quota.plan ?? null, quota.tokenBudget, quota.trialEndsAt, id);
}

export function getTenant(db: ControlDb, id: string): TenantRecord | undefined {
  if (!isTenantId(id)) return undefined;
  // Every public request looks its tenant up: the statement is prepared once per handle.
  const row = statement(db, `SELECT ${TENANT_COLUMNS} FROM tenants WHERE id = ?`).get(id) as
    TenantRow | undefined;
  return row ? toTenant(row) : undefined;
}

export function listTenants(db: ControlDb, adminId?: number): TenantRecord[] {
  const rows = (
    adminId === undefined
      ? db.prepare(`SELECT ${TENANT_COLUMNS} FROM tenants ORDER BY created_at`)
      : db.prepare(
          `SELECT ${TENANT_COLUMNS.replace(/(\w+)/g, "t.$1")} FROM tenants t
           JOIN admin_tenants a ON a.tenant_id = t.id WHERE a.admin_id = ? ORDER BY t.created_at`,
        )
  ).all(...(adminId === undefined ? [] : [adminId])) as TenantRow[];
  return rows.map(toTenant);
}

export function setTenantModel(db: ControlDb, id: TenantId, model: string | null): void {
  db.prepare("UPDATE tenants SET llm_model = ? WHERE id = ?").run(model, id);
}

export function writeTenantStatus(
  db: ControlDb,
  id: TenantId,
  status: "active" | "suspended",
): void {
  db.prepare("UPDATE tenants SET status = ? WHERE id = ?").run(status, id);
}

export function setTenantMaskTranscripts(db: ControlDb, id: TenantId, mask: boolean): void {
  db.prepare("UPDATE tenants SET mask_transcripts = ? WHERE id = ?").run(mask ? 1 : 0, id);
}

/** The tenant's stored widget settings (raw JSON; validated by widget-settings.server.ts). */
export function getWidgetSettingsJson(db: ControlDb, id: TenantId): string | undefined {
  const row = db.prepare("SELECT widget_settings FROM tenants WHERE id = ?").get(id) as
    { widget_settings: string } | undefined;
  return row?.widget_settings;
}

export function setWidgetSettingsJson(db: ControlDb, id: TenantId, json: string): void {
  db.prepare("UPDATE tenants SET widget_settings = ? WHERE id = ?").run(json, id);
}

export function setTenantPendingJobs(db: ControlDb, id: TenantId, pending: boolean): void {
  db.prepare("UPDATE tenants SET pending_jobs = ? WHERE id = ?").run(pending ? 1 : 0, id);
}

export function tenantsWithPendingJobs(db: ControlDb): TenantId[] {
  return (
    db.prepare("SELECT id FROM tenants WHERE pending_jobs = 1").all() as Array<{ id: string }>
  ).map((r) => r.id as TenantId);
}

// ---- admins ----------------------------------------------------------------------------

export interface AdminRecord {
  id: number;
  email: string;
  role: "platform" | "tenant";
  createdAt: number;
}

interface AdminRow {
  id: number;
  email: string;
  role: "platform" | "tenant";
  created_at: number;
  password_hash: string;
}

export function insertAdmin(
  db: ControlDb,
  admin: { email: string; passwordHash: string; role: "platform" | "tenant" },
  now = Date.now(),
): AdminRecord {
  const info = db
    .prepare("INSERT INTO admins (email, password_hash, role, created_at) VALUES (?, ?, ?, ?)")
    .run(admin.email.trim().toLowerCase(), admin.passwordHash, admin.role, now);
  return getAdmin(db, Number(info.lastInsertRowid)) as AdminRecord;
}

export function getAdmin(db: ControlDb, id: number): AdminRecord | undefined {
  const row = db.prepare("SELECT id, email, role, created_at FROM admins WHERE id = ?").get(id) as
    AdminRow | undefined;
  return row
    ? { id: row.id, email: row.email, role: row.role, createdAt: row.created_at }
    : undefined;
}

/** Replaces an admin's stored password hash (a re-hash with stronger parameters). */
export function updateAdminPasswordHash(db: ControlDb, id: number, passwordHash: string): void {
  db.prepare("UPDATE admins SET password_hash = ? WHERE id = ?").run(passwordHash, id);
}

export function findAdminCredentials(
  db: ControlDb,
  email: string,
): (AdminRecord & { passwordHash: string }) | undefined {
  const row = db
    .prepare("SELECT id, email, role, created_at, password_hash FROM admins WHERE email = ?")
    .get(email.trim().toLowerCase()) as AdminRow | undefined;
  return row
    ? {
        id: row.id,
        email: row.email,
        role: row.role,
        createdAt: row.created_at,
        passwordHash: row.password_hash,
      }
    : undefined;
}

export function countAdmins(db: ControlDb): number {
  return (db.prepare("SELECT count(*) AS n FROM admins").get() as { n: number }).n;
}

export function grantTenant(db: ControlDb, adminId: number, tenantId: TenantId): void {
  db.prepare("INSERT OR IGNORE INTO admin_tenants (admin_id, tenant_id) VALUES (?, ?)").run(
    adminId,
    tenantId,
  );
}

export function adminCanManage(db: ControlDb, admin: AdminRecord, tenantId: TenantId): boolean {
  if (admin.role === "platform") return true;
  return (
    db
      .prepare("SELECT 1 FROM admin_tenants WHERE admin_id = ? AND tenant_id = ?")
      .get(admin.id, tenantId) !== undefined
  );
}

// ---- setup tokens ----------------------------------------------------------------------

const hashToken = (token: string) => createHash("sha256").update(token).digest("hex");

/** A one-time token for creating the first admin; only its hash is stored. */
export function createSetupToken(db: ControlDb, ttlMs: number, now = Date.now()): string {
  const token = randomBytes(24).toString("base64url");
  db.prepare("INSERT INTO setup_tokens (token_hash, expires_at) VALUES (?, ?)").run(
    hashToken(token),
    now + ttlMs,
  );
  return token;
}

export function isSetupTokenValid(db: ControlDb, token: string, now = Date.now()): boolean {
  const row = db
    .prepare("SELECT expires_at, used_at FROM setup_tokens WHERE token_hash = ?")
    .get(hashToken(token)) as { expires_at: number; used_at: number | null } | undefined;
  return row !== undefined && row.used_at === null && row.expires_at > now;
}

/** Marks the token used; true only for the one caller that used a valid token. */
export function consumeSetupToken(db: ControlDb, token: string, now = Date.now()): boolean {
  const info = db
    .prepare(
      "UPDATE setup_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?",
    )
    .run(now, hashToken(token), now);
  return info.changes === 1;
}

// ---- admin sessions --------------------------------------------------------------------

export function readSession(db: ControlDb, id: string, now = Date.now()): unknown {
  const row = db.prepare("SELECT data, expires_at FROM sessions WHERE id = ?").get(id) as
    { data: string; expires_at: number } | undefined;
  if (!row) return null;
  if (row.expires_at <= now) {
    deleteSession(db, id);
    return null;
  }
  return JSON.parse(row.data);
}

export function writeSession(db: ControlDb, id: string, data: unknown, expiresAt: number): void {
  db.prepare(
    `INSERT INTO sessions (id, data, expires_at) VALUES (?, ?, ?)
     ON CONFLICT(id) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at`,
  ).run(id, JSON.stringify(data), expiresAt);
}

export function deleteSession(db: ControlDb, id: string): void {
  db.prepare("DELETE FROM sessions WHERE id = ?").run(id);
}

export function purgeExpiredSessions(db: ControlDb, now = Date.now()): number {
  return db.prepare("DELETE FROM sessions WHERE expires_at <= ?").run(now).changes;
}

// ---- failed sign-ins -------------------------------------------------------------------

export interface SignInFailureRow {
  failures: number;
  windowStartedAt: number;
  lockedUntil: number;
}

export function getSignInFailures(db: ControlDb, key: string): SignInFailureRow | undefined {
  const row = db
    .prepare("SELECT failures, window_started_at, locked_until FROM sign_in_failures WHERE key = ?")
    .get(key) as { failures: number; window_started_at: number; locked_until: number } | undefined;
  return row
    ? {
        failures: row.failures,
        windowStartedAt: row.window_started_at,
        lockedUntil: row.locked_until,
      }
    : undefined;
}

export function putSignInFailures(db: ControlDb, key: string, row: SignInFailureRow): void {
  db.prepare(
    `INSERT INTO sign_in_failures (key, failures, window_started_at, locked_until) VALUES (?, ?, ?, ?)
     ON CONFLICT(key) DO UPDATE SET failures = excluded.failures,
       window_started_at = excluded.window_started_at, locked_until = excluded.locked_until`,
  ).run(key, row.failures, row.windowStartedAt, row.lockedUntil);
}

export function clearSignInFailures(db: ControlDb, key: string): void {
  db.prepare("DELETE FROM sign_in_failures WHERE key = ?").run(key);
}

/** Forgets windows and locks that ended before `before` (keeps the table small). */
export function purgeSignInFailures(db: ControlDb, before: number): number {
  return db
    .prepare("DELETE FROM sign_in_failures WHERE locked_until < ? AND window_started_at < ?")
    .run(before, before).changes;
}

// ---- trial sign-ups -----------------------------------------------------------------------

/** Drops the sign-up attempts made at or before `before` (the per-client limit's window). */
export function pruneSignupAttempts(db: ControlDb, before: number): void {
  db.prepare("DELETE FROM signup_attempts WHERE at <= ?").run(before);
}

/** A client's sign-up attempts after `since`: how many, and when the oldest was. */
export function signupAttemptsSince(
  db: ControlDb,
  clientKey: string,
  since: number,
): { n: number; oldest: number | null } {
  return db
    .prepare(
      "SELECT count(*) AS n, min(at) AS oldest FROM signup_attempts WHERE client_key = ? AND at > ?",
    )
    .get(clientKey, since) as { n: number; oldest: number | null };
}

export function recordSignupAttempt(db: ControlDb, clientKey: string, at: number): void {
  db.prepare("INSERT INTO signup_attempts (client_key, at) VALUES (?, ?)").run(clientKey, at);
}

export interface SignupRow {
  tenant_id: string;
  admin_id: number;
  step: number;
  created_at: number;
  completed_at: number | null;
}

/** A new sign-up, at step 2 (step 1 made the account). */
export function insertSignup(
  db: ControlDb,
  tenantId: TenantId,
  adminId: number,
  now: number,
): void {
  db.prepare("INSERT INTO signups (tenant_id, admin_id, step, created_at) VALUES (?, ?, 2, ?)").run(
    tenantId,
    adminId,
    now,
  );
}

/** The admin's newest sign-up, if any. */
export function latestSignupRow(db: ControlDb, adminId: number): SignupRow | undefined {
  return db
    .prepare(
      "SELECT * FROM signups WHERE admin_id = ? ORDER BY created_at DESC, rowid DESC LIMIT 1",
    )
    .get(adminId) as SignupRow | undefined;
}

/** Moves a sign-up's step forward to `step`, never back. */
export function raiseSignupStep(db: ControlDb, tenantId: TenantId, step: number): void {
  db.prepare("UPDATE signups SET step = max(step, ?) WHERE tenant_id = ?").run(step, tenantId);
}

/** Marks a sign-up complete (step 4); a second call keeps the first completion time. */
export function completeSignup(db: ControlDb, tenantId: TenantId, now: number): void {
  db.prepare(
    "UPDATE signups SET step = 4, completed_at = coalesce(completed_at, ?) WHERE tenant_id = ?",
  ).run(now, tenantId);
}

// ---- platform audit and tenant removal (deploy: export, import, erasure) -----------------

export interface PlatformAuditEntry {
  id: number;
  at: number;
  actor: string;
  action: string;
  tenantId: string | null;
  detail: Record<string, unknown>;
}

export function recordPlatformAudit(
  db: ControlDb,
  entry: { actor: string; action: string; tenantId?: string; detail?: Record<string, unknown> },
  now = Date.now(),
): void {
  db.prepare(
    "INSERT INTO platform_audit (at, actor, action, tenant_id, detail) VALUES (?, ?, ?, ?, ?)",
  ).run(now, entry.actor, entry.action, entry.tenantId ?? null, JSON.stringify(entry.detail ?? {}));
}

export function listPlatformAudit(
  db: ControlDb,
  options: { tenantId?: string; limit?: number } = {},
): PlatformAuditEntry[] {
  const rows = db
    .prepare(
      `SELECT id, at, actor, action, tenant_id, detail FROM platform_audit
       WHERE (@tenant IS NULL OR tenant_id = @tenant) ORDER BY id DESC LIMIT @limit`,
    )
    .all({ tenant: options.tenantId ?? null, limit: options.limit ?? 100 }) as Array<{
    id: number;
    at: number;
    actor: string;
    action: string;
    tenant_id: string | null;
    detail: string;
  }>;
  return rows.map((r) => ({
    id: r.id,
    at: r.at,
    actor: r.actor,
    action: r.action,
    tenantId: r.tenant_id,
    detail: JSON.parse(r.detail) as Record<string, unknown>,
  }));
}

/** The tenant's row and, through ON DELETE CASCADE, its admin links. True if it existed. */
export function deleteTenantRow(db: ControlDb, id: TenantId): boolean {
  return db.prepare("DELETE FROM tenants WHERE id = ?").run(id).changes === 1;
}

/** Every column of the tenant's registry row that an export carries to another server. */
export interface TenantRegistryEntry {
  id: TenantId;
  name: string;
  plan: string;
  status: "active" | "suspended";
  llmModel: string | null;
  widgetSettings: string;
  createdAt: number;
}

export function insertImportedTenant(db: ControlDb, entry: TenantRegistryEntry): void {
  db.prepare(
    `INSERT INTO tenants (id, name, plan, status, llm_model, widget_settings, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    entry.id,
    entry.name,
    entry.plan,
    entry.status,
    entry.llmModel,
    entry.widgetSettings,
    entry.createdAt,
  );
}

// ---- storage quotas (limits/storage-quota.server.ts) ----------------------------------------

export interface StorageLimitRow {
  max_documents: number | null;
  max_chunks: number | null;
  max_text_bytes: number | null;
}

export function writeTenantStorageLimits(
  db: ControlDb,
  id: TenantId,
  [maxDocuments, maxChunks, maxTextBytes]: [number | null, number | null, number | null],
): void {
  db.prepare(
    "UPDATE tenants SET max_documents = ?, max_chunks = ?, max_text_bytes = ? WHERE id = ?",
  ).run(maxDocuments, maxChunks, maxTextBytes, id);
}

export function tenantStorageLimitRow(db: ControlDb, id: TenantId): StorageLimitRow | undefined {
  return db
    .prepare("SELECT max_documents, max_chunks, max_text_bytes FROM tenants WHERE id = ?")
    .get(id) as StorageLimitRow | undefined;
}
