// What integration tests do as a signed-in admin through the HTTP API: sign in, create a
// tenant, upload files and wait for their ingestion jobs. Plus the fixture files' facts.
import fs from "node:fs";
import path from "node:path";
import { ADMIN } from "./cli.ts";
import { Client, waitFor } from "./server.ts";

export const fixturesDir = path.resolve(import.meta.dirname, "../fixtures");

/** One distinctive fact per fixture file (see tests/fixtures/README.md). */
export const fixtureCases = [
  {
    file: "sample.txt",
    question: "How often does the harbour ferry to Kestrel Island leave?",
    expect: /40 minutes/,
  },
  {
    file: "sample.md",
    question: "How often must the Lumen X2 espresso machine be descaled?",
    expect: /3 weeks/,
  },
  {
    file: "sample.html",
    question: "How many books can members of the Orchid Valley Library borrow at a time?",
    expect: /12 books/,
  },
  {
    file: "sample.pdf",
    question: "What time does the Aurora Tower open on Mondays?",
    expect: /9 am/,
  },
  {
    file: "sample.docx",
    question: "How long is the warranty on the Zephyr Trail bicycle frame?",
    expect: /7-year warranty/,
  },
] as const;

export interface Job {
  id: number;
  state: string;
  stage: string | null;
  title: string;
  error: string | null;
  outcome: string | null;
  documentId: number | null;
  progressDone: number;
  progressTotal: number;
  attempts: number;
}

/** Signs in through the login form as the CLI-created admin; fails unless it worked. */
export async function signIn(url: string): Promise<Client> {
  const client = new Client(url);
  const res = await client.fetch("/login", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ email: ADMIN.email, password: ADMIN.password }),
  });
  if (res.status !== 302 || client.cookie === "") {
    throw new Error(`sign-in failed with status ${res.status}`);
  }
  return client;
}

export async function createTenant(admin: Client, name: string): Promise<string> {
  const res = await admin.json("/api/tenants", { name });
  if (res.status !== 201) throw new Error(`tenant creation failed with status ${res.status}`);
  return ((await res.json()) as { tenant: { id: string } }).tenant.id;
}

/** Uploads fixture files in one multipart request; returns the job ids. */
export async function uploadFixtures(
  admin: Client,
  tenantId: string,
  files: readonly string[],
): Promise<number[]> {
  const form = new FormData();
  for (const file of files) {
    form.append("file", new Blob([fs.readFileSync(path.join(fixturesDir, file))]), file);
  }
  const res = await admin.fetch(`/api/tenants/${tenantId}/documents`, {
    method: "POST",
    body: form,
  });
  if (res.status !== 202) throw new Error(`upload failed with status ${res.status}`);
  return ((await res.json()) as { jobs: { id: number }[] }).jobs.map((j) => j.id);
}

export async function listJobs(admin: Client, tenantId: string): Promise<Job[]> {
  const res = await admin.fetch(`/api/tenants/${tenantId}/jobs?limit=100`);
  if (res.status !== 200) throw new Error(`jobs listing failed with status ${res.status}`);
  return ((await res.json()) as { jobs: Job[] }).jobs;
}

/** Waits until every one of the jobs is done or failed, and returns them. */
export async function waitForJobs(admin: Client, tenantId: string, ids: number[]): Promise<Job[]> {
  return waitFor(
    async () => {
      const mine = (await listJobs(admin, tenantId)).filter((j) => ids.includes(j.id));
      return mine.length === ids.length &&
        mine.every((j) => j.state === "done" || j.state === "failed")
        ? mine
        : undefined;
    },
    { what: `jobs ${ids.join(", ")}`, timeoutMs: 90_000 },
  );
}
