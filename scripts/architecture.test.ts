import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { findCycles, importsOf, layoutViolations, type ImportEdge } from "./architecture.ts";

const root = path.resolve(import.meta.dirname, "..");

describe("the layout", () => {
  it("holds: no cycle, core files import no folder, only entry points build the runtime", () => {
    expect(layoutViolations(root)).toEqual([]);
  });
});

describe("the layout rules", () => {
  const edge = (from: string, to: string, typeOnly = false): ImportEdge => ({ from, to, typeOnly });

  it("finds a cycle of type imports", () => {
    const edges = [
      edge("app/server/a/one.server.ts", "app/server/b/two.server.ts", true),
      edge("app/server/b/two.server.ts", "app/server/a/one.server.ts"),
      edge("app/server/b/two.server.ts", "app/server/config.server.ts"),
    ];
    expect(findCycles(edges)).toEqual([
      ["app/server/a/one.server.ts", "app/server/b/two.server.ts"],
    ]);
  });

  it("flags each broken boundary", () => {
    const problems = layoutViolations(root, [
      edge("app/server/errors.server.ts", "app/server/ask/ask.server.ts", true),
      edge("app/server/ask/ask.server.ts", "app/server/runtime/build.server.ts"),
      edge("app/routes/admin.tenant.tsx", "tenants/knowledge-base.ts"),
      edge("app/routes/admin.tenant.tsx", "tenants/store.ts", true),
      edge("app/server/retrieval/retrieve.server.ts", "app/server/ask/answer-cache.server.ts"),
      edge("app/server/embeddings/local.server.ts", "app/server/retrieval/types.server.ts"),
      edge("app/server/trial/trial.server.ts", "app/admin/forms.tsx"),
      edge("app/server/widget-config/style.server.ts", "widget/src/settings.ts"),
      edge("app/server/replication/fixture.server.ts", "tests/support/fake-embedder.ts"),
      // Allowed: tests build the runtime; benchmarks drive the test harness.
      edge("app/server/ask/ask.server.test.ts", "app/server/runtime/build.server.ts"),
      edge("scripts/bench/load.ts", "tests/support/server.ts"),
    ]);
    expect(problems).toEqual([
      "core file imports a folder: app/server/errors.server.ts → app/server/ask/ask.server.ts",
      "server module imports the runtime's builder: app/server/ask/ask.server.ts",
      "UI module imports a value from a module that is not .server: app/routes/admin.tenant.tsx → tenants/knowledge-base.ts",
      "layer imports upwards: app/server/retrieval/retrieve.server.ts → app/server/ask/answer-cache.server.ts",
      "layer imports upwards: app/server/embeddings/local.server.ts → app/server/retrieval/types.server.ts",
      "server imports UI code: app/server/trial/trial.server.ts → app/admin/forms.tsx",
      "server imports the widget's code: app/server/widget-config/style.server.ts → widget/src/settings.ts",
      "product code imports tests: app/server/replication/fixture.server.ts → tests/support/fake-embedder.ts",
    ]);
  });

  describe("reading imports", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-architecture-"));
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("resolves relative and #app/#tenants imports, tells type-only ones, skips packages", () => {
      fs.mkdirSync(path.join(dir, "app/server/ask"), { recursive: true });
      fs.writeFileSync(
        path.join(dir, "app/server/ask/x.server.ts"),
        [
          'import { z } from "zod";',
          'import type { Config } from "../config.server.ts";',
          'import { type Logger, silentLogger } from "#app/server/logger.server.ts";',
          'import { type TenantId } from "#tenants/id.ts";',
          'export { metrics } from "../metrics.server.ts";',
          'const later = () => import("../retrieval/retrieve.server.ts");',
          'type Db = import("#tenants/store.ts").TenantDb;',
        ].join("\n"),
      );
      expect(importsOf(dir, "app/server/ask/x.server.ts")).toEqual([
        { from: "app/server/ask/x.server.ts", to: "app/server/config.server.ts", typeOnly: true },
        { from: "app/server/ask/x.server.ts", to: "app/server/logger.server.ts", typeOnly: false },
        { from: "app/server/ask/x.server.ts", to: "tenants/id.ts", typeOnly: true },
        { from: "app/server/ask/x.server.ts", to: "app/server/metrics.server.ts", typeOnly: false },
        {
          from: "app/server/ask/x.server.ts",
          to: "app/server/retrieval/retrieve.server.ts",
          typeOnly: false,
        },
        { from: "app/server/ask/x.server.ts", to: "tenants/store.ts", typeOnly: true },
      ]);
    });
  });
});
