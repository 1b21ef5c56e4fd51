// The visitor's session with the API: `POST /api/widget/:tenant/session` with the tenant's
// publishable key returns a signed token naming one conversation; asks and ratings carry it.
// The chat keeps it with the conversation and asks for a new one when it expires.
export interface VisitorSession {
  token: string;
  /** Seconds since the epoch. */
  expiresAt: number;
}

/** Still usable for a minute at least (the server's clock decides in the end). */
export function isFresh(session: VisitorSession | null, nowMs: number): session is VisitorSession {
  return session !== null && session.expiresAt * 1000 - 60_000 > nowMs;
}

/** A new session, or null when the server refused or could not be reached. */
export async function startSession(
  origin: string,
  tenantId: string,
  key: string,
  fetchImpl: typeof fetch = fetch,
): Promise<VisitorSession | null> {
  try {
    const response = await fetchImpl(
      `${origin}/api/widget/${encodeURIComponent(tenantId)}/session`,
      {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ key }),
        credentials: "omit",
      },
    );
    if (!response.ok) return null;
    const body = (await response.json()) as Partial<VisitorSession>;
    return typeof body.token === "string" && typeof body.expiresAt === "number"
      ? { token: body.token, expiresAt: body.expiresAt }
      : null;
  } catch {
    return null;
  }
}
