// Kill the server in the middle of an ingestion job: after a restart the job finishes and no
// document is lost or duplicated.
import { afterAll, describe, expect, it } from "vitest";
import { signIn, type Job } from "../support/admin.ts";
import { createAdmin } from "../support/cli.ts";
import {
  startServer,
  tempDataDir,
  waitFor,
  type Client,
  type TestServer,
} from "../support/server.ts";
import { bearer, makeSecretKey } from "../support/keys.ts";

let server: TestServer | undefined;
afterAll(async () => {
  await server?.stop();
});

function longHandbook(sections: number): string {
  const parts: string[] = [];
  for (let s = 0; s < sections; s++) {
    parts.push(`## Section ${s}`);
    for (let p = 0; p < 4; p++) {
      parts.push(
        `Paragraph ${p} of section ${s} explains policy number ${s * 10 + p} in detail. ` +
          `Staff members review request ${s}-${p} within ${p + 2} business days. ` +
          `Customers receive a confirmation e-mail once request ${s}-${p} is approved by the team.`,
      );
    }
  }
  parts.push("## Closing\nThe quartermaster signs every handbook on the first of March.");
  return parts.join("\n\n");
}

describe("restart during ingestion", () => {
  it("resumes the job after a crash without losing or duplicating the document", async () => {
    const dataDir = tempDataDir();
    await createAdmin(dataDir);
    const env = { INGEST_LEASE_MS: "1500", INGEST_POLL_MS: "100" };
    server = await startServer({ dataDir, env });
    let admin = await signIn(server.url);
    const created = await admin.json("/api/tenants", { name: "Crashy" });
    const tenantId = ((await created.json()) as { tenant: { id: string } }).tenant.id;
    const res = await admin.json(`/api/tenants/${tenantId}/documents`, {
      type: "text",
      title: "Handbook",
      text: longHandbook(150),
    });
    const jobId = ((await res.json()) as { jobs: { id: number }[] }).jobs[0]!.id;
    const jobOf = async (client: Client) =>
      (
        (await (await client.fetch(`/api/tenants/${tenantId}/jobs`)).json()) as { jobs: Job[] }
      ).jobs.find((j) => j.id === jobId)!;

    // Wait until the job is embedding, then kill the process without any chance to clean up.
    let last: Job | undefined;
    const running = await waitFor(
      async () => {
        last = await jobOf(admin);
        return last.state === "running" && last.progressDone > 0 ? last : undefined;
      },
      { what: "the job to be embedding", intervalMs: 50, describe: () => JSON.stringify(last) },
    );
    expect(running.progressDone).toBeLessThan(running.progressTotal);
    await server.stop("SIGKILL");

    server = await startServer({ dataDir, env });
    admin = await signIn(server.url);
    const finished = await waitFor(
      async () => {
        const job = await jobOf(admin);
        return job.state === "done" || job.state === "failed" ? job : undefined;
      },
      { what: "the job to finish after the restart", timeoutMs: 120_000 },
    );
    expect(finished.state).toBe("done");
    expect(finished.attempts).toBe(2);
    expect(finished.progressDone).toBe(finished.progressTotal);

    const docs = (await (await admin.fetch(`/api/tenants/${tenantId}/documents`)).json()) as {
      documents: { title: string; chunkCount: number }[];
    };
    expect(docs.documents).toHaveLength(1);
    expect(docs.documents[0]!.chunkCount).toBe(finished.progressTotal);

    const apiKey = await makeSecretKey(admin, tenantId);
    const answer = await fetch(`${server.url}/api/ask`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json",
        ...bearer(apiKey),
      },
      body: JSON.stringify({
        tenant_id: tenantId,
        query: "When does the quartermaster sign the handbook?",
      }),
    });
    expect(((await answer.json()) as { answer: string }).answer).toMatch(/first of March/);
  });
});
