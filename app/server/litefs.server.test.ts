import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { isLiteFsReplica, litefsPrimary } from "./litefs.server.ts";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-litefs-"));
afterEach(() => fs.rmSync(path.join(dir, ".primary"), { force: true }));

describe("LiteFS role", () => {
  it("is primary (or standalone) without a .primary file", () => {
    expect(isLiteFsReplica(dir)).toBe(false);
    expect(litefsPrimary(path.join(dir, "missing"))).toBeUndefined();
  });

  it("is a replica when LiteFS names the primary", () => {
    fs.writeFileSync(path.join(dir, ".primary"), "e784e9e1c1d2e8\n");
    expect(litefsPrimary(dir)).toBe("e784e9e1c1d2e8");
    expect(isLiteFsReplica(dir)).toBe(true);
  });
});
