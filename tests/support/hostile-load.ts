// Drives a server while hostile documents ingest: a quiet tenant with one indexed document and
// an API key, a hostile tenant that uploads, and a probe that asks as the quiet tenant and
// calls /healthz in a bounded loop, timing both. Shared by tests/integration/hostile-files.test.ts
// and scripts/bench/hostile.ts (decision 043). Loopback only.
import fs from "node:fs";
import { createTenant, listJobs, signIn, type Job } from "./admin.ts";
import type { HostileFile } from "./hostile-files.ts";
import { bearer, makeSecretKey } from "./keys.ts";
import { type Client, type TestServer, waitFor } from "./server.ts";

export interface Tenants {
  admin: Client;
  quiet: { id: string; key: string };
  hostile: string;
}

/** The server's resident memory, from /proc (Linux). */
export function rssBytes(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

export async function upload(
  admin: Client,
  tenantId: string,
  file: { name: string; mimeType: string; bytes: Uint8Array },
): Promise<number> {
  const form = new FormData();
  form.append("file", new Blob([new Uint8Array(file.bytes)], { type: file.mimeType }), file.name);
  const res = await admin.fetch(`/api/tenants/${tenantId}/documents`, {
    method: "POST",
    body: form,
  });
  if (res.status !== 202) throw new Error(`upload failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { jobs: { id: number }[] }).jobs[0]!.id;
}

export async function jobOf(admin: Client, tenantId: string, id: number): Promise<Job> {
  const job = (await listJobs(admin, tenantId)).find((j) => j.id === id);
  if (!job) throw new Error(`no job ${id}`);
  return job;
}

export async function settledJob(
  admin: Client,
  tenantId: string,
  id: number,
  timeoutMs = 120_000,
): Promise<Job> {
  return waitFor(
    async () => {
      const job = await jobOf(admin, tenantId, id);
      return job.state === "done" || job.state === "failed" ? job : undefined;
    },
    { what: `job ${id}`, timeoutMs, intervalMs: 100 },
  );
}

export async function setUpTenants(server: TestServer): Promise<Tenants> {
  const admin = await signIn(server.url);
  const quietId = await createTenant(admin, "Quiet");
  const job = await upload(admin, quietId, {
    name: "ferry.md",
    mimeType: "text/markdown",
    bytes: new TextEncoder().encode(
      "# Ferry\n\nThe ferry to the island leaves every 40 minutes from pier 3.",
    ),
  });
  const done = await settledJob(admin, quietId, job);
  if (done.state !== "done") throw new Error(`the quiet tenant's document failed: ${done.error}`);
  const key = await makeSecretKey(admin, quietId);
  const hostile = await createTenant(admin, "Hostile");
  return { admin, quiet: { id: quietId, key }, hostile };
}

export interface ProbeFigures {
  ask: number[];
  healthz: number[];
  errors: number;
  rssPeak: number;
}

const timed = async (run: () => Promise<Response>): Promise<[number, boolean]> => {
  const started = performance.now();
  try {
    const res = await run();
    await res.arrayBuffer();
    return [performance.now() - started, res.ok];
  } catch {
    return [performance.now() - started, false];
  }
};

/**
 * Asks as the quiet tenant and calls /healthz, one after the other, until `done` says so or
 * `maxRounds` have run (each bounded by the fetch's own timeout of 30 s).
 */
export async function probe(
  server: TestServer,
  tenants: Tenants,
  done: () => Promise<boolean>,
  options: { maxRounds?: number; minRounds?: number } = {},
): Promise<ProbeFigures> {
  const figures: ProbeFigures = { ask: [], healthz: [], errors: 0, rssPeak: rssBytes(server.pid) };
  const { maxRounds = 2000, minRounds = 5 } = options;
  for (let round = 0; round < maxRounds; round++) {
    const [askMs, askOk] = await timed(() =>
      fetch(`${server.url}/api/ask`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json",
          ...bearer(tenants.quiet.key),
        },
        body: JSON.stringify({
          tenant_id: tenants.quiet.id,
          query: "How often does the ferry leave?",
        }),
        signal: AbortSignal.timeout(30_000),
      }),
    );
    const [healthMs, healthOk] = await timed(() =>
      fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(30_000) }),
    );
    figures.ask.push(askMs);
    figures.healthz.push(healthMs);
    if (!askOk) figures.errors++;
    if (!healthOk) figures.errors++;
    figures.rssPeak = Math.max(figures.rssPeak, rssBytes(server.pid));
    if (round + 1 >= minRounds && (await done())) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return figures;
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Uploads one hostile file and probes the server until its job has settled. */
export async function ingestWhileProbing(
  server: TestServer,
  tenants: Tenants,
  file: HostileFile,
): Promise<{ job: Job; figures: ProbeFigures }> {
  const id = await upload(tenants.admin, tenants.hostile, file);
  let job: Job | undefined;
  const figures = await probe(server, tenants, async () => {
    const current = await jobOf(tenants.admin, tenants.hostile, id);
    if (current.state === "done" || current.state === "failed") job = current;
    return job !== undefined;
  });
  return { job: job ?? (await settledJob(tenants.admin, tenants.hostile, id)), figures };
}
