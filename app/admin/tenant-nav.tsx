// The tenant's admin pages as a row of tabs under the breadcrumbs. Every page of one tenant
// renders it, and a new page adds its one entry to TENANT_PAGES (nothing else to touch).
import { NavLink } from "react-router";

interface TenantPage {
  /** The path under /admin/tenants/:tenantId ("" is the overview). */
  path: string;
  label: string;
}

export const TENANT_PAGES: readonly TenantPage[] = [
  { path: "", label: "Overview" },
  { path: "knowledge", label: "Knowledge" },
  { path: "check", label: "Check" },
  { path: "conversations", label: "Conversations" },
  { path: "usage", label: "Usage" },
  { path: "widget", label: "Widget" },
  { path: "actions", label: "Actions" },
  { path: "playground", label: "Playground" },
];

export function TenantNav({ tenantId }: { tenantId: string }) {
  const base = `/admin/tenants/${tenantId}`;
  return (
    <nav className="tenant-nav" aria-label="Tenant pages">
      <ul>
        {TENANT_PAGES.map((page) => (
          <li key={page.path}>
            <NavLink to={page.path ? `${base}/${page.path}` : base} end>
              {page.label}
            </NavLink>
          </li>
        ))}
      </ul>
    </nav>
  );
}
