// Prepared statements kept per database handle. better-sqlite3 compiles the SQL on every
// `db.prepare`, which on the ask path (tenant lookup, knowledge-base version, the exchange's
// writes) cost more than running the statements. A statement lives as long as its handle:
// the map is weakly keyed by the handle, so a handle the pool closes takes its statements
// with it. SQLite re-prepares a cached statement by itself after a schema change.
import type Database from "better-sqlite3";

const byHandle = new WeakMap<Database.Database, Map<string, Database.Statement>>();

/**
 * The prepared statement for `sql` on this handle, compiled on first use. Callers must not
 * change its modes (pluck, raw, expand): another caller of the same SQL gets the same object.
 */
export function statement(db: Database.Database, sql: string): Database.Statement {
  let statements = byHandle.get(db);
  if (!statements) {
    statements = new Map();
    byHandle.set(db, statements);
  }
  let prepared = statements.get(sql);
  if (!prepared) {
    prepared = db.prepare(sql);
    statements.set(sql, prepared);
  }
  return prepared;
}

type TransactionBody = (...args: never[]) => unknown;
const transactionsByHandle = new WeakMap<Database.Database, Map<string, unknown>>();

/**
 * The transaction function `name` on this handle, made on first use: better-sqlite3 builds
 * four wrappers for every `db.transaction(fn)`, which on the ask path cost more than the
 * BEGIN and COMMIT. `body` must take everything it needs as arguments (it is kept: a closure
 * over one call's values would see them on every later call).
 */
export function transactionOn<F extends TransactionBody>(
  db: Database.Database,
  name: string,
  body: F,
): Database.Transaction<F> {
  let transactions = transactionsByHandle.get(db);
  if (!transactions) {
    transactions = new Map();
    transactionsByHandle.set(db, transactions);
  }
  let transaction = transactions.get(name) as Database.Transaction<F> | undefined;
  if (!transaction) {
    transaction = db.transaction(body);
    transactions.set(name, transaction);
  }
  return transaction;
}
