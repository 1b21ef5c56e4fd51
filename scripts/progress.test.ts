import { describe, expect, it } from "vitest";
import { createProgress } from "./progress.ts";

function capture(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, stream: { isTTY, columns: 100, write: (text: string) => writes.push(text) } };
}

describe("progress of a long CLI job", () => {
  it("redraws one bar in place on a terminal, and ends it with a summary line", () => {
    let now = 0;
    const { writes, stream } = capture(true);
    const progress = createProgress({ unit: "files", total: 4, stream, now: () => now });
    progress.update(1, 0, "a.md (embedding)");
    now = 50;
    progress.update(2, 0); // within the redraw interval: not drawn
    now = 200;
    progress.update(3, 1, "d.pdf (chunking)");
    now = 210;
    progress.update(4, 1); // the last one is always drawn
    now = 1500;
    progress.finish();
    expect(writes).toHaveLength(4);
    expect(writes[0]).toBe(
      "\r\x1b[2K[######------------------]  25% 1/4 files · 0.0 s · a.md (embedding)",
    );
    expect(writes[1]?.startsWith("\r\x1b[2K")).toBe(true);
    expect(writes[1]).toMatch(/\[#{18}-{6}\] {2}75% 3\/4 files, 1 failed · 0\.2 s · d\.pdf/);
    expect(writes[2]).toMatch(/\[#{24}\] 100% 4\/4 files, 1 failed/);
    expect(writes[3]).toBe("\r\x1b[2K4/4 files, 1 failed in 1.5 s\n");
    expect(writes.slice(0, 3).every((w) => !w.includes("\n"))).toBe(true);
  });

  it("writes a plain line at most every interval elsewhere, and always the last", () => {
    let now = 0;
    const { writes, stream } = capture(false);
    const progress = createProgress({
      unit: "tenants",
      total: 3,
      stream,
      intervalMs: 1000,
      now: () => now,
    });
    progress.update(1, 0, "tn_a");
    now = 500;
    progress.update(2, 0, "tn_b");
    now = 1200;
    progress.update(3, 0);
    progress.finish();
    expect(writes).toEqual([
      "progress: 1/3 tenants (33%) after 0.0 s; at tn_a\n",
      "progress: 3/3 tenants (100%) after 1.2 s\n",
      "finished: 3/3 tenants in 1.2 s\n",
    ]);
  });
});
