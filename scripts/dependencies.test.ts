// The production dependencies are the ones the product imports: an unused one only adds to
// the image and its audit (decision 046: @react-router/serve brought express 4 for nothing).
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const root = path.resolve(import.meta.dirname, "..");
const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as {
  dependencies: Record<string, string>;
};
const SKIPPED = new Set(["node_modules", "build", "dist", ".react-router", "coverage"]);

function sources(dir: string, found: string[] = []): string[] {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (SKIPPED.has(entry.name)) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) sources(full, found);
    else if (/\.(ts|tsx|js|mjs)$/.test(entry.name)) found.push(full);
  }
  return found;
}

/** Package names imported (statically, dynamically, or resolved) by the product's files. */
function importedPackages(): Set<string> {
  const files = [
    ...["app", "tenants", "widget", "scripts"].flatMap((dir) => sources(path.join(root, dir))),
    ...["server.js", "vite.config.ts", "react-router.config.ts"].map((f) => path.join(root, f)),
  ].filter((file) => !/\.test\.tsx?$/.test(file));
  const names = new Set<string>();
  const specifier =
    /(?:from\s+|import\s*\(\s*|import\s+|require(?:\.resolve)?\(\s*)["']([^"'.#/][^"']*)["']/g;
  for (const file of files) {
    for (const match of fs.readFileSync(file, "utf8").matchAll(specifier)) {
      const spec = match[1] as string;
      names.add(spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]!);
    }
  }
  return names;
}

describe("production dependencies", () => {
  it("are all imported by the product", () => {
    const used = importedPackages();
    expect(Object.keys(pkg.dependencies).filter((name) => !used.has(name))).toEqual([]);
  });
});
