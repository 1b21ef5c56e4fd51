// Builds the app (widget + server) once before the integration and end-to-end projects.
import { execFileSync } from "node:child_process";

const key = "BITB_TEST_BUILD_DONE";

export default function setup() {
  if (process.env[key] || process.env.BITB_SKIP_BUILD === "1") return;
  execFileSync("npm", ["run", "build"], { stdio: ["ignore", "ignore", "inherit"] });
  process.env[key] = "1";
}
