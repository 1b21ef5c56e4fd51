import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { listAudit } from "#tenants/audit.ts";
import { replaceDocument } from "#tenants/knowledge-base.ts";
import { FakeEmbedder } from "../../../tests/support/fake-embedder.ts";
import { parseConfig } from "../config.server.ts";
import { checkOverview, decide, startCheck } from "./api.server.ts";
import { silentLogger } from "../logger.server.ts";
import { closeRuntime, createRuntime } from "../runtime/build.server.ts";
import type { Runtime } from "../runtime/runtime.server.ts";
import { createTenant } from "../tenancy/tenants.server.ts";

let dir: string;
let runtime: Runtime | undefined;

afterEach(async () => {
  if (runtime) await closeRuntime(runtime);
  runtime = undefined;
  fs.rmSync(dir, { recursive: true, force: true });
});

const embedder = new FakeEmbedder({ dimension: 16 });
const actor = { email: "admin@example.com" };

describe("the Check tab's server side", () => {
  it("starts checks, shows the last report while one runs, and audits decisions", async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-kbcheck-api-"));
    runtime = await createRuntime({
      config: parseConfig({ DATA_DIR: dir, DEMO_TENANT: "false" }),
      logger: silentLogger,
      embedder,
    });
    const rt = runtime;
    const tenant = createTenant(rt, { name: "Shop" });
    expect(checkOverview(rt, tenant)).toEqual({ check: null, lastReport: null, suggestions: [] });
    replaceDocument(rt.tenants.get(tenant.id), {
      sourceKey: "text:hours",
      sourceType: "text",
      title: "Opening hours",
      contentHash: "h",
      bytes: 1,
      chunks: [
        "Our opening hours are 9 to 5 on weekdays.",
        "Book an appointment online or by phone.",
      ].map((text, ord) => ({
        ord,
        headingPath: "Opening hours",
        text,
        tokenCount: 9,
        embedding: embedder.vector(text),
      })),
    });

    const finished = await startCheck(rt, tenant, actor, true);
    expect(finished.state).toBe("done");
    const running = await startCheck(rt, tenant, actor, false);
    expect(running).toMatchObject({ state: "running", trigger: "manual" });
    const during = checkOverview(rt, tenant);
    expect(during.check?.id).toBe(running.id);
    expect(during.lastReport?.id).toBe(finished.id);
    await vi.waitFor(() => expect(checkOverview(rt, tenant).check?.state).toBe("done"));

    const [booking] = checkOverview(rt, tenant).suggestions;
    expect(booking?.action).toBe("book_appointment");
    const result = decide(rt, tenant, actor, booking!.id, "accept");
    expect(result.suggestion.outcome).toBe("enabled");
    const actions = listAudit(rt.tenants.get(tenant.id), { limit: 10 }).map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(["kb_check.run", "suggestion.accept"]));
  });
});
