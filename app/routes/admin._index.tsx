// /admin — the tenants this admin manages (a platform admin sees all) with plan, status,
// trial end and tokens used; for platform admins, suspend / resume / extend-trial buttons and
// a form to create a tenant.
import { data, Form, Link, redirect, useNavigation } from "react-router";
import { z } from "zod";
import { assertSameOrigin, requireAdmin } from "#app/server/access/auth.server.ts";
import {
  extendTrial,
  setTenantStatus,
  tenantOverview,
} from "#app/server/tenancy/platform.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";
import { createTenant, requireTenant } from "#app/server/tenancy/tenants.server.ts";
import type { Route } from "./+types/admin._index";

export const meta: Route.MetaFunction = () => [{ title: "Tenants — BiTB admin" }];

const createTenantForm = z.object({
  name: z
    .string()
    .trim()
    .min(1, "Give the tenant a name.")
    .max(100, "Keep the name to 100 characters or fewer."),
});

/** A trial extended from the list moves its end this many days later. */
const EXTEND_DAYS = 14;

const tenantActionForm = z.object({
  intent: z.enum(["suspend", "resume", "extend"]),
  tenantId: z.string().max(64),
});

export async function loader({ request }: Route.LoaderArgs) {
  const runtime = await getRuntime();
  const admin = await requireAdmin(runtime, request);
  return {
    canCreate: admin.role === "platform",
    canManage: admin.role === "platform",
    extendDays: EXTEND_DAYS,
    tenants: tenantOverview(runtime, admin.role === "platform" ? undefined : admin.id),
  };
}

export async function action({ request }: Route.ActionArgs) {
  const runtime = await getRuntime();
  assertSameOrigin(runtime, request);
  const admin = await requireAdmin(runtime, request);
  if (admin.role !== "platform") {
    return data({ error: "Only platform admins can create or change tenants." }, { status: 403 });
  }
  const form = await request.formData();
  if (form.has("intent")) {
    const parsed = tenantActionForm.safeParse(Object.fromEntries(form));
    if (!parsed.success) return data({ error: "Unknown tenant action." }, { status: 400 });
    const tenant = requireTenant(runtime, parsed.data.tenantId);
    if (parsed.data.intent === "extend") {
      extendTrial(runtime, tenant, admin, EXTEND_DAYS);
      return { notice: `${tenant.name}: trial extended by ${EXTEND_DAYS} days.` };
    }
    const status = parsed.data.intent === "suspend" ? "suspended" : "active";
    setTenantStatus(runtime, tenant, admin, status);
    return {
      notice: `${tenant.name} is ${status === "suspended" ? "suspended" : "active again"}.`,
    };
  }
  const parsed = createTenantForm.safeParse({ name: form.get("name") ?? "" });
  if (!parsed.success) {
    return data({ error: parsed.error.issues[0]?.message ?? "Check the name." }, { status: 400 });
  }
  const tenant = createTenant(await getRuntime(), { name: parsed.data.name });
  throw redirect(`/admin/tenants/${tenant.id}`);
}

export default function Tenants({ loaderData, actionData }: Route.ComponentProps) {
  const navigation = useNavigation();
  const creating = navigation.state !== "idle" && navigation.formMethod === "POST";
  const { tenants, canCreate, canManage, extendDays } = loaderData;
  const error = actionData && "error" in actionData ? actionData.error : undefined;
  const notice = actionData && "notice" in actionData ? actionData.notice : undefined;
  return (
    <main className="page">
      <h1>Tenants</h1>
      {notice ? (
        <p className="notice" role="status">
          {notice}
        </p>
      ) : null}
      {tenants.length === 0 ? (
        <p className="muted">
          {canCreate
            ? "No tenants yet. Create the first one below."
            : "You do not manage any tenant yet. Ask a platform admin to give you access."}
        </p>
      ) : (
        <div
          className="table-scroll"
          role="region"
          aria-label="Tenants (scrolls sideways)"
          tabIndex={0}
        >
          <table>
            <caption className="visually-hidden">Tenants you manage</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Tenant id</th>
                <th scope="col">Plan</th>
                <th scope="col">Status</th>
                <th scope="col">Trial ends</th>
                <th scope="col">Tokens used</th>
                <th scope="col">Created</th>
                {canManage ? <th scope="col">Actions</th> : null}
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
                  <td>
                    {tenant.trialEndsAt === null
                      ? "—"
                      : new Date(tenant.trialEndsAt).toISOString().slice(0, 10)}
                  </td>
                  <td>
                    {tenant.usedTokens.toLocaleString("en")}
                    {tenant.tokenBudget === null
                      ? ""
                      : ` / ${tenant.tokenBudget.toLocaleString("en")}`}
                  </td>
                  <td>{new Date(tenant.createdAt).toISOString().slice(0, 10)}</td>
                  {canManage ? (
                    <td>
                      <div className="row">
                        <Form method="post">
                          <input type="hidden" name="tenantId" value={tenant.id} />
                          <button
                            type="submit"
                            name="intent"
                            value={tenant.status === "suspended" ? "resume" : "suspend"}
                            className="secondary"
                            aria-label={`${tenant.status === "suspended" ? "Resume" : "Suspend"} ${tenant.name}`}
                          >
                            {tenant.status === "suspended" ? "Resume" : "Suspend"}
                          </button>
                        </Form>
                        {tenant.trialEndsAt === null ? null : (
                          <Form method="post">
                            <input type="hidden" name="tenantId" value={tenant.id} />
                            <button
                              type="submit"
                              name="intent"
                              value="extend"
                              className="secondary"
                              aria-label={`Extend the trial of ${tenant.name} by ${extendDays} days`}
                            >
                              +{extendDays} days
                            </button>
                          </Form>
                        )}
                      </div>
                    </td>
                  ) : null}
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
