import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { statement } from "./statements.ts";

describe("statement", () => {
  it("prepares once per handle and SQL, and keeps handles apart", () => {
    const a = new Database(":memory:");
    const b = new Database(":memory:");
    for (const db of [a, b]) db.exec("CREATE TABLE t (v INTEGER)");
    const insert = statement(a, "INSERT INTO t (v) VALUES (?)");
    expect(statement(a, "INSERT INTO t (v) VALUES (?)")).toBe(insert);
    expect(statement(b, "INSERT INTO t (v) VALUES (?)")).not.toBe(insert);
    insert.run(1);
    statement(a, "INSERT INTO t (v) VALUES (?)").run(2);
    expect(statement(a, "SELECT count(*) AS n FROM t").get()).toEqual({ n: 2 });
    expect(statement(b, "SELECT count(*) AS n FROM t").get()).toEqual({ n: 0 });
    a.close();
    b.close();
  });

  it("still works after the schema changes under a cached statement", () => {
    const db = new Database(":memory:");
    db.exec("CREATE TABLE t (v INTEGER)");
    const select = "SELECT * FROM t";
    expect(statement(db, select).all()).toEqual([]);
    db.exec("ALTER TABLE t ADD COLUMN w TEXT; INSERT INTO t VALUES (1, 'x')");
    expect(statement(db, select).all()).toEqual([{ v: 1, w: "x" }]);
    db.close();
  });
});
