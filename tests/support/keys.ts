// Credentials for the public API in integration tests: a tenant's secret API key (for
// server-to-server asks), its publishable widget key and allowed origins, and visitor sessions.
import type { Client } from "./server.ts";

/** Makes a secret key through the admin API; returns `bitb_sk_…`. */
export async function makeSecretKey(
  admin: Client,
  tenantId: string,
  name = "tests",
): Promise<string> {
  const res = await admin.json(`/api/tenants/${tenantId}/keys`, { name });
  if (res.status !== 201) throw new Error(`key creation failed with status ${res.status}`);
  return ((await res.json()) as { secret: string }).secret;
}

export async function widgetKeyOf(admin: Client, tenantId: string): Promise<string> {
  const res = await admin.fetch(`/api/tenants/${tenantId}/embed`);
  if (res.status !== 200) throw new Error(`embed lookup failed with status ${res.status}`);
  return ((await res.json()) as { widgetKey: string }).widgetKey;
}

export async function allowOrigins(admin: Client, tenantId: string, origins: string[]) {
  const res = await admin.json(
    `/api/tenants/${tenantId}/embed`,
    { allowed_origins: origins },
    "PATCH",
  );
  if (res.status !== 200) throw new Error(`setting origins failed with status ${res.status}`);
}

/** A visitor session token, as the widget gets it (optionally from a given Origin). */
export async function visitorSession(
  url: string,
  tenantId: string,
  key: string,
  origin?: string,
): Promise<string> {
  const res = await fetch(`${url}/api/widget/${tenantId}/session`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(origin ? { origin } : {}) },
    body: JSON.stringify({ key }),
  });
  if (res.status !== 201) throw new Error(`session failed with status ${res.status}`);
  return ((await res.json()) as { token: string }).token;
}

export const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` });
