// Replica-safe writes under LiteFS (docs/decisions/023), with two server processes on loopback
// and a simulated LiteFS: the primary's data folder is copied page by page into the replica's
// (SQLite's online backup, as LiteFS ships pages) whenever the test says so, the replica's
// folder holds the `.primary` file LiteFS puts there, and a small stand-in for Fly's proxy
// replays a request on the primary when an instance answers with `fly-replay`.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signIn } from "../support/admin.ts";
import { createAdmin } from "../support/cli.ts";
import { bearer, makeSecretKey, visitorSession, widgetKeyOf } from "../support/keys.ts";
import {
  startServer,
  tempDataDir,
  waitFor,
  type Client,
  type TestServer,
} from "../support/server.ts";

const PRIMARY_HOST = "primary-host";
const PROVISIONAL_ID_BASE = 2 ** 52;

let primaryDir: string;
let replicaDir: string;
let primary: TestServer;
let replica: TestServer;
let admin: Client;
let tenantId: string;
let secret: string;

const localDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "bitb-local-"));
const primaryLocal = localDir();
const replicaLocal = localDir();

function primaryEnv(): Record<string, string> {
  return {
    LITEFS: "true",
    PRIMARY_URL: "http://{primary}:1",
    RATE_LIMIT_STATE_DIR: primaryLocal,
    INGEST_LEASE_MS: "1500",
  };
}

function startPrimary(port?: number) {
  return startServer({ dataDir: primaryDir, env: primaryEnv(), ...(port ? { port } : {}) });
}

/** LiteFS's part: brings every database of the primary's folder to the replica's. */
async function replicate(): Promise<void> {
  for (const name of fs.readdirSync(primaryDir)) {
    if (!name.endsWith(".db")) continue;
    const source = new Database(path.join(primaryDir, name), { readonly: true });
    try {
      await source.backup(path.join(replicaDir, name));
    } finally {
      source.close();
    }
  }
}

/** Reads one value from a database file of either folder. */
function query<T>(dir: string, file: string, sql: string, ...params: unknown[]): T {
  const db = new Database(path.join(dir, file), { readonly: true });
  try {
    return db.prepare(sql).get(...params) as T;
  } finally {
    db.close();
  }
}
const count = (dir: string, file: string, table: string) =>
  query<{ n: number }>(dir, file, `SELECT count(*) AS n FROM ${table}`).n;
const tenantFile = () => `${tenantId}.db`;

/**
 * Fly's proxy: sends the request to `to`; when that instance answers with `fly-replay`, sends
 * it again to the primary. Both instances serve one public origin, so the Origin header names
 * the instance that handles the request.
 */
async function viaFly(
  to: TestServer,
  pathname: string,
  init: RequestInit & { cookie?: string } = {},
): Promise<{ response: Response; replayed: boolean; first: Response }> {
  const send = (server: TestServer) => {
    const headers = new Headers(init.headers);
    if (init.cookie) headers.set("cookie", init.cookie);
    const method = (init.method ?? "GET").toUpperCase();
    if (method !== "GET" && method !== "HEAD") headers.set("origin", server.url);
    return fetch(`${server.url}${pathname}`, { ...init, headers, redirect: "manual" });
  };
  const first = await send(to);
  const replay = first.headers.get("fly-replay");
  if (!replay) return { response: first, replayed: false, first };
  expect(replay).toBe(`instance=${PRIMARY_HOST}`);
  return { response: await send(primary), replayed: true, first };
}

function positionCookie(response: Response): string {
  const line = response.headers.getSetCookie().find((c) => c.startsWith("bitb_pos="));
  if (!line) throw new Error("no bitb_pos cookie on the write's response");
  return line.split(";")[0] as string;
}

