// How long a visitor waits for the chat launcher: from the moment the page's parser reaches
// the widget's <script> tag to the launcher being laid out on screen, over N page loads in
// headless Chromium (/usr/bin/chromium). The widget (loader and bundle) and the tenant's
// settings come from the REAL built server (node server.js) on loopback; the customer's page
// from another loopback origin, as on a customer's site.
//   cold = a fresh browser profile each time (loader, bundle and settings all fetched);
//   warm = reloads in one profile (the immutable bundle from the HTTP cache, the settings
//          from sessionStorage, the loader revalidated or cached for its max-age).
// Also prints the bytes transferred (encoded, with headers) and, for the cold loads, when
// each request of the chain started and ended, relative to the script tag (median).
// Local loopback, so this measures the widget's own cost, not the network's.
//
//   npm run build && npm run bench:widget -- [--loads 30]
import http from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import { chromium, type Page, type Request } from "playwright-core";
import { openControlDb } from "#app/server/control-db.server.ts";
import { getWidgetKey, setAllowedOrigins } from "#app/server/access/keys.server.ts";
import { isTenantId } from "#tenants/id.ts";
import { cli } from "../../tests/support/cli.ts";
import { startServer, tempDataDir } from "../../tests/support/server.ts";
import { machineLine, ms, percentile } from "./support.ts";

const { values } = parseArgs({
  options: { loads: { type: "string", default: "30" } },
  allowPositionals: true,
});
const loads = Math.max(2, Number(values.loads) || 30);

console.log(machineLine());
const dataDir = tempDataDir();
const tenantId = (await cli(dataDir, ["tenant:create", "--name", "Bench"])).stdout.trim();
if (!isTenantId(tenantId)) throw new Error(`tenant:create printed ${tenantId}`);

// The customer's page, on its own loopback origin: the widget only shows on a site the tenant
// allows, with the tenant's publishable key (set before the server starts, as an admin would).
let page = "";
const host = http.createServer((_req, res) => {
  res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(page);
});
await new Promise<void>((resolve) => host.listen(0, "127.0.0.1", resolve));
const pageUrl = `http://127.0.0.1:${(host.address() as AddressInfo).port}/`;
const control = openControlDb(dataDir);
const widgetKey = getWidgetKey(control, tenantId);
setAllowedOrigins(control, tenantId, [new URL(pageUrl).origin]);
control.close();

const server = await startServer({ dataDir, env: { LOG_LEVEL: "warn" } });

// The page records when the parser reaches the tag, then watches for the launcher each frame,
// and keeps the resource timings (start and end are exposed cross-origin) of the chain.
page = `<!doctype html><html><head><meta charset="utf-8"><title>Bench</title></head><body>
<h1>Customer page</h1>
<script>
  const t0 = performance.now();
  (function watch() {
    const launcher = document.querySelector("bitb-widget")?.shadowRoot?.querySelector(".launcher");
    if (launcher && launcher.getBoundingClientRect().width > 0) {
      const chain = {};
      for (const entry of performance.getEntriesByType("resource")) {
        const name = new URL(entry.name).pathname.replace(/bitb\\.[0-9a-f]+\\.js/, "bundle");
        chain[name] = [entry.startTime - t0, entry.responseEnd - t0];
      }
      document.documentElement.dataset.chain = JSON.stringify(chain);
      document.documentElement.dataset.launcherMs = String(performance.now() - t0);
    } else requestAnimationFrame(watch);
  })();
</script>
<script src="${server.url}/widget.js" data-tenant="${tenantId}" data-key="${widgetKey}" async></script>
</body></html>`;
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
});

interface Load {
  launcherMs: number;
  chain: Record<string, [number, number]>;
  bytes: number;
}

/** Loads (or reloads) the page and waits for the launcher; counts the widget's bytes. */
async function load(target: Page, navigate: () => Promise<unknown>): Promise<Load> {
  let bytes = 0;
  const pending: Promise<void>[] = [];
  const onFinished = (request: Request) => {
    if (!request.url().startsWith(server.url)) return;
    pending.push(
      request.sizes().then(
        (sizes) => {
          bytes += sizes.responseBodySize + sizes.responseHeadersSize;
        },
        () => {},
      ),
    );
  };
  target.on("requestfinished", onFinished);
  await navigate();
  const handle = await target.waitForFunction(
    () => document.documentElement.dataset.launcherMs,
    null,
    { timeout: 10_000 },
  );
  const launcherMs = Number(await handle.jsonValue());
  const chain = JSON.parse(
    (await target.evaluate(() => document.documentElement.dataset.chain)) ?? "{}",
  ) as Record<string, [number, number]>;
  await Promise.all(pending);
  target.off("requestfinished", onFinished);
  return { launcherMs, chain, bytes };
}

try {
  const cold: Load[] = [];
  for (let i = 0; i < loads; i++) {
    const context = await browser.newContext();
    const target = await context.newPage();
    cold.push(await load(target, () => target.goto(pageUrl)));
    await context.close();
  }
  const warm: Load[] = [];
  const context = await browser.newContext();
  const target = await context.newPage();
  await load(target, () => target.goto(pageUrl));
  for (let i = 0; i < loads; i++) warm.push(await load(target, () => target.reload()));
  await context.close();

  for (const [name, runs] of [
    ["cold", cold],
    ["warm", warm],
  ] as const) {
    const times = runs.map((r) => r.launcherMs);
    console.log(
      `script tag → launcher visible, ${name} (${runs.length} loads): ` +
        `p50 ${ms(percentile(times, 50))}, p95 ${ms(percentile(times, 95))}; ` +
        `${(
          percentile(
            runs.map((r) => r.bytes),
            50,
          ) / 1024
        ).toFixed(1)} KB transferred ` +
        "from the server (median, bodies as sent + headers)",
    );
  }
  const names = [...new Set(cold.flatMap((r) => Object.keys(r.chain)))];
  for (const name of names) {
    const spans = cold.map((r) => r.chain[name]).filter((s): s is [number, number] => !!s);
    console.log(
      `  cold ${name.padEnd(28)} starts ${ms(
        percentile(
          spans.map((s) => s[0]),
          50,
        ),
      )}, ` +
        `ends ${ms(
          percentile(
            spans.map((s) => s[1]),
            50,
          ),
        )} after the tag (median)`,
    );
  }
  console.log(machineLine());
} finally {
  await browser.close();
  await new Promise((resolve) => host.close(resolve));
  await server.stop();
}
