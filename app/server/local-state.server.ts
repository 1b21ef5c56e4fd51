// Host-local state files (the rate limiter's `limits.db`, a replica's `outbox.db`): small
// SQLite files in RATE_LIMIT_STATE_DIR, shared by the server processes of one host and never
// on a replicated mount. Opened the same way everywhere: WAL, a busy timeout for the other
// processes, and the durability each file needs.
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";

export function openLocalStateDb(
  dir: string,
  file: string,
  synchronous: "OFF" | "FULL",
): Database.Database {
  fs.mkdirSync(dir, { recursive: true });
  const db = new Database(path.join(dir, file));
  db.pragma("journal_mode = WAL");
  db.pragma(`synchronous = ${synchronous}`);
  db.pragma("busy_timeout = 5000");
  return db;
}
