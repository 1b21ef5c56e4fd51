// How long a visitor waits for the chat launcher: from the moment the page's parser reaches
// the widget's <script> tag to the launcher being laid out on screen, over N page loads in
// headless Chromium (/usr/bin/chromium). The widget and a fake API (with the tenant's
// settings) are served from one local origin, the page from another, as on a customer's
// site. "cold" = a fresh browser profile each time (loader, bundle and settings all fetched);
// "warm" = reloads in one profile: settings from sessionStorage (the fake serves the scripts
// with no-store, so they are fetched again — the real server's immutable bundle would not be).
// Local loopback, so this measures the widget's own cost, not the network's.
//
//   npx tsx scripts/bench/widget-load.ts [loads=30]
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { chromium, type Page } from "playwright-core";
import { buildWidget } from "../../widget/build.ts";
import { startFakeAskServer, streamAnswer } from "../../widget/test/fake-ask-server.ts";

const loads = Math.max(2, Number(process.argv[2] ?? 30) || 30);
const dir = await mkdtemp(path.join(os.tmpdir(), "bitb-widget-bench-"));
const built = await buildWidget({ outDir: dir });
const api = await startFakeAskServer(streamAnswer({ answer: "Hi.", citations: [] }));
api.files.set("/widget.js", ["text/javascript", await readFile(built.loader.file)]);
for (const name of await readdir(path.join(dir, "widget"))) {
  if (name.endsWith(".js")) {
    api.files.set(`/widget/${name}`, [
      "text/javascript",
      await readFile(path.join(dir, "widget", name)),
    ]);
  }
}
api.settings.set("bench", { title: "Bench", starterQuestions: ["Hello?"], voiceGreeting: false });

// The page records when the parser reaches the tag, then watches for the launcher each frame.
const page = `<!doctype html><html><head><meta charset="utf-8"><title>Bench</title></head><body>
<h1>Customer page</h1>
<script>
  const t0 = performance.now();
  (function watch() {
    const launcher = document.querySelector("bitb-widget")?.shadowRoot?.querySelector(".launcher");
    if (launcher && launcher.getBoundingClientRect().width > 0) {
      document.documentElement.dataset.launcherMs = String(performance.now() - t0);
    } else requestAnimationFrame(watch);
  })();
</script>
<script src="${api.origin}/widget.js" data-tenant="bench" async></script>
</body></html>`;
const host = http.createServer((_req, res) => {
  res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(page);
});
await new Promise<void>((resolve) => host.listen(0, "127.0.0.1", resolve));
const pageUrl = `http://127.0.0.1:${(host.address() as AddressInfo).port}/`;

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
});

async function measure(target: Page): Promise<number> {
  const handle = await target.waitForFunction(
    () => document.documentElement.dataset.launcherMs,
    null,
    { timeout: 10_000 },
  );
  return Number(await handle.jsonValue());
}

const cold: number[] = [];
for (let i = 0; i < loads; i++) {
  const context = await browser.newContext();
  const target = await context.newPage();
  await target.goto(pageUrl);
  cold.push(await measure(target));
  await context.close();
}

const warm: number[] = [];
const context = await browser.newContext();
const target = await context.newPage();
await target.goto(pageUrl);
await measure(target);
for (let i = 0; i < loads; i++) {
  await target.reload();
  warm.push(await measure(target));
}
await context.close();
await browser.close();
await new Promise((resolve) => host.close(resolve));
await api.close();
await rm(dir, { recursive: true, force: true });

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
console.log(
  `widget: loader ${kb(built.loader.gzipBytes)} + bundle ${kb(built.bundle.gzipBytes)} gzipped ` +
    `(first load ${kb(built.firstLoadGzipBytes)}), batch add-on ${kb(built.batch.gzipBytes)}`,
);
for (const [name, values] of [
  ["cold", cold],
  ["warm", warm],
] as const) {
  console.log(
    `script tag → launcher visible, ${name} (${values.length} loads): ` +
      `p50 ${percentile(values, 50).toFixed(1)} ms, p95 ${percentile(values, 95).toFixed(1)} ms`,
  );
}
