// Numbered migrations of a tenant database, applied in order and recorded in
// PRAGMA user_version. Append new ones; never edit one that has shipped.
// The vec0 table is not here: its dimension depends on the embedding model, so the store
// creates it (see store.ts) and records the dimension in `meta`.
export const tenantMigrations: readonly string[] = [
  /* 1 */ `
  CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) STRICT;

  CREATE TABLE documents (
    id INTEGER PRIMARY KEY,
    source_key TEXT NOT NULL UNIQUE,
    source_type TEXT NOT NULL CHECK (source_type IN ('file', 'text', 'url')),
    title TEXT NOT NULL,
    url TEXT,
    file_name TEXT,
    mime_type TEXT,
    content_hash TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    chunk_count INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE chunks (
    id INTEGER PRIMARY KEY,
    document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    ord INTEGER NOT NULL,
    heading_path TEXT NOT NULL,
    text TEXT NOT NULL,
    token_count INTEGER NOT NULL,
    UNIQUE (document_id, ord)
  ) STRICT;

  -- Contentless FTS5 index over chunks (rowid = chunks.id); title and heading columns let
  -- retrieval weight them above body text.
  CREATE VIRTUAL TABLE chunks_fts USING fts5(
    title, heading, body,
    content = '',
    contentless_delete = 1,
    tokenize = 'porter unicode61 remove_diacritics 2'
  );

  CREATE TABLE ingest_jobs (
    id INTEGER PRIMARY KEY,
    source_type TEXT NOT NULL CHECK (source_type IN ('file', 'text', 'url')),
    source_key TEXT NOT NULL,
    title TEXT NOT NULL,
    file_name TEXT,
    mime_type TEXT,
    url TEXT,
    payload BLOB,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    stage TEXT,
    progress_done INTEGER NOT NULL DEFAULT 0,
    progress_total INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    next_run_at INTEGER NOT NULL,
    lease_owner TEXT,
    lease_until INTEGER,
    error TEXT,
    document_id INTEGER,
    outcome TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX ingest_jobs_runnable ON ingest_jobs (state, next_run_at);

  CREATE TABLE conversations (
    id TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    content TEXT NOT NULL,
    citations TEXT,
    provider TEXT,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    latency_ms INTEGER,
    created_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX messages_by_conversation ON messages (conversation_id, id);

  CREATE TABLE usage_daily (
    day TEXT PRIMARY KEY,
    asks INTEGER NOT NULL DEFAULT 0,
    abstained INTEGER NOT NULL DEFAULT 0,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0
  ) STRICT;
  `,
  /* 2 */ `
  -- A visitor's thumbs up (1) or down (-1) on an answer.
  ALTER TABLE messages ADD COLUMN feedback INTEGER CHECK (feedback IN (-1, 1));
  ALTER TABLE messages ADD COLUMN feedback_at INTEGER;
  `,
  /* 3 */ `
  -- A version of what retrieval reads, bumped by every change to the documents or to a
  -- retrieval setting kept in meta, in whatever process or replica it happens. Caches of
  -- retrieval results compare it to the version they were computed at.
  INSERT OR IGNORE INTO meta (key, value) VALUES ('kb_version', '0');
  CREATE TRIGGER documents_kb_version_insert AFTER INSERT ON documents BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'kb_version';
  END;
  CREATE TRIGGER documents_kb_version_update AFTER UPDATE ON documents BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'kb_version';
  END;
  CREATE TRIGGER documents_kb_version_delete AFTER DELETE ON documents BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'kb_version';
  END;
  CREATE TRIGGER meta_kb_version_insert AFTER INSERT ON meta WHEN NEW.key <> 'kb_version' BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'kb_version';
  END;
  CREATE TRIGGER meta_kb_version_update AFTER UPDATE ON meta WHEN NEW.key <> 'kb_version' BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'kb_version';
  END;

  -- Questions the answerer abstained on: the tenant's content-gap list.
  CREATE TABLE unanswered_questions (
    id INTEGER PRIMARY KEY,
    question TEXT NOT NULL,
    normalized TEXT NOT NULL,
    conversation_id TEXT,
    message_id INTEGER,
    created_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX unanswered_questions_by_time ON unanswered_questions (created_at);
  CREATE INDEX unanswered_questions_by_text ON unanswered_questions (normalized);
  `,
  /* 4 */ `
  -- Answers served from the answer cache: marked on the message, counted per day.
  ALTER TABLE messages ADD COLUMN cached INTEGER NOT NULL DEFAULT 0 CHECK (cached IN (0, 1));
  ALTER TABLE usage_daily ADD COLUMN cache_hits INTEGER NOT NULL DEFAULT 0;
  `,
  /* 5 */ `
  -- The tenant's audit log (tenants/audit.ts): every ask and every admin action.
  CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('ask', 'admin')),
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL,
    question_sha256 TEXT,
    latency_ms INTEGER,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    cache_hit INTEGER CHECK (cache_hit IN (0, 1)),
    detail TEXT
  ) STRICT;
  CREATE INDEX audit_log_by_time ON audit_log (at, id);
  `,
  /* 6 */ `
  -- The context vector of a chunk: its document title and section headings embedded on their
  -- own. Retrieval scores a chunk by the better of its text vector and this one, so a question
  -- that paraphrases a title (an FAQ question, a page name) finds the chunk under it.
  CREATE TABLE chunk_context_vectors (
    chunk_id INTEGER PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
    embedding BLOB NOT NULL
  ) STRICT;
  `,
  /* 7 */ `
  -- Replica-safe writes (docs/decisions/023). The tenant's write position: bumped on the
  -- primary after each admin or API write, so a replica can tell whether it has caught up
  -- with what an admin just wrote. Kept out of meta, whose changes invalidate the caches.
  CREATE TABLE replication_position (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    position INTEGER NOT NULL
  ) STRICT;
  INSERT INTO replication_position (id, position) VALUES (1, 0);
  -- Outbox entries from replicas already applied here (idempotency keys), with the id the
  -- answer's message got when the entry was an exchange (feedback given on the replica
  -- names the answer by its provisional id, which is the key's number).
  CREATE TABLE outbox_applied (
    key TEXT PRIMARY KEY,
    message_id INTEGER,
    applied_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX outbox_applied_by_time ON outbox_applied (applied_at);
  `,
  /* 8 */ `
  -- Claiming a job checks that no older version of its source is unfinished; without this
  -- index that check scanned every job, so claims grew with the queue (5,000 queued
  -- documents: about a second per claim).
  CREATE INDEX ingest_jobs_by_source ON ingest_jobs (source_key, id);
  `,
  /* 9 */ `
  -- Actions (issue 11, docs/decisions/027). Each action's switch and back-end; rows exist
  -- only for actions an admin has configured (the rest take the defaults in code).
  CREATE TABLE action_settings (
    name TEXT PRIMARY KEY,
    enabled INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    backend TEXT NOT NULL CHECK (backend IN ('builtin', 'webhook')),
    webhook_url TEXT
  ) STRICT;
  -- The tenant's booking calendar and webhook secret: one row.
  CREATE TABLE action_config (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    hours TEXT NOT NULL,
    slot_minutes INTEGER NOT NULL,
    timezone TEXT NOT NULL,
    webhook_secret TEXT
  ) STRICT;
  -- What the built-in back-ends record: appointments, leads and hand-off tickets, open until
  -- an admin marks them done. An appointment holds its slot (UTC start, ms) for good.
  CREATE TABLE action_records (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('appointment', 'lead', 'handoff')),
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done')),
    reference TEXT NOT NULL UNIQUE,
    summary TEXT NOT NULL,
    details TEXT NOT NULL,
    contact TEXT,
    conversation_id TEXT,
    slot_start INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX action_records_by_kind ON action_records (kind, status, id);
  CREATE UNIQUE INDEX action_records_slot ON action_records (slot_start)
    WHERE kind = 'appointment';
  -- Offers the visitor confirmed (or is confirming): an offer is a signed token bound to the
  -- tenant, the visitor's conversation and an expiry; its row here makes it single use.
  CREATE TABLE action_offers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('tool', 'match')),
    state TEXT NOT NULL CHECK (state IN ('running', 'done')),
    record_id INTEGER,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX action_offers_by_expiry ON action_offers (expires_at);
  `,
  /* 10 */ `
  -- Website crawls (docs/decisions/029): one row per crawled site, one per page found, with
  -- what became of it. A crawl in state 'running' resumes after a restart; a page still
  -- 'found' has not been fetched yet. Pages that fetch become ingestion jobs (job_id).
  CREATE TABLE IF NOT EXISTS crawls (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('running', 'done', 'failed', 'cancelled')),
    mode TEXT CHECK (mode IN ('sitemap', 'links')),
    max_pages INTEGER NOT NULL,
    max_depth INTEGER NOT NULL,
    recrawl TEXT NOT NULL CHECK (recrawl IN ('off', 'daily', 'weekly')),
    next_run_at INTEGER,
    error TEXT,
    note TEXT,
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  ) STRICT;
  CREATE TABLE IF NOT EXISTS crawl_pages (
    id INTEGER PRIMARY KEY,
    crawl_id INTEGER NOT NULL REFERENCES crawls(id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    depth INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('found', 'fetched', 'skipped', 'failed')),
    reason TEXT,
    content_hash TEXT,
    job_id INTEGER,
    updated_at INTEGER NOT NULL,
    UNIQUE (crawl_id, url)
  ) STRICT;
  CREATE INDEX IF NOT EXISTS crawl_pages_by_state ON crawl_pages (crawl_id, state, depth, id);
  `,
  /* 11 */ `
  -- The knowledge-base check (docs/decisions/032): each run with its progress and, once
  -- finished, its report as JSON (counts, findings, starter questions). Kept out of meta,
  -- whose changes invalidate the retrieval and answer caches.
  CREATE TABLE kb_checks (
    id INTEGER PRIMARY KEY,
    trigger TEXT NOT NULL CHECK (trigger IN ('auto', 'manual')),
    state TEXT NOT NULL CHECK (state IN ('running', 'done', 'failed')),
    step TEXT,
    progress_done INTEGER NOT NULL DEFAULT 0,
    progress_total INTEGER NOT NULL DEFAULT 0,
    report TEXT,
    error TEXT,
    started_at INTEGER NOT NULL,
    finished_at INTEGER
  ) STRICT;
  -- Actions the check proposes from the content (issue 11 item 3), one row per action: a
  -- later check refreshes the evidence of a proposal and never re-opens a decision.
  CREATE TABLE action_suggestions (
    id INTEGER PRIMARY KEY,
    action TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL CHECK (status IN ('proposed', 'accepted', 'rejected')),
    reason TEXT NOT NULL,
    evidence TEXT NOT NULL,
    check_id INTEGER,
    outcome TEXT,
    decided_by TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    decided_at INTEGER
  ) STRICT;
  `,
  /* 12 */ `
  -- Document-level keyword index (docs/decisions/035): each document's title, its distinct
  -- section headings and its chunks' text as one FTS5 row (rowid = documents.id). Retrieval
  -- scores a chunk by its own BM25 and by its document's, because a question's words are
  -- often spread over several chunks of the one document that answers it.
  CREATE VIRTUAL TABLE documents_fts USING fts5(
    title, heading, body,
    content = '',
    contentless_delete = 1,
    tokenize = 'porter unicode61 remove_diacritics 2'
  );
  INSERT INTO documents_fts (rowid, title, heading, body)
    SELECT d.id, d.title,
      coalesce((SELECT group_concat(h, ' ') FROM (SELECT DISTINCT heading_path AS h
        FROM chunks WHERE document_id = d.id AND heading_path <> '' ORDER BY h)), ''),
      coalesce((SELECT group_concat(t, ' ') FROM (SELECT text AS t
        FROM chunks WHERE document_id = d.id ORDER BY ord)), '')
    FROM documents d;
  `,
];
