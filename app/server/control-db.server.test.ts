import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { newTenantId } from "#tenants/id.ts";
import {
  adminCanManage,
  consumeSetupToken,
  countAdmins,
  createSetupToken,
  deleteSession,
  findAdminCredentials,
  getAdmin,
  getMeta,
  getOrCreateSecret,
  getTenant,
  getWidgetSettingsJson,
  setWidgetSettingsJson,
  grantTenant,
  insertAdmin,
  insertTenant,
  isSetupTokenValid,
  listTenants,
  openControlDb,
  purgeExpiredSessions,
  readSession,
  setMeta,
  setTenantModel,
  setTenantPendingJobs,
  tenantsWithPendingJobs,
  writeSession,
  type ControlDb,
} from "./control-db.server.ts";

let dir: string;
let db: ControlDb;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-control-"));
  db = openControlDb(dir);
});
afterEach(() => {
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("control database", () => {
  it("keeps secrets stable across reopen", () => {
    const secret = getOrCreateSecret(db, "session");
    expect(secret).toMatch(/^[0-9a-f]{64}$/);
    db.close();
    db = openControlDb(dir);
    expect(getOrCreateSecret(db, "session")).toBe(secret);
    setMeta(db, "k", "1");
    setMeta(db, "k", "2");
    expect(getMeta(db, "k")).toBe("2");
    expect(getMeta(db, "missing")).toBeUndefined();
  });

  it("registers tenants and tracks pending jobs", () => {
    const a = insertTenant(db, { id: newTenantId(), name: "A" }, 1);
    const b = insertTenant(db, { id: newTenantId(), name: "B", plan: "pro" }, 2);
    expect(getTenant(db, a.id)).toMatchObject({
      name: "A",
      plan: "trial",
      status: "active",
      llmModel: null,
    });
    expect(getWidgetSettingsJson(db, a.id)).toBe("{}");
    setWidgetSettingsJson(db, a.id, '{"color":"#123456"}');
    expect(getWidgetSettingsJson(db, a.id)).toBe('{"color":"#123456"}');
    expect(getWidgetSettingsJson(db, newTenantId())).toBeUndefined();
    setTenantModel(db, a.id, "llama-3.1-8b-instant");
    expect(getTenant(db, a.id)?.llmModel).toBe("llama-3.1-8b-instant");
    expect(getTenant(db, "../x")).toBeUndefined();
    expect(getTenant(db, newTenantId())).toBeUndefined();
    expect(listTenants(db).map((t) => t.id)).toEqual([a.id, b.id]);
    setTenantPendingJobs(db, b.id, true);
    expect(tenantsWithPendingJobs(db)).toEqual([b.id]);
    setTenantPendingJobs(db, b.id, false);
    expect(tenantsWithPendingJobs(db)).toEqual([]);
  });

  it("scopes tenant admins to their own tenants", () => {
    const t1 = insertTenant(db, { id: newTenantId(), name: "One" });
    const t2 = insertTenant(db, { id: newTenantId(), name: "Two" });
    const platform = insertAdmin(db, {
      email: "Root@Example.com ",
      passwordHash: "h",
      role: "platform",
    });
    const owner = insertAdmin(db, {
      email: "owner@example.com",
      passwordHash: "h2",
      role: "tenant",
    });
    grantTenant(db, owner.id, t1.id);
    grantTenant(db, owner.id, t1.id);
    expect(countAdmins(db)).toBe(2);
    expect(platform.email).toBe("root@example.com");
    expect(findAdminCredentials(db, "ROOT@example.com")?.passwordHash).toBe("h");
    expect(findAdminCredentials(db, "nobody@example.com")).toBeUndefined();
    expect(getAdmin(db, 999)).toBeUndefined();
    expect(adminCanManage(db, platform, t2.id)).toBe(true);
    expect(adminCanManage(db, owner, t1.id)).toBe(true);
    expect(adminCanManage(db, owner, t2.id)).toBe(false);
    expect(listTenants(db, owner.id).map((t) => t.id)).toEqual([t1.id]);
  });

  it("uses setup tokens once and only before they expire", () => {
    const token = createSetupToken(db, 1000, 0);
    expect(isSetupTokenValid(db, token, 10)).toBe(true);
    expect(isSetupTokenValid(db, "wrong", 10)).toBe(false);
    expect(isSetupTokenValid(db, token, 2000)).toBe(false);
    expect(consumeSetupToken(db, token, 2000)).toBe(false);
    expect(consumeSetupToken(db, token, 10)).toBe(true);
    expect(consumeSetupToken(db, token, 11)).toBe(false);
    expect(isSetupTokenValid(db, token, 12)).toBe(false);
  });

  it("stores sessions until they expire", () => {
    writeSession(db, "s1", { adminId: 1 }, 1000);
    expect(readSession(db, "s1", 10)).toEqual({ adminId: 1 });
    writeSession(db, "s1", { adminId: 2 }, 1000);
    expect(readSession(db, "s1", 10)).toEqual({ adminId: 2 });
    expect(readSession(db, "s1", 1000)).toBeNull();
    expect(readSession(db, "s1", 10)).toBeNull();
    writeSession(db, "s2", {}, 50);
    writeSession(db, "s3", {}, 5000);
    expect(purgeExpiredSessions(db, 100)).toBe(1);
    deleteSession(db, "s3");
    expect(readSession(db, "s3", 0)).toBeNull();
  });
});
