// This machine's role under LiteFS, read from the mount (DATA_DIR): on a replica LiteFS shows
// a `.primary` file holding the primary's hostname; on the primary, or without LiteFS, there
// is none. Read once at start-up for now: a replica does not run start-up writes, ingestion or
// backups. (Following a change of role while running belongs to the replica-safe writes work.)
import fs from "node:fs";
import path from "node:path";

export const PRIMARY_FILE = ".primary";

/** The primary's hostname when this machine is a LiteFS replica, else undefined. */
export function litefsPrimary(dataDir: string): string | undefined {
  try {
    return fs.readFileSync(path.join(dataDir, PRIMARY_FILE), "utf8").trim() || "unknown";
  } catch {
    return undefined;
  }
}

export function isLiteFsReplica(dataDir: string): boolean {
  return litefsPrimary(dataDir) !== undefined;
}
