// The demo tenant: created on the first start and loaded with this project's own README and
// docs, so a fresh install has a knowledge base to ask. A file is queued again only when its
// content changed since it was last loaded.
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { DEMO_TENANT_ID, type TenantId } from "#tenants/id.ts";
import { getMeta, getTenant, setMeta } from "../control-db.server.ts";
import { DEMO_PLAN } from "../limits/quota.server.ts";
import type { Runtime } from "../runtime/runtime.server.ts";
import { createTenant, enqueueIngest } from "./tenants.server.ts";

export { DEMO_TENANT_ID };

/** The documents of the demo tenant: this project's README and docs. */
export function demoDocumentFiles(root = process.cwd()): string[] {
  const files = ["README.md"];
  const docs = path.join(root, "docs");
  if (fs.existsSync(docs)) {
    for (const entry of fs.readdirSync(docs, { recursive: true, withFileTypes: true })) {
      if (entry.isFile() && entry.name.endsWith(".md")) {
        files.push(path.relative(root, path.join(entry.parentPath, entry.name)));
      }
    }
  }
  return files.filter((f) => fs.existsSync(path.join(root, f))).sort();
}

/** Creates the demo tenant on first start and queues any of its files that changed. */
export function seedDemoTenant(
  runtime: Pick<Runtime, "control" | "tenants" | "config" | "queue">,
  root = process.cwd(),
): number {
  const id = DEMO_TENANT_ID as TenantId;
  if (!getTenant(runtime.control, id)) {
    createTenant(runtime, { id, name: "BiTB demo", plan: DEMO_PLAN });
  }
  let queued = 0;
  for (const file of demoDocumentFiles(root)) {
    const bytes = fs.readFileSync(path.join(root, file));
    const hash = createHash("sha256").update(bytes).digest("hex");
    const key = `demo-file:${file}`;
    if (getMeta(runtime.control, key) === hash) continue;
    enqueueIngest(runtime, id, {
      sourceType: "file",
      title: file,
      fileName: file,
      payload: new Uint8Array(bytes),
    });
    setMeta(runtime.control, key, hash);
    queued++;
  }
  return queued;
}
