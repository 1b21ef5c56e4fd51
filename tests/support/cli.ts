// Runs the operator CLI (scripts/cli.ts) against a data folder, as an operator would.
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, "../..");

export async function cli(
  dataDir: string,
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 120_000,
): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, ["--import", "tsx", "scripts/cli.ts", ...args], {
    cwd: root,
    // ENV_FILE="": a developer's own .env in the checkout stays out of the tests.
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATA_DIR: dataDir,
      ENV_FILE: "",
      ...env,
    },
    timeout: timeoutMs,
    maxBuffer: 64 * 1024 * 1024,
  });
}

export const ADMIN = { email: "admin@example.com", password: "a long test passphrase" };

export async function createAdmin(dataDir: string): Promise<void> {
  await cli(dataDir, ["admin:create", "--email", ADMIN.email, "--password", ADMIN.password]);
}
