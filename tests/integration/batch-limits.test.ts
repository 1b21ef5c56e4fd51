// A batch of N questions costs N tokens in every rate-limit bucket it passes, and a secret key
// has a bucket of its own (RATE_LIMIT_KEY_PER_MINUTE), inside its tenant's.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTenant, signIn } from "../support/admin.ts";
import { createAdmin } from "../support/cli.ts";
import { bearer, makeSecretKey } from "../support/keys.ts";
import { type Client, startServer, tempDataDir, type TestServer } from "../support/server.ts";

// Refills are a token every 1.5 s (tenant) and 3 s (key): the test is done well before.
const env = {
  RATE_LIMIT_TENANT_PER_MINUTE: "40",
  RATE_LIMIT_SESSION_PER_MINUTE: "0",
  RATE_LIMIT_KEY_PER_MINUTE: "20",
  RATE_LIMIT_IP_PER_MINUTE: "0",
};

let server: TestServer;
let admin: Client;
let tenantId: string;

beforeAll(async () => {
  const dataDir = tempDataDir();
  await createAdmin(dataDir);
  server = await startServer({ dataDir, env });
  admin = await signIn(server.url);
  tenantId = await createTenant(admin, "Batch limits");
});
afterAll(async () => {
  await server?.stop();
});

async function ask(key: string, questions: number): Promise<Response> {
  const body =
    questions === 1
      ? { tenant_id: tenantId, query: "What are the opening hours?" }
      : {
          tenant_id: tenantId,
          queries: Array.from({ length: questions }, (_, i) => `Question number ${i}?`),
        };
  return fetch(`${server.url}/api/ask`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json", ...bearer(key) },
    body: JSON.stringify(body),
  });
}

async function refusal(res: Response): Promise<string> {
  expect(res.status).toBe(429);
  expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
  const body = (await res.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe("rate_limited");
  return body.error.message;
}

describe("batch asks and secret keys under the rate limits", () => {
  it("charges a batch of 20 twenty tokens, and gives every key its own bucket", async () => {
    const first = await makeSecretKey(admin, tenantId, "first");
    const second = await makeSecretKey(admin, tenantId, "second");
    const third = await makeSecretKey(admin, tenantId, "third");
    const started = performance.now();

    // A batch of 20 against the key's limit of 20 leaves nothing in the key's bucket.
    const batch = await ask(first, 20);
    expect(batch.status).toBe(200);
    expect(((await batch.json()) as { results: unknown[] }).results).toHaveLength(20);
    expect(await refusal(await ask(first, 1))).toMatch(/this key/);

    // Another key of the same tenant has its own bucket; the tenant's holds 40 - 20 = 20.
    const single = await ask(second, 1);
    expect(single.status).toBe(200);
    await single.arrayBuffer();

    // The tenant's bucket has given 20 + 1 + 1 (the refused ask took the tenant's token before
    // the key's bucket refused it): 18 more empty it, and then every key is refused, but for
    // what refilled meanwhile (a token per 1.5 s).
    const last = await ask(third, 18);
    expect(last.status).toBe(200);
    await last.arrayBuffer();
    let refilled = 0;
    for (;;) {
      const res = await ask(third, 1);
      if (res.status !== 200) {
        expect(await refusal(res)).toMatch(/this tenant/);
        break;
      }
      refilled++;
      await res.arrayBuffer();
    }
    expect(refilled).toBeLessThanOrEqual(Math.ceil((performance.now() - started) / 1500));
    expect(await refusal(await ask(second, 1))).toMatch(/this tenant/);
  });
});
