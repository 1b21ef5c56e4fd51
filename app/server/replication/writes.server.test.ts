import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadHistory } from "#tenants/conversations.ts";
import { readPosition } from "#tenants/replication.ts";
import { applyOutboxBatch, signBatch, verifyBatch, outboxSecret } from "./apply.server.ts";
import {
  replicationFixture,
  type ReplicationFixture,
} from "../../../tests/support/replication-fixture.ts";
import {
  appendAuditEntries,
  conversationHistory,
  isProvisionalId,
  recordAskExchange,
  recordFeedback,
  withHeldUsage,
} from "./writes.server.ts";

let f: ReplicationFixture;
beforeEach(() => {
  f = replicationFixture();
});
afterEach(() => f.close());

const exchange = (conversationId: string, question: string) => ({
  conversationId,
  question,
  answer: `An answer to ${question}`,
  citations: [],
  provider: "extractive:v1",
  promptTokens: 3,
  completionTokens: 4,
  latencyMs: 12,
  abstained: false,
});
const count = (table: string) =>
  (f.tenants.get(f.tenant.id).prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number })
    .n;

describe("ask writes on the primary", () => {
  it("go straight into the tenant's database", () => {
    const id = recordAskExchange(f, f.tenant, exchange("cv_primary01", "Hello?"));
    expect(isProvisionalId(id)).toBe(false);
    appendAuditEntries(f, f.tenant, [
      {
        kind: "ask",
        actor: "cv_primary01",
        action: "ask",
        outcome: "answered",
        questionSha256: "00",
        latencyMs: 1,
        promptTokens: 1,
        completionTokens: 1,
      },
    ]);
    expect(count("messages")).toBe(2);
    expect(count("audit_log")).toBe(1);
    expect(
      recordFeedback(f, f.tenant, { conversationId: "cv_primary01", messageId: id, rating: 1 }),
    ).toBe("rated");
    expect(
      recordFeedback(f, f.tenant, { conversationId: "cv_other0001", messageId: id, rating: 1 }),
    ).toBe("not_found");
    expect(f.outbox.pendingCount()).toBe(0);
    const quota = { usedTokens: 10, periodStart: 0 };
    expect(withHeldUsage(f, f.tenant, quota)).toBe(quota);
  });

  it("without replication parts (tests of the ask path alone) also write directly", () => {
    const id = recordAskExchange({ tenants: f.tenants }, f.tenant, exchange("cv_plain0001", "Hi"));
    expect(id).toBeGreaterThan(0);
    expect(conversationHistory({ tenants: f.tenants }, f.tenant, "cv_plain0001", 3)).toHaveLength(
      2,
    );
  });
});

describe("ask writes on a replica", () => {
  it("go to the outbox with provisional ids; the primary applies them once", () => {
    f.setReplica(true);
    const first = recordAskExchange(f, f.tenant, exchange("cv_replica01", "First?"));
    expect(isProvisionalId(first)).toBe(true);
    expect(Number.isSafeInteger(first)).toBe(true);
    // The follow-up sees the first exchange although the database has not got it.
    recordAskExchange(f, f.tenant, exchange("cv_replica01", "And then?"));
    expect(count("messages")).toBe(0);
    const history = conversationHistory(f, f.tenant, "cv_replica01", 1);
    expect(history.map((t) => t.content)).toEqual(["And then?", "An answer to And then?"]);
    expect(
      recordFeedback(f, f.tenant, { conversationId: "cv_replica01", messageId: first, rating: -1 }),
    ).toBe("queued");
    appendAuditEntries(f, f.tenant, [
      {
        kind: "ask",
        actor: "cv_replica01",
        action: "ask",
        outcome: "answered",
        questionSha256: null,
        latencyMs: 2,
        promptTokens: 0,
        completionTokens: 0,
      },
    ]);
    const quota = { usedTokens: 10, periodStart: 0 };
    expect(withHeldUsage(f, f.tenant, quota).usedTokens).toBe(10 + 2 * 7);
    const entries = f.outbox.pending(100);
    expect(entries.map((e) => e.kind)).toEqual(["exchange", "exchange", "feedback", "audit"]);

    // The primary (this same folder, as LiteFS would have it) applies the batch.
    f.setReplica(false);
    const applied = applyOutboxBatch(f, { entries });
    expect(applied).toMatchObject({ applied: 4, duplicates: 0, dropped: 0 });
    expect(applied.acknowledged).toHaveLength(4);
    expect(count("messages")).toBe(4);
    expect(count("audit_log")).toBe(1);
    const rated = f.tenants
      .get(f.tenant.id)
      .prepare("SELECT content FROM messages WHERE feedback = -1")
      .all() as { content: string }[];
    expect(rated.map((r) => r.content)).toEqual(["An answer to First?"]);
    // Sent again: nothing more.
    expect(applyOutboxBatch(f, { entries })).toMatchObject({ applied: 0, duplicates: 4 });
    expect(count("messages")).toBe(4);
    // History no longer doubles what the outbox still holds.
    f.outbox.acknowledge(applied.acknowledged);
    expect(loadHistory(f.tenants.get(f.tenant.id), "cv_replica01", 5)).toHaveLength(4);
    expect(conversationHistory(f, f.tenant, "cv_replica01", 5)).toHaveLength(4);
  });

  it("drops entries of unknown tenants and malformed entries, acknowledging them", () => {
    const result = applyOutboxBatch(f, {
      entries: [
        {
          key: "x:1",
          tenantId: "tn_00000000000000000000000000000000",
          kind: "exchange",
          payload: {},
          createdAt: 1,
        },
        { key: "x:2", tenantId: "../etc", kind: "exchange", payload: {}, createdAt: 1 },
        {
          key: "x:3",
          tenantId: f.tenant.id,
          kind: "exchange",
          payload: { question: 1 },
          createdAt: 1,
        },
      ],
    });
    expect(result).toMatchObject({ applied: 0, dropped: 3 });
    expect(result.acknowledged).toEqual(["x:1", "x:2", "x:3"]);
  });
});

describe("batch signatures", () => {
  it("accept the right secret and reject wrong, stale or malformed ones", () => {
    const secret = outboxSecret(f.control);
    const now = Date.now();
    const header = signBatch(secret, "{}", now);
    expect(verifyBatch(secret, "{}", header, now)).toBe(true);
    expect(verifyBatch(secret, "{ }", header, now)).toBe(false);
    expect(verifyBatch("other", "{}", header, now)).toBe(false);
    expect(verifyBatch(secret, "{}", header, now + 10 * 60 * 1000)).toBe(false);
    expect(verifyBatch(secret, "{}", null, now)).toBe(false);
    expect(verifyBatch(secret, "{}", "t=1,v1=zz", now)).toBe(false);
  });

  it("the write position starts at zero", () => {
    expect(readPosition(f.tenants.get(f.tenant.id))).toBe(0);
  });
});
