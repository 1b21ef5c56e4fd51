import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ReplicationRole } from "./role.server.ts";
import {
  replicationFixture,
  type ReplicationFixture,
} from "../../../tests/support/replication-fixture.ts";
import {
  formatPosition,
  parsePositionCookie,
  withReplicaConsistency,
} from "./consistency.server.ts";

let f: ReplicationFixture;
let calls: string[];
beforeEach(() => {
  f = replicationFixture();
  calls = [];
});
afterEach(() => f.close());

const app = async (request: Request, context: { who: string }) => {
  calls.push(`${request.method} ${new URL(request.url).pathname} ${context.who}`);
  const failing = new URL(request.url).searchParams.has("fail");
  const headers = new Headers({ "content-type": "application/json" });
  headers.append("Set-Cookie", "session=abc; Path=/");
  headers.append("Set-Cookie", "other=1; Path=/");
  return new Response("{}", { status: failing ? 400 : 200, headers });
};
const handler = (catchUpMs = 60) =>
  withReplicaConsistency(f, { catchUpMs, pollMs: 5, secureCookie: true }, app);
const ctx = { who: "me" };
const req = (method: string, pathname: string, cookie?: string) =>
  new Request(`http://bitb.test${pathname}`, {
    method,
    headers: cookie ? { cookie } : {},
    ...(method === "GET" ? {} : { body: "{}" }),
  });

describe("position cookies", () => {
  it("round-trip, and reject anything else", () => {
    const position = { control: 4, tenant: { id: f.tenant.id, position: 7 } };
    const value = formatPosition(position);
    expect(parsePositionCookie(`a=b; bitb_pos=${value}`)).toEqual(position);
    expect(parsePositionCookie("bitb_pos=c3")).toEqual({ control: 3 });
    expect(parsePositionCookie("bitb_pos=c3-../x-1")).toBeNull();
    expect(parsePositionCookie("bitb_pos=zzz")).toBeNull();
    expect(parsePositionCookie("other=1")).toBeNull();
    expect(parsePositionCookie(null)).toBeNull();
  });
});

describe("withReplicaConsistency", () => {
  it("is the plain handler without LiteFS", () => {
    const plain = withReplicaConsistency(
      { ...f, replication: { role: new ReplicationRole(undefined), outbox: undefined } },
      { catchUpMs: 10, secureCookie: false },
      app,
    );
    expect(plain).toBe(app);
  });

  it("on the primary, returns the write positions in a cookie after a successful write", async () => {
    const handle = handler();
    const res = await handle(req("POST", `/api/tenants/${f.tenant.id}/keys`), ctx);
    const cookies = res.headers.getSetCookie();
    expect(cookies).toContain("session=abc; Path=/");
    expect(cookies).toContain("other=1; Path=/");
    const position = cookies.find((c) => c.startsWith("bitb_pos="));
    expect(position).toBe(
      `bitb_pos=c1-${f.tenant.id}-1; Path=/; Max-Age=300; HttpOnly; SameSite=Lax; Secure`,
    );
    const second = await handle(req("PATCH", "/admin/tenants/nobody"), ctx);
    expect(second.headers.getSetCookie()).toContain(
      "bitb_pos=c2; Path=/; Max-Age=300; HttpOnly; SameSite=Lax; Secure",
    );
    // Reads, refused writes and asks carry no position.
    for (const request of [
      req("GET", `/api/tenants/${f.tenant.id}/keys`),
      req("POST", `/api/tenants/${f.tenant.id}/keys?fail`),
      req("POST", "/api/ask"),
    ]) {
      const plain = await handle(request, ctx);
      expect(plain.headers.getSetCookie().some((c) => c.startsWith("bitb_pos="))).toBe(false);
    }
  });

  it("on a replica, replays writes on the primary but answers visitors' asks itself", async () => {
    f.setReplica(true);
    const handle = handler();
    const replayed = await handle(req("POST", `/api/tenants/${f.tenant.id}/keys`), ctx);
    expect(replayed.status).toBe(409);
    expect(replayed.headers.get("fly-replay")).toBe("instance=primary-host");
    expect(await replayed.json()).toMatchObject({ error: { code: "wrong_instance" } });
    for (const pathname of ["/api/ask", "/api/feedback", `/api/widget/${f.tenant.id}/session`]) {
      expect((await handle(req("POST", pathname), ctx)).status).toBe(200);
    }
    expect(calls).toEqual([
      "POST /api/ask me",
      "POST /api/feedback me",
      `POST /api/widget/${f.tenant.id}/session me`,
    ]);
  });

  it("on a replica, replays an action's confirmation on the primary (docs/decisions/027)", async () => {
    f.setReplica(true);
    const handle = handler();
    const confirm = await handle(req("POST", "/api/actions/confirm"), ctx);
    expect(confirm.status).toBe(409);
    expect(confirm.headers.get("fly-replay")).toBe("instance=primary-host");
    // The free slots are a read: answered here.
    expect((await handle(req("GET", "/api/actions/slots"), ctx)).status).toBe(200);
  });

  it("on a replica, holds a read until it has the admin's write, or replays it", async () => {
    // The admin wrote on the primary: position 1 of the control db and of the tenant.
    const primary = handler();
    const write = await primary(req("POST", `/api/tenants/${f.tenant.id}/keys`), ctx);
    const cookie = (
      write.headers.getSetCookie().find((c) => c.startsWith("bitb_pos=")) ?? ""
    ).split(";")[0];
    f.setReplica(true);
    const handle = handler();
    // This folder already has the write (as if replicated): served at once.
    expect((await handle(req("GET", "/admin", cookie), ctx)).status).toBe(200);
    // A position this replica has not reached: replayed after the catch-up time.
    const ahead = `bitb_pos=c99-${f.tenant.id}-99`;
    const started = Date.now();
    const stale = await handle(req("GET", "/admin", ahead), ctx);
    expect(stale.status).toBe(409);
    expect(stale.headers.get("fly-replay")).toBe("instance=primary-host");
    expect(Date.now() - started).toBeGreaterThanOrEqual(50);
    // An erased tenant has nothing to wait for.
    const gone = `bitb_pos=c1-tn_00000000000000000000000000000000-9`;
    expect((await handle(req("GET", "/admin", gone), ctx)).status).toBe(200);
  });
});
