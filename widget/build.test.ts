// The widget is loaded on customers' pages, so its size is a promise: the loader and the
// bundle a visitor downloads before their first question are at most 15 KB gzipped.
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import vm from "node:vm";
import { gunzipSync, brotliDecompressSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildWidget, type WidgetBuildResult } from "./build.ts";
import { createWindow } from "./test/dom.ts";

const BUDGET_GZIP_BYTES = 15 * 1024;

let dir: string;
let result: WidgetBuildResult;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "bitb-widget-"));
  result = await buildWidget({ outDir: dir });
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("the widget build", () => {
  it(`downloads at most ${BUDGET_GZIP_BYTES / 1024} KB gzipped before the first question`, () => {
    expect(result.bundle.gzipBytes).toBeGreaterThan(0);
    expect(result.firstLoadGzipBytes).toBe(result.loader.gzipBytes + result.bundle.gzipBytes);
    expect(result.firstLoadGzipBytes).toBeLessThanOrEqual(BUDGET_GZIP_BYTES);
    // The loader is tiny; the add-on and the action UI (fetched on the first offer) stay small.
    expect(result.loader.bytes).toBeLessThan(1024);
    expect(result.batch.gzipBytes).toBeLessThan(4 * 1024);
    expect(result.actions.gzipBytes).toBeLessThan(6 * 1024);
  });

  it("names the bundle by its content, pre-compresses it, and the loader points at it", async () => {
    const name = path.basename(result.bundle.file);
    const actions = path.basename(result.actions.file);
    expect(name).toMatch(/^bitb\.[0-9a-f]{10}\.js$/);
    expect(actions).toMatch(/^bitb\.[0-9a-f]{10}\.js$/);
    expect((await readdir(path.join(dir, "widget"))).sort()).toEqual(
      [name, `${name}.br`, `${name}.gz`, actions, `${actions}.br`, `${actions}.gz`].sort(),
    );
    // The widget knows where its action UI is.
    expect(await readFile(result.bundle.file, "utf8")).toContain(`"widget/${actions}"`);
    const code = await readFile(result.bundle.file);
    expect(gunzipSync(await readFile(`${result.bundle.file}.gz`))).toEqual(code);
    expect(brotliDecompressSync(await readFile(`${result.bundle.file}.br`))).toEqual(code);
    expect(await readFile(result.loader.file, "utf8")).toContain(`"widget/${name}"`);

    // Building the same sources again gives the same name; older bundles are removed.
    const again = await buildWidget({ outDir: dir });
    expect(again.bundle.file).toBe(result.bundle.file);
  });

  it("is self-contained ASCII script that never parses HTML", async () => {
    for (const built of [result.loader, result.bundle, result.actions, result.batch]) {
      const code = await readFile(built.file, "utf8");
      expect(built.bytes).toBe(Buffer.byteLength(code));
      expect(code).toMatch(/^"use strict";\(\(\)=>\{/);
      expect(code.trimEnd()).toMatch(/\}\)\(\);$/);
      expect(code).not.toMatch(/\bimport\b|\brequire\(/);
      expect([...code].every((char) => char.charCodeAt(0) < 128)).toBe(true);
      expect(code).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(/);
    }
  });

  it("the loader adds the bundle with the embed tag's data-* attributes, and no global", async () => {
    const code = await readFile(result.loader.file, "utf8");
    const win = createWindow(
      `<!doctype html><html><head></head><body>
        <script src="https://bitb.example/widget.js" data-tenant="trial" data-key="pk_test" data-title="Hi" id="x"></script>
      </body></html>`,
    );
    const loader = win.document.querySelector("script")!;
    Object.defineProperty(win.document, "currentScript", { value: loader });
    // The loader asks for the tenant's settings while the bundle downloads.
    const requested: Array<[string, RequestInit]> = [];
    const settings = Promise.resolve(new Response("{}"));
    const fetch = (url: string, init: RequestInit) => {
      requested.push([url, init]);
      return settings;
    };
    const context = vm.createContext({ window: win, document: win.document, console, URL, fetch });
    const globals = Object.keys(context);
    vm.runInContext(code, context);
    expect(Object.keys(context)).toEqual(globals);
    expect(requested).toEqual([
      ["https://bitb.example/api/widget/trial/config?key=pk_test", { credentials: "omit" }],
    ]);
    const added = win.document.head.querySelector("script")!;
    expect((added as HTMLScriptElement & { bitbSettings?: unknown }).bitbSettings).toBe(settings);
    expect(added.getAttribute("src")).toBe(
      `https://bitb.example/widget/${path.basename(result.bundle.file)}`,
    );
    expect(added.getAttribute("data-tenant")).toBe("trial");
    expect(added.getAttribute("data-title")).toBe("Hi");
    expect(added.hasAttribute("id")).toBe(false);
  });

  it("the bundle defines no global but window.BiTB when it runs on a page", async () => {
    const code = await readFile(result.bundle.file, "utf8");
    const win = createWindow(
      `<!doctype html><html><head></head><body>
        <script src="https://bitb.example/widget/bitb.0.js" data-tenant="trial" data-key="pk_test" async></script>
      </body></html>`,
    );
    const windowKeys = Object.keys(win);
    // No network here: the settings request fails and the widget keeps its defaults.
    const fetch = () => Promise.reject(new TypeError("offline"));
    const ready = new Promise((resolve) => win.addEventListener("bitb:ready", resolve));
    const context = vm.createContext({
      window: win,
      document: win.document,
      console,
      URL,
      Event,
      fetch,
      AbortController,
      setTimeout,
      clearTimeout,
    });
    const globals = Object.keys(context);
    vm.runInContext(code, context);
    await ready;
    expect(Object.keys(context)).toEqual(globals);
    expect(Object.keys(win).filter((key) => !windowKeys.includes(key))).toEqual(["BiTB"]);
    expect(win.document.querySelector("bitb-widget")?.shadowRoot).toBeTruthy();
  });

  it("the action UI hands its mount function to its own script element, and no global", async () => {
    const code = await readFile(result.actions.file, "utf8");
    const win = createWindow();
    const script = win.document.createElement("script") as HTMLScriptElement & {
      bitbActions?: unknown;
    };
    Object.defineProperty(win.document, "currentScript", { value: script });
    const context = vm.createContext({ window: win, document: win.document, console });
    const globals = Object.keys(context);
    vm.runInContext(code, context);
    expect(Object.keys(context)).toEqual(globals);
    expect(typeof script.bitbActions).toBe("function");
  });
});
