// The action UI's client for the public actions API (/work/actions-contract.md, decision
// 028): `POST /api/actions/confirm` carries out an offered action once the visitor confirmed
// it, `GET /api/actions/slots` lists a day's free appointment times. Both authenticate like
// the feedback call: the tenant's publishable key and the visitor's session token (named
// `sessionToken` here, as the actions API spells it), never cookies.

export interface VisitorAuth {
  origin: string;
  tenantId: string;
  key: string;
  sessionToken: string;
}

export interface Contact {
  name?: string;
  email?: string;
  phone?: string;
}

export interface Confirmation {
  offerId: string;
  args: Record<string, string | number>;
  contact?: Contact;
  consent: boolean;
}

/**
 * How a confirmation ended. `code` is the server's error code (invalid_request,
 * consent_required, slot_taken, offer_expired, action_failed…) or network_error.
 */
export type ConfirmResult =
  | { ok: true; message: string; reference?: string }
  | { ok: false; code: string; message: string; fields: Record<string, string> };

export async function confirmAction(
  auth: VisitorAuth,
  confirmation: Confirmation,
  fetchImpl: typeof fetch = fetch,
): Promise<ConfirmResult> {
  try {
    const response = await fetchImpl(`${auth.origin}/api/actions/confirm`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        tenantId: auth.tenantId,
        key: auth.key,
        sessionToken: auth.sessionToken,
        ...confirmation,
      }),
      credentials: "omit",
    });
    const body = (await response.json().catch(() => ({}))) as {
      message?: unknown;
      reference?: unknown;
      error?: { code?: unknown; message?: unknown; fields?: unknown };
    };
    if (response.ok && typeof body.message === "string") {
      return {
        ok: true,
        message: body.message,
        ...(typeof body.reference === "string" ? { reference: body.reference } : {}),
      };
    }
    const error = body.error ?? {};
    return {
      ok: false,
      code: typeof error.code === "string" ? error.code : `http_${response.status}`,
      message: typeof error.message === "string" ? error.message : "",
      fields: stringRecord(error.fields),
    };
  } catch {
    return { ok: false, code: "network_error", message: "", fields: {} };
  }
}

/** The free start times ("HH:MM") of `date`; null when they could not be read. */
export async function fetchSlots(
  auth: VisitorAuth,
  date: string,
  fetchImpl: typeof fetch = fetch,
): Promise<string[] | null> {
  const query = new URLSearchParams({
    tenantId: auth.tenantId,
    date,
    key: auth.key,
    sessionToken: auth.sessionToken,
  });
  try {
    const response = await fetchImpl(`${auth.origin}/api/actions/slots?${query}`, {
      credentials: "omit",
    });
    if (!response.ok) return null;
    const body = (await response.json()) as { slots?: unknown };
    return Array.isArray(body.slots)
      ? body.slots.filter((slot): slot is string => typeof slot === "string")
      : null;
  } catch {
    return null;
  }
}

function stringRecord(value: unknown): Record<string, string> {
  if (typeof value !== "object" || value === null) return {};
  const record: Record<string, string> = {};
  for (const [name, message] of Object.entries(value)) {
    if (typeof message === "string") record[name] = message;
  }
  return record;
}
