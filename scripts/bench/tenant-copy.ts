// Tenant copy benchmark: how long an export (VACUUM INTO, which blocks the event loop for the
// whole file), an import (SQLite's backup API) and an erasure take for tenants of 1k / 10k /
// 50k chunks with 512-dim vectors, and how big the file is. Vectors are random (their
// content does not change copy cost); texts are ~60 words.
//
//   npm run bench:tenant-copy -- [--sizes 1000,10000,50000]
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { newTenantId } from "#tenants/id.ts";
import { replaceDocument } from "#tenants/knowledge-base.ts";
import { installTenantCopy, removeTenantFiles, writeTenantCopy } from "#tenants/portable.ts";
import { openTenantDb } from "#tenants/store.ts";

const { values } = parseArgs({
  options: { sizes: { type: "string", default: "1000,10000,50000" } },
});
const sizes = values.sizes.split(",").map(Number);
const spec = { model: "bench:random", dimension: 512 };
const words = "policy request review customer team approve confirm detail section paragraph".split(
  " ",
);

function text(i: number): string {
  const out: string[] = [];
  for (let w = 0; w < 60; w++) out.push(words[(i * 7 + w * 3) % words.length] as string);
  return `${out.join(" ")} ${i}.`;
}

function vector(): Float32Array {
  const v = new Float32Array(spec.dimension);
  for (let i = 0; i < v.length; i++) v[i] = Math.random() - 0.5;
  return v;
}

const ms = (start: number) => (performance.now() - start).toFixed(0);
const root = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-bench-copy-"));
try {
  console.log("chunks\tfile MB\texport ms\timport ms\terase ms");
  for (const size of sizes) {
    const dataDir = path.join(root, `src-${size}`);
    const id = newTenantId();
    const db = openTenantDb(dataDir, id, spec, { create: true });
    const perDoc = 100;
    for (let d = 0; d * perDoc < size; d++) {
      const count = Math.min(perDoc, size - d * perDoc);
      replaceDocument(db, {
        sourceKey: `bench:${d}`,
        sourceType: "text",
        title: `Bench document ${d}`,
        contentHash: `${size}-${d}`,
        bytes: count * 400,
        chunks: Array.from({ length: count }, (_, i) => ({
          ord: i,
          headingPath: "",
          text: text(d * perDoc + i),
          tokenCount: 60,
          embedding: vector(),
        })),
      });
    }
    const file = path.join(root, `export-${size}.db`);
    let started = performance.now();
    const bytes = writeTenantCopy(db, file, { id, name: "bench" });
    const exportMs = ms(started);
    db.close();
    const target = path.join(root, `dst-${size}`);
    started = performance.now();
    await installTenantCopy(file, target, id);
    const importMs = ms(started);
    started = performance.now();
    removeTenantFiles(target, id);
    const eraseMs = ms(started);
    console.log(
      `${size}\t${(bytes / 1024 / 1024).toFixed(1)}\t${exportMs}\t${importMs}\t${eraseMs}`,
    );
  }
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
