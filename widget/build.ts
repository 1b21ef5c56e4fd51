// Bundles the embeddable widget into one minified IIFE, public/widget.js, which Vite copies
// into build/client so the server serves it at /widget.js. Run with `npx tsx widget/build.ts`;
// prints the raw and gzipped size. Tests call buildWidget() to check the size budget.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const here = path.dirname(fileURLToPath(import.meta.url));
export const DEFAULT_OUT_FILE = path.join(here, "..", "public", "widget.js");

export interface WidgetBuildResult {
  outFile: string;
  bytes: number;
  gzipBytes: number;
}

export async function buildWidget({
  outFile = DEFAULT_OUT_FILE,
  minify = true,
}: { outFile?: string; minify?: boolean } = {}): Promise<WidgetBuildResult> {
  await build({
    entryPoints: [path.join(here, "src", "widget.ts")],
    outfile: outFile,
    bundle: true,
    format: "iife",
    platform: "browser",
    target: "es2019",
    minify,
    // ASCII output (non-ASCII escaped) so the script reads right on pages in any charset.
    charset: "ascii",
    legalComments: "none",
    logLevel: "warning",
  });
  const code = await readFile(outFile);
  return { outFile, bytes: code.length, gzipBytes: gzipSync(code, { level: 9 }).length };
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const result = await buildWidget();
  console.log(
    `widget: ${path.relative(process.cwd(), result.outFile)} ${kb(result.bytes)} (${kb(result.gzipBytes)} gzipped)`,
  );
}