async function askJson(server: TestServer, body: Record<string, unknown>, headers = {}) {
  const res = await fetch(`${server.url}/api/ask`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json", ...headers },
    body: JSON.stringify({ tenant_id: tenantId, ...body }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const outboxPending = () => count(replicaLocal, "outbox.db", "entries WHERE forwarded_at IS NULL");

beforeAll(async () => {
  primaryDir = tempDataDir();
  replicaDir = tempDataDir();
  await createAdmin(primaryDir);
  primary = await startPrimary();
  admin = await signIn(primary.url);
  const created = await admin.json("/api/tenants", { name: "Replicated" });
  const createdBody = await created.text();
  if (created.status !== 201)
    throw new Error(`${created.status} ${createdBody} ${primary.logs().slice(-3000)}`);
  tenantId = (JSON.parse(createdBody) as { tenant: { id: string } }).tenant.id;
  const upload = await admin.json(`/api/tenants/${tenantId}/documents`, {
    type: "text",
    title: "Lighthouse handbook",
    text:
      "# Lighthouse handbook\n\nThe lighthouse keeper lights the lamp at dusk every evening.\n\n" +
      "## Visits\n\nVisitors may climb the tower on Saturdays between ten and noon.",
  });
  expect(upload.status).toBe(202);
  await waitFor(
    async () => {
      const res = await admin.fetch(`/api/tenants/${tenantId}/documents`);
      const docs = ((await res.json()) as { documents: { status?: string }[] }).documents;
      return docs.length === 1 ? docs : undefined;
    },
    { what: "the handbook indexed on the primary" },
  );
  secret = await makeSecretKey(admin, tenantId);
  await replicate();
  fs.writeFileSync(path.join(replicaDir, ".primary"), `${PRIMARY_HOST}\n`);
  replica = await startServer({
    dataDir: replicaDir,
    env: {
      LITEFS: "true",
      PRIMARY_URL: primary.url,
      RATE_LIMIT_STATE_DIR: replicaLocal,
      OUTBOX_FLUSH_MS: "100",
      REPLICA_CATCH_UP_MS: "1500",
      INGEST_LEASE_MS: "1500",
    },
  });
}, 240_000);

afterAll(async () => {
  await replica?.stop();
  await primary?.stop();
});

describe("a LiteFS replica", () => {
  it("replays an admin's write on the primary and writes nothing itself", async () => {
    const keysBefore = count(replicaDir, "control.db", "api_keys");
    const { response, replayed, first } = await viaFly(replica, `/api/tenants/${tenantId}/keys`, {
      method: "POST",
      cookie: admin.cookie,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "made through a replica" }),
    });
    expect(replayed).toBe(true);
    expect(first.status).toBe(409);
    expect(((await first.json()) as { error: { code: string } }).error.code).toBe("wrong_instance");
    expect(response.status).toBe(201);
    expect(count(replicaDir, "control.db", "api_keys")).toBe(keysBefore);
    expect(count(primaryDir, "control.db", "api_keys")).toBe(keysBefore + 1);
  });

  it("lets the admin read their own write: it waits for the replica to catch up, or replays", async () => {
    const write = await viaFly(replica, `/api/tenants/${tenantId}/keys`, {
      method: "POST",
      cookie: admin.cookie,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "read your writes" }),
    });
    expect(write.response.status).toBe(201);
    const session = admin.cookie
      .split("; ")
      .filter((c) => !c.startsWith("bitb_pos="))
      .join("; ");
    const cookie = `${session}; ${positionCookie(write.response)}`;
    const listed = async (res: Response) =>
      ((await res.json()) as { keys: { name: string }[] }).keys.map((k) => k.name);

    // Not replicated within REPLICA_CATCH_UP_MS: the read is replayed on the primary.
    const stale = await viaFly(replica, `/api/tenants/${tenantId}/keys`, { cookie });
    expect(stale.replayed).toBe(true);
    expect(await listed(stale.response)).toContain("read your writes");

    // Replicated while the read waits: the replica answers it, with the write.
    const started = Date.now();
    setTimeout(() => void replicate(), 400);
    const fresh = await viaFly(replica, `/api/tenants/${tenantId}/keys`, { cookie });
    expect(fresh.replayed).toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    expect(await listed(fresh.response)).toContain("read your writes");

    // Without the cookie a read is served at once from whatever the replica has.
    const plain = await viaFly(replica, `/api/tenants/${tenantId}/keys`, { cookie: session });
    expect(plain.replayed).toBe(false);
  });

  it("answers asks itself and forwards their usage, audit and conversation once", async () => {
    const messagesBefore = count(primaryDir, tenantFile(), "messages");
    const auditBefore = count(primaryDir, tenantFile(), "audit_log WHERE kind = 'ask'");
    const replicaMessages = count(replicaDir, tenantFile(), "messages");

    const asked = await askJson(
      replica,
      { query: "When does the keeper light the lamp?" },
      bearer(secret),
    );
    expect(asked.status).toBe(200);
    expect(asked.body.answer).toMatch(/dusk/i);
    expect(asked.body.messageId).toBeGreaterThanOrEqual(PROVISIONAL_ID_BASE);
    expect(count(replicaDir, tenantFile(), "messages")).toBe(replicaMessages);

    await waitFor(async () => (outboxPending() === 0 ? true : undefined), {
      what: "the outbox forwarded",
    });
    expect(count(primaryDir, tenantFile(), "messages")).toBe(messagesBefore + 2);
    expect(count(primaryDir, tenantFile(), "audit_log WHERE kind = 'ask'")).toBe(auditBefore + 1);
    const usage = query<{ asks: number }>(
      primaryDir,
      tenantFile(),
      "SELECT sum(asks) AS asks FROM usage_daily",
    );
    expect(usage.asks).toBeGreaterThanOrEqual(1);

    // The same batch sent again (a lost acknowledgement) is applied zero more times.
    const entries = (
      new Database(path.join(replicaLocal, "outbox.db"), { readonly: true })
        .prepare("SELECT key, tenant_id, kind, payload, created_at FROM entries")
        .all() as {
        key: string;
        tenant_id: string;
        kind: string;
        payload: string;
        created_at: number;
      }[]
    ).map((e) => ({
      key: e.key,
      tenantId: e.tenant_id,
      kind: e.kind,
      payload: JSON.parse(e.payload) as unknown,
      createdAt: e.created_at,
    }));
    expect(entries.length).toBeGreaterThanOrEqual(2);
    const { createHmac } = await import("node:crypto");
    const outboxSecret = query<{ value: string }>(
      primaryDir,
      "control.db",
      "SELECT value FROM meta WHERE key = 'secret:replication-outbox'",
    ).value;
    const body = JSON.stringify({ entries });
    const t = Date.now();
    const mac = createHmac("sha256", outboxSecret).update(`${t}.${body}`).digest("hex");
    const resent = await fetch(`${primary.url}/api/internal/outbox`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-bitb-outbox-signature": `t=${t},v1=${mac}`,
      },
      body,
    });
    expect(resent.status).toBe(200);
    const result = (await resent.json()) as { applied: number; duplicates: number };
    expect(result.applied).toBe(0);
    expect(result.duplicates).toBe(entries.length);
    expect(count(primaryDir, tenantFile(), "messages")).toBe(messagesBefore + 2);

    // A batch without the right signature is refused.
    const forged = await fetch(`${primary.url}/api/internal/outbox`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-bitb-outbox-signature": `t=${t},v1=${"0".repeat(64)}`,
      },
      body,
    });
    expect(forged.status).toBe(401);
  });

  it("takes a visitor's feedback on a replica's answer to the primary", async () => {
    const key = await widgetKeyOf(admin, tenantId);
    const token = await visitorSession(replica.url, tenantId, key);
    const asked = await askJson(replica, {
      query: "Can visitors climb the tower?",
      key,
      session_token: token,
    });
    expect(asked.status).toBe(200);
    const messageId = asked.body.messageId as number;
    expect(messageId).toBeGreaterThanOrEqual(PROVISIONAL_ID_BASE);
    const rated = await fetch(`${replica.url}/api/feedback`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        tenant_id: tenantId,
        key,
        session_token: token,
        message_id: messageId,
        rating: "up",
      }),
    });
    expect(rated.status).toBe(202);
    await waitFor(
      async () => {
        const row = query<{ n: number }>(
          primaryDir,
          tenantFile(),
          "SELECT count(*) AS n FROM messages WHERE feedback = 1",
        );
        return row.n === 1 ? true : undefined;
      },
      { what: "the feedback applied on the primary" },
    );
  });

  it("answers MCP tool calls on the replica and forwards their conversation and audit", async () => {
    const messagesBefore = count(primaryDir, tenantFile(), "messages");
    const res = await fetch(`${replica.url}/api/mcp`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        ...bearer(secret),
      },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "tools/call",
        params: { name: "ask", arguments: { question: "When is the lamp lit?" } },
      }),
    });
    expect(res.status).toBe(200);
    expect(JSON.stringify(await res.json())).toMatch(/dusk/i);
    await waitFor(
      async () =>
        count(primaryDir, tenantFile(), "audit_log WHERE action = 'mcp:ask'") === 1
          ? true
          : undefined,
      { what: "the MCP call's audit entry on the primary" },
    );
    expect(count(primaryDir, tenantFile(), "messages")).toBe(messagesBefore + 2);
  });

  it("keeps answering while the primary is down, and delivers everything once it is back", async () => {
    const messagesBefore = count(primaryDir, tenantFile(), "messages");
    const port = primary.port;
    await primary.stop();
    for (let i = 0; i < 3; i++) {
      const asked = await askJson(
        replica,
        { query: `Who lights the lamp? (${i})` },
        bearer(secret),
      );
      expect(asked.status).toBe(200);
    }
    await new Promise((r) => setTimeout(r, 600));
    expect(outboxPending()).toBe(6); // three exchanges and three audit entries
    primary = await startPrimary(port);
    await waitFor(async () => (outboxPending() === 0 ? true : undefined), {
      what: "the outbox drained after the primary came back",
      timeoutMs: 60_000,
    });
    expect(count(primaryDir, tenantFile(), "messages")).toBe(messagesBefore + 6);
  });

  it("runs ingestion only on the primary; a promoted replica finishes the old primary's job", async () => {
    const res = await admin.json(`/api/tenants/${tenantId}/documents`, {
      type: "text",
      title: "Long log",
      text: Array.from(
        { length: 400 },
        (_, i) => `Entry ${i}: the keeper noted calm seas and a clear sky at watch ${i}.`,
      ).join("\n\n"),
    });
    expect(res.status).toBe(202);
    // The primary dies at once; LiteFS had shipped the job with the rest.
    await primary.stop("SIGKILL");
    await replicate();
    const jobState = (dir: string) =>
      query<{ state: string }>(
        dir,
        tenantFile(),
        "SELECT state FROM ingest_jobs ORDER BY id DESC LIMIT 1",
      ).state;
    expect(jobState(replicaDir)).not.toBe("done");
    await new Promise((r) => setTimeout(r, 2000));
    // Still a replica: the job is not touched.
    expect(jobState(replicaDir)).not.toBe("done");
    // LiteFS promotes the replica: it takes the job up once the dead primary's lease runs out.
    fs.rmSync(path.join(replicaDir, ".primary"));
    await waitFor(async () => (jobState(replicaDir) === "done" ? true : undefined), {
      what: "the job finished on the promoted replica",
      timeoutMs: 90_000,
    });
    expect(count(replicaDir, tenantFile(), "documents WHERE title = 'Long log'")).toBe(1);
  });
});
