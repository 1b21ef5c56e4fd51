import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { fixtureFacts, writeFixtures } from "./make-fixtures.ts";

const committed = fileURLToPath(new URL("../tests/fixtures/", import.meta.url));

describe("make-fixtures", () => {
  it("reproduces the committed fixtures byte for byte", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-fixtures-"));
    try {
      for (const file of writeFixtures(dir)) {
        const name = path.basename(file);
        expect(
          fs.readFileSync(file).equals(fs.readFileSync(path.join(committed, name))),
          `${name} is stale: run npx tsx scripts/make-fixtures.ts`,
        ).toBe(true);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("lists one distinct fact per fixture in the README", () => {
    const readme = fs.readFileSync(path.join(committed, "README.md"), "utf8");
    expect(new Set(fixtureFacts.map((f) => f.fact)).size).toBe(fixtureFacts.length);
    const rows = readme
      .split("\n")
      .filter((line) => line.startsWith("| `"))
      .map((line) => line.split("|").map((cell) => cell.trim()));
    expect(rows.map((cells) => cells.slice(1, 5))).toEqual(
      fixtureFacts.map((f) => [`\`${f.file}\``, f.question, f.fact, f.answer]),
    );
  });
});
