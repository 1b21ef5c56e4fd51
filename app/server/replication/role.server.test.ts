import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ReplicationRole } from "./role.server.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});
const mount = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-role-"));
  dirs.push(dir);
  return dir;
};

describe("ReplicationRole", () => {
  it("is always the primary without LiteFS", () => {
    const role = new ReplicationRole(undefined);
    expect(role.enabled).toBe(false);
    expect(role.current()).toEqual({ primary: true, primaryHost: undefined });
    role.watch(() => {});
    role.stop();
  });

  it("reads the .primary file, re-reading it after the cache time", () => {
    const dir = mount();
    const role = new ReplicationRole(dir, 1000);
    expect(role.isPrimary()).toBe(true);
    fs.writeFileSync(path.join(dir, ".primary"), "machine-1\n");
    expect(role.current(Date.now()).primary).toBe(true); // cached
    expect(role.current(Date.now() + 2000)).toEqual({ primary: false, primaryHost: "machine-1" });
  });

  it("tells watchers when the role changes", async () => {
    const dir = mount();
    const role = new ReplicationRole(dir, 0);
    const changes: boolean[] = [];
    role.watch((next) => changes.push(next.primary), 20);
    fs.writeFileSync(path.join(dir, ".primary"), "machine-2\n");
    await vi.waitFor(() => expect(changes).toEqual([false]));
    fs.rmSync(path.join(dir, ".primary"));
    await vi.waitFor(() => expect(changes).toEqual([false, true]));
    role.stop();
  });
});
