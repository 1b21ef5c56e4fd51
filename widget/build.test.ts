// The widget is loaded on customers' pages, so its size is a promise: at most 15 KB gzipped.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import vm from "node:vm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildWidget, type WidgetBuildResult } from "./build.ts";
import { createWindow } from "./test/dom.ts";

const BUDGET_GZIP_BYTES = 15 * 1024;

let dir: string;
let result: WidgetBuildResult;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "bitb-widget-"));
  result = await buildWidget({ outFile: path.join(dir, "widget.js") });
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("the widget bundle", () => {
  it(`is at most ${BUDGET_GZIP_BYTES / 1024} KB gzipped`, () => {
    expect(result.gzipBytes).toBeGreaterThan(0);
    expect(result.gzipBytes).toBeLessThanOrEqual(BUDGET_GZIP_BYTES);
  });

  it("is one self-contained ASCII script that never parses HTML", async () => {
    const code = await readFile(result.outFile, "utf8");
    expect(result.bytes).toBe(Buffer.byteLength(code));
    expect(code).toMatch(/^"use strict";\(\(\)=>\{/);
    expect(code.trimEnd()).toMatch(/\}\)\(\);$/);
    expect(code).not.toMatch(/\bimport\b|\brequire\(/);
    expect([...code].every((char) => char.charCodeAt(0) < 128)).toBe(true);
    expect(code).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(/);
  });

  it("defines no global but window.BiTB when it runs on a page", async () => {
    const code = await readFile(result.outFile, "utf8");
    const win = createWindow(
      `<!doctype html><html><head></head><body>
        <script src="https://bitb.example/widget.js" data-tenant="trial" async></script>
      </body></html>`,
    );
    const windowKeys = Object.keys(win);
    const context = vm.createContext({ window: win, document: win.document, console, URL, Event });
    const globals = Object.keys(context);
    vm.runInContext(code, context);
    expect(Object.keys(context)).toEqual(globals);
    expect(Object.keys(win).filter((key) => !windowKeys.includes(key))).toEqual(["BiTB"]);
    expect(win.document.querySelector("bitb-widget")?.shadowRoot).toBeTruthy();
  });
});
