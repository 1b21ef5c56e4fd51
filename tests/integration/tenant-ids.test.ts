// Invalid or unknown tenant ids are a 404 before any file is touched.
import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signIn } from "../support/admin.ts";
import { createAdmin } from "../support/cli.ts";
import type { Client } from "../support/server.ts";
import { startServer, tempDataDir, type TestServer } from "../support/server.ts";

let server: TestServer;
let admin: Client;
let filesBefore: string[];

const badIds = [
  "../x",
  "..%2Fx",
  `tn_${"a".repeat(31)}`,
  `TN_${"A".repeat(32)}`,
  `tn_${"A".repeat(32)}`,
  `tn_${"0".repeat(32)}`, // well-formed but unknown
  "control",
  "trial", // reserved, but not loaded in this server
  "",
];

beforeAll(async () => {
  const dataDir = tempDataDir();
  await createAdmin(dataDir);
  server = await startServer({ dataDir });
  admin = await signIn(server.url);
  filesBefore = fs.readdirSync(dataDir).sort();
});
afterAll(async () => {
  await server?.stop();
});

describe("tenant ids from outside", () => {
  it.each(badIds)("ask with %j is a 404 and creates nothing", async (id) => {
    const res = await fetch(`${server.url}/api/ask`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ tenant_id: id, query: "hello there" }),
    });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: "not_found", message: "No such tenant." } });
    expect(fs.readdirSync(server.dataDir).sort()).toEqual(filesBefore);
  });

  it.each(badIds.filter((id) => id !== ""))(
    "admin API with %j is a 404 and creates nothing",
    async (id) => {
      for (const path of [`/api/tenants/${id}/documents`, `/api/tenants/${id}/jobs`]) {
        const res = await admin.fetch(path);
        expect(res.status, path).toBe(404);
      }
      const post = await admin.json(`/api/tenants/${id}/documents`, {
        type: "text",
        title: "x",
        text: "y",
      });
      expect(post.status).toBe(404);
      expect(fs.readdirSync(server.dataDir).sort()).toEqual(filesBefore);
    },
  );

  it("a tenant id of non-string type is a validation error", async () => {
    const res = await fetch(`${server.url}/api/ask`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ tenant_id: ["trial"], query: "hello" }),
    });
    expect(res.status).toBe(400);
  });
});
