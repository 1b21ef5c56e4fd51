import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { TenantPool } from "#tenants/store.ts";
import { FakeEmbedder } from "../../../tests/support/fake-embedder.ts";
import { openControlDb, insertTenant, type ControlDb } from "../control-db.server.ts";
import { controlDatabaseOk, pipelineHealth, providerHealth, readiness } from "./health.server.ts";
import { createExtractiveAnswerer } from "../llm/extractive.server.ts";
import { newTenantId } from "#tenants/id.ts";
import { updateTenantModel, tenantSettingsSchema } from "../tenancy/settings.server.ts";

let dir: string;
let control: ControlDb;
let tenants: TenantPool;
const embedder = new FakeEmbedder();
const queue = { activeJobs: 0 } as unknown as Parameters<typeof pipelineHealth>[0]["queue"];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-health-"));
  control = openControlDb(dir);
  tenants = new TenantPool(dir, { model: embedder.model, dimension: embedder.dimension }, 2);
});
afterEach(() => {
  tenants.closeAll();
  if (control.open) control.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("pipeline health", () => {
  it("is ok when every part answers, and starting before the runtime is ready", async () => {
    const runtime = {
      answerer: createExtractiveAnswerer(),
      embedder,
      control,
      tenants,
      queue,
      ready: true,
    };
    const health = await pipelineHealth(runtime, 1_000_000);
    expect(health).toMatchObject({
      status: "ok",
      providers: [{ provider: "extractive", breaker: "none" }],
      embedder: { model: embedder.model, ok: true },
      databases: { control: true, openTenantHandles: 0 },
      ingestion: { activeJobs: 0 },
    });
    expect((await pipelineHealth({ ...runtime, ready: false }, 1_000_001)).status).toBe("starting");
  });

  it("is degraded when the embedder fails, the database is closed or a breaker is open", async () => {
    const failing = new FakeEmbedder({ model: "fake:failing" });
    failing.failNext(1);
    const open = {
      ...createExtractiveAnswerer(),
      name: "openai",
      model: "m",
      health: () => ({
        provider: "openai",
        model: "m",
        breaker: "open" as const,
        recentFailureRate: 1,
        recentCalls: 9,
        inFlight: 0,
        queued: 0,
      }),
    };
    const runtime = { answerer: open, embedder: failing, control, tenants, queue, ready: true };
    const health = await pipelineHealth(runtime, 2_000_000);
    expect(health.status).toBe("degraded");
    expect(health.embedder.ok).toBe(false);
    expect(health.embedder.error).toMatch(/unavailable/);
    expect(providerHealth(open).breaker).toBe("open");
    control.close();
    expect(controlDatabaseOk(runtime)).toBe(false);
  });
});

describe("tenant settings", () => {
  it("validates and stores the model override", () => {
    const tenant = insertTenant(control, { id: newTenantId(), name: "A" });
    expect(tenantSettingsSchema.parse({ llm_model: " qwen2.5:7b " })).toEqual({
      llm_model: "qwen2.5:7b",
    });
    expect(tenantSettingsSchema.parse({ llm_model: "" })).toEqual({ llm_model: null });
    expect(tenantSettingsSchema.parse({ llm_model: null })).toEqual({ llm_model: null });
    expect(tenantSettingsSchema.safeParse({}).success).toBe(false);
    expect(tenantSettingsSchema.parse({ widget: { color: "#112233" } })).toEqual({
      widget: { color: "#112233" },
    });
    expect(tenantSettingsSchema.safeParse({ llm_model: "x; rm -rf" }).success).toBe(false);
    expect(tenantSettingsSchema.safeParse({ llm_model: "m", extra: 1 }).success).toBe(false);
    expect(updateTenantModel({ control }, tenant, "org/model-1").llmModel).toBe("org/model-1");
    expect(updateTenantModel({ control }, tenant, null).llmModel).toBeNull();
  });
});

describe("readiness", () => {
  it("says why it is not ready, and is ready with a failed demo load reported", () => {
    const base = { control, tenants, startedAt: 0 };
    expect(readiness({ ...base, ready: false, startup: {} }, 2_000)).toEqual({
      ready: false,
      reason: "starting",
      uptimeSeconds: 2,
    });
    const loading = readiness(
      { ...base, ready: false, startup: { demo: { state: "loading", queued: 40, failed: 0 } } },
      90_000,
    );
    expect(loading.ready).toBe(false);
    expect(loading.reason).toMatch(/^loading the demo tenant/);
    const failed = { state: "failed" as const, queued: 40, failed: 3, error: "README.md: boom" };
    expect(readiness({ ...base, ready: true, startup: { demo: failed } }, 150_000)).toEqual({
      ready: true,
      uptimeSeconds: 150,
      demo: failed,
    });
    control.close();
    expect(readiness({ ...base, ready: true, startup: {} }).reason).toBe(
      "the control database does not answer",
    );
  });
});
