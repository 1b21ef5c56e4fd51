import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeAskServer, startFakeAskServer } from "../test/fake-ask-server.ts";
import {
  cachedSettings,
  fetchSettings,
  prefetched,
  SETTINGS_TTL_MS,
  settingsKey,
} from "./settings.ts";

class MemoryStorage {
  items = new Map<string, string>();
  getItem(key: string) {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string) {
    this.items.set(key, value);
  }
}

let server: FakeAskServer;
beforeAll(async () => {
  server = await startFakeAskServer(() => {});
  server.settings.set("acme", { title: "Acme", starterQuestions: ["Hi?"] });
});
afterAll(() => server.close());

describe("the tenant's widget settings", () => {
  it("are fetched once and served from sessionStorage for a few minutes", async () => {
    const storage = new MemoryStorage();
    const before = server.configRequests;
    expect(await fetchSettings(server.origin, "acme", "pk_test", { storage })).toEqual({
      title: "Acme",
      starterQuestions: ["Hi?"],
    });
    expect(server.configRequests).toBe(before + 1);
    expect(server.configKey).toBe("pk_test");
    expect(cachedSettings(storage, "acme")).toEqual({ title: "Acme", starterQuestions: ["Hi?"] });
    expect(cachedSettings(storage, "acme", Date.now() + SETTINGS_TTL_MS + 1)).toBeNull();
    expect(cachedSettings(storage, "other")).toBeNull();
  });

  it("are null, and not cached, for an unknown tenant, a dead server or a bad answer", async () => {
    const storage = new MemoryStorage();
    expect(await fetchSettings(server.origin, "nobody", "pk_test", { storage })).toBeNull();
    expect(await fetchSettings("http://127.0.0.1:1", "acme", "pk_test", { storage })).toBeNull();
    const array = () => Promise.resolve(Response.json([1, 2]));
    expect(
      await fetchSettings(server.origin, "acme", "pk_test", { storage, fetch: array }),
    ).toBeNull();
    const stalled = (_url: RequestInfo | URL, init?: RequestInit) =>
      new Promise<Response>((_resolve, reject) =>
        init?.signal?.addEventListener("abort", () => reject(new Error("aborted"))),
      );
    expect(
      await fetchSettings(server.origin, "acme", "pk_test", {
        storage,
        fetch: stalled,
        timeoutMs: 10,
      }),
    ).toBeNull();
    expect(storage.items.size).toBe(0);
  });

  it("ignore a broken cache and survive blocked storage", async () => {
    const storage = new MemoryStorage();
    storage.setItem(settingsKey("acme"), "{broken");
    expect(cachedSettings(storage, "acme")).toBeNull();
    storage.setItem(settingsKey("acme"), JSON.stringify({ at: Date.now(), settings: [] }));
    expect(cachedSettings(storage, "acme")).toBeNull();
    expect(cachedSettings(null, "acme")).toBeNull();
    const blocked = {
      getItem: () => null,
      setItem() {
        throw new Error("QuotaExceededError");
      },
    };
    expect(
      await fetchSettings(server.origin, "acme", "pk_test", { storage: blocked }),
    ).toMatchObject({
      title: "Acme",
    });
  });
});

describe("settings the loader already requested", () => {
  it("are read and cached from that response, without a second request", async () => {
    const storage = new MemoryStorage();
    const before = server.configRequests;
    const response = fetch(`${server.origin}/api/widget/acme/config?key=pk_test`, {
      credentials: "omit",
    });
    const settings = await fetchSettings(server.origin, "acme", "pk_test", {
      storage,
      fetch: prefetched(response),
    });
    expect(settings).toEqual({ title: "Acme", starterQuestions: ["Hi?"] });
    expect(server.configRequests).toBe(before + 1);
    expect(cachedSettings(storage, "acme")).toEqual(settings);
  });

  it("still time out when that response never comes", async () => {
    const never = new Promise<Response>(() => {});
    const settings = await fetchSettings(server.origin, "acme", "pk_test", {
      storage: null,
      fetch: prefetched(never),
      timeoutMs: 20,
    });
    expect(settings).toBeNull();
  });
});
