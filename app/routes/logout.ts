// POST /logout — ends the admin's session. Signing out is a state change, so GET only sends
// the visitor back to the admin app (which asks them to sign in if they are not).
import { redirect } from "react-router";
import { assertSameOrigin, destroyAdminSession } from "#app/server/access/auth.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";
import type { Route } from "./+types/logout";

export function loader() {
  return redirect("/admin");
}

export async function action({ request }: Route.ActionArgs) {
  const runtime = await getRuntime();
  assertSameOrigin(runtime, request);
  return destroyAdminSession(runtime, request);
}
