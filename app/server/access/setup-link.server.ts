// The first admin's setup link: printed once in the server's log while no admin exists, so
// the operator of a fresh install can create one from the browser (or with the CLI).
import { countAdmins, createSetupToken } from "../control-db.server.ts";
import { DELIVERS_SETUP_LINK } from "../logger.server.ts";
import type { Runtime } from "../runtime/runtime.server.ts";

const SETUP_TOKEN_TTL_MS = 24 * 60 * 60 * 1000;

export function printSetupLinkIfNoAdmin(
  runtime: Pick<Runtime, "control" | "config" | "logger">,
): void {
  if (countAdmins(runtime.control) > 0) return;
  const token = createSetupToken(runtime.control, SETUP_TOKEN_TTL_MS);
  const base = runtime.config.PUBLIC_URL ?? `http://localhost:${runtime.config.PORT}`;
  // The one line that carries a secret on purpose: the operator reads the link from the log.
  runtime.logger.warn(
    { [DELIVERS_SETUP_LINK]: true },
    `No admin yet. Create the first one at ${base}/setup?token=${token} ` +
      "(valid for 24 hours, once) or with `npm run admin:create -- --email you@example.com`.",
  );
}
