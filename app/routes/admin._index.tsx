// /admin — the tenants this admin manages (a platform admin sees all) and, for platform
// admins, a form to create a tenant.
import { data, Form, Link, redirect, useNavigation } from "react-router";
import { z } from "zod";
import { assertSameOrigin, requireAdmin } from "#app/server/auth.server.ts";
import { listTenants } from "#app/server/control-db.server.ts";
import { getRuntime } from "#app/server/runtime.server.ts";
import { createTenant } from "#app/server/tenants.server.ts";
import type { Route } from "./+types/admin._index";

export const meta: Route.MetaFunction = () => [{ title: "Tenants — BiTB admin" }];

const createTenantForm = z.object({
  name: z
    .string()
    .trim()
    .min(1, "Give the tenant a name.")
    .max(100, "Keep the name to 100 characters or fewer."),
});

export async function loader({ request }: Route.LoaderArgs) {
  const admin = await requireAdmin(request);
  const { control } = await getRuntime();
  const tenants = listTenants(control, admin.role === "platform" ? undefined : admin.id);
  return {
    canCreate: admin.role === "platform",
    tenants: tenants.map((t) => ({
      id: t.id,
      name: t.name,
      plan: t.plan,
      status: t.status,
      createdAt: t.createdAt,
    })),
  };
}

export async function action({ request }: Route.ActionArgs) {
  assertSameOrigin(request);
  const admin = await requireAdmin(request);
  if (admin.role !== "platform") {
    return data({ error: "Only platform admins can create tenants." }, { status: 403 });
  }
  const parsed = createTenantForm.safeParse({ name: (await request.formData()).get("name") ?? "" });
  if (!parsed.success) {
    return data({ error: parsed.error.issues[0]?.message ?? "Check the name." }, { status: 400 });
  }
  const tenant = createTenant(await getRuntime(), { name: parsed.data.name });
  throw redirect(`/admin/tenants/${tenant.id}`);
}

export default function Tenants({ loaderData, actionData }: Route.ComponentProps) {
  const navigation = useNavigation();
  const creating = navigation.state !== "idle" && navigation.formMethod === "POST";
  const { tenants, canCreate } = loaderData;
  const error = actionData?.error;
  return (
    <main className="page">
      <h1>Tenants</h1>
      {tenants.length === 0 ? (
        <p className="muted">
          {canCreate
            ? "No tenants yet. Create the first one below."
            : "You do not manage any tenant yet. Ask a platform admin to give you access."}
        </p>
      ) : (
        <div className="table-scroll">
          <table>
            <caption className="visually-hidden">Tenants you manage</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Tenant id</th>
                <th scope="col">Plan</th>
                <th scope="col">Status</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {tenants.map((tenant) => (
                <tr key={tenant.id}>
                  <td>
                    <Link to={`/admin/tenants/${tenant.id}`}>{tenant.name}</Link>
                  </td>
                  <td>
                    <code>{tenant.id}</code>
                  </td>
                  <td>{tenant.plan}</td>
                  <td>{tenant.status}</td>
                  <td>{new Date(tenant.createdAt).toISOString().slice(0, 10)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {canCreate ? (
        <section className="card" aria-labelledby="create-tenant">
          <h2 id="create-tenant">Create a tenant</h2>
          <Form method="post">
            {error ? (
              <p id="tenant-error" className="error" role="alert">
                {error}
              </p>
            ) : null}
            <label htmlFor="tenant-name">Name</label>
            <div className="row">
              <input
                id="tenant-name"
                name="name"
                type="text"
                required
                maxLength={100}
                placeholder="Acme support"
                aria-invalid={error ? true : undefined}
                aria-describedby={error ? "tenant-error" : undefined}
                className="grow"
              />
              <button type="submit" disabled={creating}>
                {creating ? "Creating…" : "Create tenant"}
              </button>
            </div>
          </Form>
        </section>
      ) : null}
    </main>
  );
}
