// Writes and reads across LiteFS's primary and replicas (docs/decisions/023), in front of
// every request:
// - on a replica, a write (any method but GET, HEAD, OPTIONS) is answered 409 with
//   `fly-replay: instance=<primary>`, and Fly's proxy replays it on the primary — except the
//   visitor paths a replica answers itself (asks, feedback, widget sessions), whose writes go
//   to the outbox;
// - on the primary, a successful write bumps the write position of the control database and
//   of the tenant it names, and returns them in the `bitb_pos` cookie;
// - on a replica, a read carrying that cookie waits (up to `catchUpMs`) until this replica's
//   copies have reached those positions — so admins see their own writes — and is replayed on
//   the primary if they do not in time.
// LiteFS's own proxy tracks one database only; this tracks the control database and the tenant.
import { isTenantId, type TenantId } from "#tenants/id.ts";
import { bumpPosition, readPosition } from "#tenants/replication.ts";
import { getMeta, getTenant, setMeta } from "../control-db.server.ts";
import { errorBody } from "../errors.server.ts";
import type { Runtime } from "../runtime/runtime.server.ts";

export const POSITION_COOKIE = "bitb_pos";
const CONTROL_POSITION_KEY = "replication_position";
const READS = new Set(["GET", "HEAD", "OPTIONS"]);
/** Visitor paths a replica answers itself: their writes go to its outbox. */
const REPLICA_LOCAL = [
  /^\/api\/ask\/?$/,
  /^\/api\/feedback\/?$/,
  /^\/api\/widget\/[^/]+\/(?:session|config)\/?$/,
  /^\/api\/mcp\/?$/,
  /^\/api\/tenants\/[^/]+\/mcp\/?$/,
];
const TENANT_IN_PATH = /^\/(?:api|admin)\/tenants\/([^/.]+)/;
const COOKIE_VALUE = /^c(\d{1,15})(?:-(tn_[0-9a-f]{32}|trial)-(\d{1,15}))?$/;

type ConsistencyRuntime = Pick<Runtime, "control" | "tenants" | "replication" | "logger">;

export interface Position {
  control: number;
  tenant?: { id: TenantId; position: number };
}

export function parsePositionCookie(header: string | null): Position | null {
  if (!header) return null;
  for (const part of header.split(";")) {
    const [name, value] = part.trim().split("=", 2);
    if (name !== POSITION_COOKIE || value === undefined) continue;
    const match = COOKIE_VALUE.exec(value);
    if (!match) return null;
    const tenantId = match[2];
    return {
      control: Number(match[1]),
      ...(tenantId && isTenantId(tenantId)
        ? { tenant: { id: tenantId, position: Number(match[3]) } }
        : {}),
    };
  }
  return null;
}

export function formatPosition(position: Position): string {
  const tenant = position.tenant ? `-${position.tenant.id}-${position.tenant.position}` : "";
  return `c${position.control}${tenant}`;
}

function tenantInPath(pathname: string): TenantId | undefined {
  const id = TENANT_IN_PATH.exec(pathname)?.[1];
  return id !== undefined && isTenantId(id) ? id : undefined;
}

const isReplicaLocal = (pathname: string) => REPLICA_LOCAL.some((re) => re.test(pathname));

/** This machine's copies have reached `position`. */
function caughtUp(runtime: ConsistencyRuntime, position: Position): boolean {
  const control = Number(getMeta(runtime.control, CONTROL_POSITION_KEY) ?? 0);
  if (control < position.control) return false;
  if (!position.tenant) return true;
  const tenant = getTenant(runtime.control, position.tenant.id);
  // An erased tenant: there is nothing to wait for.
  if (!tenant) return true;
  return readPosition(runtime.tenants.get(tenant.id)) >= position.tenant.position;
}

function replay(primaryHost: string, message: string): Response {
  return Response.json(errorBody("wrong_instance", message), {
    status: 409,
    headers: { "fly-replay": `instance=${primaryHost}`, "Cache-Control": "no-store" },
  });
}

/** On the primary, after a write: the new positions (the tenant's when the path names one). */
function bumpPositions(runtime: ConsistencyRuntime, pathname: string): Position {
  const control = Number(getMeta(runtime.control, CONTROL_POSITION_KEY) ?? 0) + 1;
  setMeta(runtime.control, CONTROL_POSITION_KEY, String(control));
  const id = tenantInPath(pathname);
  const tenant = id && getTenant(runtime.control, id);
  if (!tenant) return { control };
  return {
    control,
    tenant: { id: tenant.id, position: bumpPosition(runtime.tenants.get(tenant.id)) },
  };
}

export interface ConsistencyOptions {
  /** How long a replica waits to catch up before replaying a read on the primary. */
  catchUpMs: number;
  pollMs?: number;
  secureCookie: boolean;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Wraps the app's request handler with the rules above (a no-op without LiteFS). */
export function withReplicaConsistency<C>(
  runtime: ConsistencyRuntime,
  options: ConsistencyOptions,
  handler: (request: Request, context: C) => Promise<Response>,
): (request: Request, context: C) => Promise<Response> {
  const { role } = runtime.replication;
  if (!role.enabled) return handler;
  return async (request, context) => {
    const next = (req: Request) => handler(req, context);
    const { pathname } = new URL(request.url);
    const method = request.method.toUpperCase();
    const current = role.current();
    if (!current.primary) {
      const primaryHost = current.primaryHost ?? "unknown";
      if (!READS.has(method)) {
        if (!isReplicaLocal(pathname)) {
          return replay(
            primaryHost,
            "This write is handled by the primary; it was replayed there.",
          );
        }
        return next(request);
      }
      const position = parsePositionCookie(request.headers.get("cookie"));
      if (position) {
        const deadline = Date.now() + options.catchUpMs;
        while (!caughtUp(runtime, position)) {
          if (Date.now() >= deadline) {
            return replay(
              primaryHost,
              "This replica has not caught up yet; replayed on the primary.",
            );
          }
          await sleep(options.pollMs ?? 25);
        }
      }
      return next(request);
    }
    const response = await next(request);
    if (READS.has(method) || isReplicaLocal(pathname) || response.status >= 400) return response;
    let position: Position;
    try {
      position = bumpPositions(runtime, pathname);
    } catch (error) {
      // The write itself succeeded; a stale read for a moment is the worst outcome.
      runtime.logger.warn({ err: error }, "could not record the write position");
      return response;
    }
    const cookie =
      `${POSITION_COOKIE}=${formatPosition(position)}; Path=/; Max-Age=300; HttpOnly; ` +
      `SameSite=Lax${options.secureCookie ? "; Secure" : ""}`;
    // Copied by hand: the response's own cookies (a new admin session) must all survive.
    const headers = new Headers();
    for (const [name, value] of response.headers) {
      if (name !== "set-cookie") headers.append(name, value);
    }
    for (const line of response.headers.getSetCookie()) headers.append("Set-Cookie", line);
    headers.append("Set-Cookie", cookie);
    return new Response(response.body, {
      status: response.status,
      statusText: response.statusText,
      headers,
    });
  };
}
