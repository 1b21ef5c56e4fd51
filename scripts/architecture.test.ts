import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  findCycles,
  hasSqlLiteral,
  importsOf,
  layoutViolations,
  type ImportEdge,
} from "./architecture.ts";

const root = path.resolve(import.meta.dirname, "..");

describe("the layout", () => {
  it("holds: no cycle, core files import no folder, only entry points build the runtime, no SQL in app/ outside the allowed files", () => {
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

  describe("SQL outside tenants/", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-architecture-sql-"));
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
    const write = (file: string, text: string) => {
      fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      fs.writeFileSync(path.join(dir, file), text);
    };

    it("flags a tenant query in app/, in a string or a template, but not in comments or tests", () => {
      write(
        "app/server/kb-check/count.server.ts",
        'export const count = (db) => db.prepare("SELECT count(*) FROM chunks").get();',
      );
      write(
        "app/routes/signup.tsx",
        "const sql = (key) => `UPDATE meta SET value = 1 WHERE key = '${key}'`;",
      );
      write("app/server/ask/note.server.ts", "// SELECT * FROM chunks: not here\nexport {};");
      write("app/server/ask/note.server.test.ts", 'db.prepare("DELETE FROM chunks").run();');
      write("tenants/search.ts", 'export const sql = "SELECT 1 FROM chunks";');
      write("app/server/control-db.server.ts", 'export const sql = "INSERT INTO meta VALUES (1)";');
      const problems = layoutViolations(dir, []);
      expect(problems.filter((line) => line.startsWith("SQL in app/"))).toEqual([
        "SQL in app/ (tenant data access lives in tenants/): app/routes/signup.tsx",
        "SQL in app/ (tenant data access lives in tenants/): app/server/kb-check/count.server.ts",
      ]);
      // An allowed file that holds no SQL (here: missing) is to be dropped from the list.
      expect(problems).toContain(
        "allowed to hold SQL but holds none (drop it from SQL_ALLOWED): app/server/access/keys.server.ts",
      );
      expect(problems.join("\n")).not.toContain("app/server/control-db.server.ts");
    });

    it("reads statements in literals only: not a word in prose, not a comment", () => {
      expect(hasSqlLiteral("a.ts", 'const tags = ["SELECT", "INPUT"];')).toBe(true);
      expect(hasSqlLiteral("a.ts", 'const words = "select what you need";')).toBe(false);
      expect(hasSqlLiteral("a.ts", "/* DELETE FROM chunks */ const x = 1;")).toBe(false);
    });
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
