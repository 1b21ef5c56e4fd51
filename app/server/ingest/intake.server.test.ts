import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { getJob } from "#tenants/knowledge-base.ts";
import { newTenantId, type TenantId } from "#tenants/id.ts";
import { TenantPool } from "#tenants/store.ts";
import { FakeEmbedder } from "../../../tests/support/fake-embedder.ts";
import { parseConfig } from "../config.server.ts";
import { openControlDb, tenantsWithPendingJobs, type ControlDb } from "../control-db.server.ts";
import { ApiError } from "../errors.server.ts";
import { silentLogger } from "../logger.server.ts";
import { createTenant, requireTenant, tenantDb } from "../tenancy/tenants.server.ts";
import { IngestQueue } from "./queue.server.ts";
import {
  cleanFileName,
  fileExtension,
  intakeFile,
  intakeFormFiles,
  intakeText,
  intakeUrl,
  isSupportedFile,
  normaliseUrl,
} from "./intake.server.ts";

const embedder = new FakeEmbedder();
let dir: string;
let control: ControlDb;
let runtime: {
  control: ControlDb;
  tenants: TenantPool;
  config: ReturnType<typeof parseConfig>;
  queue: IngestQueue;
};

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-intake-"));
  control = openControlDb(dir);
  const tenants = new TenantPool(dir, { model: embedder.model, dimension: embedder.dimension }, 8);
  runtime = {
    control,
    tenants,
    config: parseConfig({ DATA_DIR: dir, MAX_UPLOAD_BYTES: "2048" }),
    queue: new IngestQueue({
      openTenant: (id: TenantId) => tenants.get(id),
      tenantsWithPendingJobs: () => tenantsWithPendingJobs(control),
      embedder,
      logger: silentLogger,
      concurrency: 1,
      leaseMs: 5000,
      pollMs: 50,
      retryBaseMs: 10,
      chunking: { maxTokens: 200, overlapTokens: 20 },
      fetchTimeoutMs: 1000,
      maxFetchBytes: 2048,
    }),
  };
});
afterEach(() => {
  runtime.tenants.closeAll();
  control.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const apiErrorOf = (fn: () => unknown): ApiError => {
  try {
    fn();
  } catch (error) {
    if (error instanceof ApiError) return error;
  }
  throw new Error("expected an ApiError");
};

describe("tenants", () => {
  it("creates a registered tenant with its database file", () => {
    const tenant = createTenant(runtime, { name: "Acme" });
    expect(fs.existsSync(path.join(dir, `${tenant.id}.db`))).toBe(true);
    expect(requireTenant(runtime, tenant.id)).toEqual(tenant);
    expect(tenantDb(runtime, tenant).open).toBe(true);
  });

  it("fails closed on invalid, unknown and duplicate ids", () => {
    for (const id of ["../x", newTenantId(), 42, undefined]) {
      expect(apiErrorOf(() => requireTenant(runtime, id)).status).toBe(404);
    }
    const tenant = createTenant(runtime, { name: "A" });
    expect(apiErrorOf(() => createTenant(runtime, { name: "B", id: tenant.id })).status).toBe(409);
    expect(
      apiErrorOf(() => createTenant(runtime, { name: "C", id: "bad" as TenantId })).status,
    ).toBe(400);
  });
});

describe("intake", () => {
  it("cleans file names so they never carry a path", () => {
    expect(cleanFileName("../../etc/passwd")).toBe("passwd");
    expect(cleanFileName("C:\\Users\\x\\report.pdf")).toBe("report.pdf");
    expect(cleanFileName("a\u0000b\u001f.md")).toBe("ab.md");
    expect(cleanFileName("..")).toBe("untitled");
    expect(cleanFileName("")).toBe("untitled");
    expect(cleanFileName(`${"x".repeat(300)}.md`).length).toBe(200);
    expect(fileExtension("A.PDF")).toBe(".pdf");
    expect(fileExtension("noext")).toBe("");
    expect(isSupportedFile("notes.md")).toBe(true);
    expect(isSupportedFile("tool.exe")).toBe(false);
    expect(isSupportedFile("constructor")).toBe(false);
  });

  it("queues files, text and URLs and flags the tenant as having pending jobs", () => {
    const tenant = createTenant(runtime, { name: "Acme" });
    const fileJob = intakeFile(runtime, tenant, {
      name: "dir/guide.md",
      type: "text/markdown",
      bytes: new TextEncoder().encode("# Guide\n\nHello."),
    });
    const textJob = intakeText(runtime, tenant, { title: "Note", text: "Hello there." });
    const urlJob = intakeUrl(runtime, tenant, { url: "https://example.com/a#frag" });
    const db = tenantDb(runtime, tenant);
    expect(getJob(db, fileJob)).toMatchObject({ sourceKey: "file:guide.md", title: "guide.md" });
    expect(getJob(db, textJob)).toMatchObject({ sourceKey: "text:Note", state: "queued" });
    expect(getJob(db, urlJob)).toMatchObject({
      sourceKey: "url:https://example.com/a",
      url: "https://example.com/a",
    });
    expect(tenantsWithPendingJobs(control)).toEqual([tenant.id]);
    expect(normaliseUrl("http://x.example/p?q=1#h")).toBe("http://x.example/p?q=1");
  });

  it("refuses unsupported, empty and oversized files", async () => {
    const tenant = createTenant(runtime, { name: "Acme" });
    const bytes = (n: number) => new Uint8Array(n).fill(65);
    expect(
      apiErrorOf(() => intakeFile(runtime, tenant, { name: "x.exe", type: "", bytes: bytes(3) }))
        .status,
    ).toBe(415);
    expect(
      apiErrorOf(() => intakeFile(runtime, tenant, { name: "x.md", type: "", bytes: bytes(0) }))
        .status,
    ).toBe(400);
    expect(
      apiErrorOf(() => intakeFile(runtime, tenant, { name: "x.md", type: "", bytes: bytes(4096) }))
        .status,
    ).toBe(413);

    await expect(intakeFormFiles(runtime, tenant, [])).rejects.toMatchObject({ status: 400 });
    await expect(
      intakeFormFiles(runtime, tenant, [new File(["a"], "ok.md"), new File(["b"], "bad.exe")]),
    ).rejects.toMatchObject({ status: 415 });
    await expect(
      intakeFormFiles(runtime, tenant, [new File([bytes(4096)], "big.md")]),
    ).rejects.toMatchObject({ status: 413 });
    const ids = await intakeFormFiles(runtime, tenant, [
      new File(["# A"], "a.md"),
      new File(["b"], "b.txt", { type: "text/plain" }),
    ]);
    expect(ids).toHaveLength(2);
  });
});
