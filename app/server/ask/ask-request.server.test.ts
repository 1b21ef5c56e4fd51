import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { listAudit } from "#tenants/audit.ts";
import { FakeEmbedder } from "../../../tests/support/fake-embedder.ts";
import { parseConfig } from "../config.server.ts";
import type { TenantRecord } from "../control-db.server.ts";
import { ApiError } from "../errors.server.ts";
import { createSecretKey, getWidgetKey, setAllowedOrigins } from "../access/keys.server.ts";
import { closeLimiters } from "../limits/limits.server.ts";
import { setTenantQuota } from "../limits/quota.server.ts";
import { silentLogger } from "../logger.server.ts";
import { closeRuntime, createRuntime } from "../runtime/build.server.ts";
import type { Runtime } from "../runtime/runtime.server.ts";
import { createTenant } from "../tenancy/tenants.server.ts";
import { issueVisitorSession, sessionSecret } from "../access/visitor-session.server.ts";
import {
  admitAsk,
  askAuditor,
  askSchema,
  assertBatchAllowed,
  identifyCaller,
  mayOfferActions,
} from "./ask-request.server.ts";

const SITE = "https://shop.example.com";
let dir: string;
let runtime: Runtime;
let tenant: TenantRecord;

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-ask-request-"));
  runtime = await createRuntime({
    config: parseConfig({ DATA_DIR: dir, DEMO_TENANT: "false", RATE_LIMIT_IP_PER_MINUTE: "0" }),
    logger: silentLogger,
    embedder: new FakeEmbedder({ dimension: 16 }),
  });
  tenant = createTenant(runtime, { name: "Shop" });
  setAllowedOrigins(runtime.control, tenant.id, [SITE]);
});

afterEach(async () => {
  await closeRuntime(runtime);
  closeLimiters();
  fs.rmSync(dir, { recursive: true, force: true });
});

const request = (headers: Record<string, string>) =>
  new Request("http://localhost/api/ask", { method: "POST", headers });

function refusal(run: () => unknown): { code: string; status: number } {
  try {
    run();
  } catch (error) {
    if (error instanceof ApiError) return { code: error.code, status: error.status };
    throw error;
  }
  throw new Error("not refused");
}

describe("the ask's body", () => {
  it("is one question or a batch, within the server's limits", () => {
    const schema = askSchema(runtime.config);
    expect(askSchema(runtime.config)).toBe(schema);
    expect(schema.parse({ tenant_id: "t", query: "  Hi?  " }).query).toBe("Hi?");
    expect(() => schema.parse({ tenant_id: "t" })).toThrow(/Ask a question/);
    expect(() => schema.parse({ tenant_id: "t", query: "a", queries: ["b"] })).toThrow(/not both/);
    const batch = schema.parse({ tenant_id: "t", queries: ["a", "b"] });
    expect(() => assertBatchAllowed({ BATCH_ENABLED: false }, batch)).toThrow(/switched off/);
    expect(() => assertBatchAllowed({ BATCH_ENABLED: true }, batch)).not.toThrow();
  });
});

describe("who is asking", () => {
  it("a widget visitor: allowed origin, the tenant's key and a session naming the conversation", () => {
    const key = getWidgetKey(runtime.control, tenant.id);
    const { token, session } = issueVisitorSession(sessionSecret(runtime.control), tenant.id, 600);
    const body = { tenant_id: tenant.id, query: "Hi", key, session_token: token };
    const caller = identifyCaller(runtime, request({ origin: SITE }), body);
    expect(caller).toMatchObject({
      conversationId: session.conversationId,
      actor: session.conversationId,
      viaKey: false,
    });
    expect(caller.cors["Access-Control-Allow-Origin"]).toBe(SITE);
    expect(mayOfferActions(caller)).toBe(true);

    expect(
      refusal(() =>
        identifyCaller(runtime, request({ origin: SITE }), { ...body, session_id: "abcdefgh" }),
      ),
    ).toEqual({ code: "bad_request", status: 400 });
    expect(
      refusal(() => identifyCaller(runtime, request({ origin: SITE }), { ...body, key: "pk_x" })),
    ).toEqual({ code: "forbidden", status: 403 });
    expect(
      refusal(() => identifyCaller(runtime, request({ origin: "https://evil.example" }), body)),
    ).toEqual({ code: "forbidden", status: 403 });
  });

  it("a server with a secret key, which may name its conversation but not mix in a widget key", () => {
    const { secret, key } = createSecretKey(runtime.control, {
      tenantId: tenant.id,
      name: "backend",
      createdBy: "test",
    });
    const auth = request({ authorization: `Bearer ${secret}` });
    const caller = identifyCaller(runtime, auth, {
      tenant_id: tenant.id,
      query: "Hi",
      session_id: "my-conversation",
    });
    expect(caller).toMatchObject({
      conversationId: "my-conversation",
      actor: `key:${key.id}`,
      viaKey: true,
    });
    expect(mayOfferActions(caller)).toBe(false);
    expect(
      refusal(() => identifyCaller(runtime, auth, { tenant_id: tenant.id, query: "Hi", key: "k" })),
    ).toEqual({ code: "bad_request", status: 400 });
  });
});

describe("admission", () => {
  it("refuses an ask over the tenant's quota with 429, and audits the refusal", () => {
    const { secret } = createSecretKey(runtime.control, {
      tenantId: tenant.id,
      name: "backend",
      createdBy: "test",
    });
    const auth = request({ authorization: `Bearer ${secret}` });
    const caller = identifyCaller(runtime, auth, { tenant_id: tenant.id, query: "Hi" });
    const audit = askAuditor(runtime, caller, ["Hi"], false);
    expect(() => admitAsk(runtime, auth, undefined, caller, audit)).not.toThrow();
    setTenantQuota(runtime.control, tenant.id, { tokenBudget: 0, trialEndsAt: null });
    expect(refusal(() => admitAsk(runtime, auth, undefined, caller, audit))).toEqual({
      code: "quota_exceeded",
      status: 429,
    });
    const [entry] = listAudit(runtime.tenants.get(tenant.id), { limit: 1, kind: "ask" });
    expect(entry).toMatchObject({ outcome: "quota_exceeded", cacheHit: false });
  });
});
