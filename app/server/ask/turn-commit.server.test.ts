import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { TenantId } from "#tenants/id.ts";
import type { TenantDb } from "#tenants/store.ts";
import { MAX_BATCH, MAX_DELAY_MS, TurnCommit } from "./turn-commit.server.ts";

const tenant = "tn_0123456789abcdef0123456789abcdef" as TenantId;
let db: Database.Database;
let commits: number;

beforeEach(() => {
  db = new Database(":memory:");
  db.exec("CREATE TABLE answers (n INTEGER NOT NULL CHECK (n >= 0))");
  commits = 0;
});
afterEach(() => {
  vi.restoreAllMocks();
  if (db.open) db.close();
});

function turnCommit() {
  return new TurnCommit(() => {
    commits += 1;
    return db as TenantDb;
  });
}

const write = (n: number) => () => db.prepare("INSERT INTO answers (n) VALUES (?)").run(n).changes;
const count = () => (db.prepare("SELECT count(*) AS n FROM answers").get() as { n: number }).n;

describe("group commit of the lane's writes", () => {
  it("commits the asks of one turn together, and tells each its own result after the commit", async () => {
    const group = turnCommit();
    const asks = [1, 2, 3].map((n) => group.run(tenant, write(n)));
    expect(count()).toBe(0);
    expect(await Promise.all(asks)).toEqual([1, 1, 1]);
    expect(commits).toBe(1);
    expect(count()).toBe(3);
  });

  it("undoes only the ask that failed", async () => {
    const group = turnCommit();
    const [good, bad, alsoGood] = [
      group.run(tenant, write(1)),
      group.run(tenant, write(-1)),
      group.run(tenant, write(2)),
    ];
    await expect(bad).rejects.toThrow(/CHECK constraint/);
    expect(await Promise.all([good, alsoGood])).toEqual([1, 1]);
    expect(count()).toBe(2);
  });

  it("fails every ask of a batch whose database cannot be written", async () => {
    const group = turnCommit();
    db.close();
    const asks = [group.run(tenant, write(1)), group.run(tenant, write(2))];
    for (const ask of asks) await expect(ask).rejects.toThrow(/not open/);
  });

  it("does not wait for the turn once a batch is full", async () => {
    vi.spyOn(performance, "now").mockReturnValue(1000);
    const group = turnCommit();
    const asks = Array.from({ length: MAX_BATCH }, (_, n) => group.run(tenant, write(n)));
    // The last run committed the batch synchronously.
    expect(count()).toBe(MAX_BATCH);
    await Promise.all(asks);
    expect(commits).toBe(1);
  });

  it("does not wait for the turn once the first ask has waited long enough", async () => {
    const now = vi.spyOn(performance, "now").mockReturnValue(1000);
    const group = turnCommit();
    const first = group.run(tenant, write(1));
    now.mockReturnValue(1000 + MAX_DELAY_MS);
    const second = group.run(tenant, write(2));
    expect(count()).toBe(2);
    expect(await Promise.all([first, second])).toEqual([1, 1]);
    expect(commits).toBe(1);
  });
});
