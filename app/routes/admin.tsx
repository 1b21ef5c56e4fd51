// /admin — the admin app's frame: only for signed-in admins; a top bar with the brand, the
// tenant list, who is signed in and a sign-out button; the page below.
import { Form, Link, Outlet } from "react-router";
import { requireAdmin } from "#app/server/access/auth.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";
import type { Route } from "./+types/admin";

export async function loader({ request }: Route.LoaderArgs) {
  const runtime = await getRuntime();
  const admin = await requireAdmin(runtime, request);
  return { admin: { email: admin.email, role: admin.role } };
}

export default function AdminLayout({ loaderData }: Route.ComponentProps) {
  const { admin } = loaderData;
  return (
    <>
      <header className="topbar">
        <Link to="/admin" className="brand">
          BiTB admin
        </Link>
        <nav aria-label="Admin">
          <Link to="/admin">Tenants</Link>
          <span
            className="muted signed-in"
            title={admin.role === "platform" ? "Platform admin" : "Tenant admin"}
          >
            {admin.email}
          </span>
          <Form method="post" action="/logout">
            <button type="submit" className="secondary">
              Sign out
            </button>
          </Form>
        </nav>
      </header>
      <Outlet />
    </>
  );
}
