// Builds what the server publishes for the embeddable widget, into public/ (which Vite copies
// into build/client):
//   widget.js                 the tiny loader customers embed; cached for minutes
//   widget/bitb.<hash>.js     the widget itself, one minified IIFE named by its content hash,
//                             so it is cached for a year (plus .br and .gz, pre-compressed)
//   widget/bitb.<hash>.js     the action UI (forms for bookings, hand-offs…), a second
//                             content-hashed IIFE the widget fetches on the first action offer
//                             (docs/decisions/028); its name is built into the widget
//   widget-batch.js           the optional multi-question add-on (plus .br and .gz)
// Run with `npx tsx widget/build.ts`; prints the sizes. Tests call buildWidget() to check the
// size budget: the loader and the bundle together, gzipped, are what a visitor downloads
// before their first question.
import { createHash } from "node:crypto";
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { build, type BuildOptions } from "esbuild";

const here = path.dirname(fileURLToPath(import.meta.url));
export const DEFAULT_OUT_DIR = path.join(here, "..", "public");

export interface BuiltFile {
  file: string;
  bytes: number;
  gzipBytes: number;
}

export interface WidgetBuildResult {
  loader: BuiltFile;
  bundle: BuiltFile;
  /** The action UI, fetched only when an answer offers an action. */
  actions: BuiltFile;
  batch: BuiltFile;
  /** Loader plus bundle, gzipped: what a visitor downloads before asking. */
  firstLoadGzipBytes: number;
}

const common: BuildOptions = {
  bundle: true,
  format: "iife",
  platform: "browser",
  target: "es2019",
  // ASCII output (non-ASCII escaped) so the scripts read right on pages in any charset.
  charset: "ascii",
  legalComments: "none",
  logLevel: "warning",
  write: false,
};

async function bundleOf(entry: string, options: BuildOptions = {}): Promise<Buffer> {
  const result = await build({
    ...common,
    ...options,
    entryPoints: [path.join(here, "src", entry)],
  });
  return Buffer.from(result.outputFiles![0]!.contents);
}

async function emit(file: string, code: Buffer, compressed: boolean): Promise<BuiltFile> {
  const gzip = gzipSync(code, { level: 9 });
  await writeFile(file, code);
  if (compressed) {
    await writeFile(`${file}.gz`, gzip);
    await writeFile(
      `${file}.br`,
      brotliCompressSync(code, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
    );
  }
  return { file, bytes: code.length, gzipBytes: gzip.length };
}

export async function buildWidget({
  outDir = DEFAULT_OUT_DIR,
  minify = true,
}: { outDir?: string; minify?: boolean } = {}): Promise<WidgetBuildResult> {
  const hashed = (code: Buffer) =>
    `bitb.${createHash("sha256").update(code).digest("hex").slice(0, 10)}.js`;
  const actionsCode = await bundleOf("actions-chunk.ts", { minify });
  const actionsName = hashed(actionsCode);
  const bundleCode = await bundleOf("widget.ts", {
    minify,
    define: { __BITB_ACTIONS__: JSON.stringify(`widget/${actionsName}`) },
  });
  const bundleName = hashed(bundleCode);
  const bundleDir = path.join(outDir, "widget");
  await mkdir(bundleDir, { recursive: true });
  // Earlier versions go: the loader only ever points at this bundle, and it at these actions.
  for (const old of await readdir(bundleDir)) {
    if (
      /^bitb\.[0-9a-f]+\.js(\.br|\.gz)?$/.test(old) &&
      !old.startsWith(bundleName) &&
      !old.startsWith(actionsName)
    ) {
      await rm(path.join(bundleDir, old));
    }
  }
  const bundle = await emit(path.join(bundleDir, bundleName), bundleCode, true);
  const actions = await emit(path.join(bundleDir, actionsName), actionsCode, true);
  const loaderCode = await bundleOf("loader.ts", {
    minify,
    define: { __BITB_BUNDLE__: JSON.stringify(`widget/${bundleName}`) },
  });
  const loader = await emit(path.join(outDir, "widget.js"), loaderCode, true);
  const batch = await emit(
    path.join(outDir, "widget-batch.js"),
    await bundleOf("batch.ts", { minify }),
    true,
  );
  return {
    loader,
    bundle,
    actions,
    batch,
    firstLoadGzipBytes: loader.gzipBytes + bundle.gzipBytes,
  };
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const result = await buildWidget();
  for (const { file, bytes, gzipBytes } of [
    result.loader,
    result.bundle,
    result.actions,
    result.batch,
  ]) {
    console.log(
      `widget: ${path.relative(process.cwd(), file)} ${bytes} B (${gzipBytes} B gzipped)`,
    );
  }
  console.log(`widget: first load ${kb(result.firstLoadGzipBytes)} gzipped (budget 15 KB)`);
}
