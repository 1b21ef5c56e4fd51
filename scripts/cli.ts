// The operator's command line: `npm run bitb -- <command>` (or the npm script shortcuts).
//
//   admin:create --email E [--password P]   the first (platform) admin; password from
//                                           --password or BITB_ADMIN_PASSWORD
//   tenant:create --name N                  prints the new tenant id
//   tenant:list
//   key:create <tenant> --name N            prints a new secret API key (shown only once)
//   ingest <tenant> <file-or-folder>...     queues each supported file and waits for the jobs
//   ask <tenant> <question...>              streams the answer with its citations
//   jobs <tenant> [--limit N]
//   migrate                                 migrates the control and every tenant database
//   tenant:export <tenant> <file>           one consistent SQLite file, registry entry included
//   tenant:import <file> [--name N] [--new-id]
//   tenant:erase <tenant> --yes             the tenant's data, everywhere, for good (audited)
//   backup [--dir D] [--keep N]             one backup run now (default BACKUP_DIR, BACKUP_KEEP)
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { listJobs } from "#tenants/knowledge-base.ts";
import type { TenantId } from "#tenants/id.ts";
import { askStream } from "#app/server/ask/ask.server.ts";
import { AuthError, createFirstAdmin } from "#app/server/access/auth.server.ts";
import { parseConfig, ConfigError } from "#app/server/config.server.ts";
import { listTenants } from "#app/server/control-db.server.ts";
import { ApiError } from "#app/server/errors.server.ts";
import { intakeFile, isSupportedFile } from "#app/server/ingest/intake.server.ts";
import { closeRuntime, createRuntime } from "#app/server/runtime/build.server.ts";
import type { Runtime } from "#app/server/runtime/runtime.server.ts";
import {
  eraseTenantEverywhere,
  exportTenant,
  importTenant,
} from "#app/server/tenancy/data.server.ts";
import { runBackup } from "#app/server/backup/backup.server.ts";
import { createSecretKey } from "#app/server/access/keys.server.ts";
import { ReplicationRole } from "#app/server/replication/role.server.ts";
import { createTenant, requireTenant, tenantDb } from "#app/server/tenancy/tenants.server.ts";

const out = (line = "") => process.stdout.write(`${line}\n`);

function usage(): never {
  throw new ApiError("bad_request", USAGE);
}

const USAGE = `Usage: bitb <command>
  admin:create --email E [--password P]   the first (platform) admin; password from
                                          --password or BITB_ADMIN_PASSWORD
  tenant:create --name N                  prints the new tenant id
  tenant:list
  key:create <tenant> --name N            prints a new secret API key (shown only once)
  ingest <tenant> <file-or-folder>...     queues each supported file and waits for the jobs
  ask <tenant> <question...>              streams the answer with its citations
  jobs <tenant> [--limit N]
  migrate                                 migrates the control and every tenant database
  tenant:export <tenant> <file>           one consistent SQLite file, registry entry included
  tenant:import <file> [--name N] [--new-id]
  tenant:erase <tenant> --yes             the tenant's data, everywhere, for good (audited)
  backup [--dir D] [--keep N]             one backup run now (default BACKUP_DIR, BACKUP_KEEP)`;

export function collectFiles(inputs: string[]): string[] {
  const files: string[] = [];
  for (const input of inputs) {
    const stat = fs.statSync(input);
    if (stat.isDirectory()) {
      for (const entry of fs.readdirSync(input, { recursive: true, withFileTypes: true })) {
        const full = path.join(entry.parentPath, entry.name);
        if (entry.isFile() && isSupportedFile(entry.name)) {
          files.push(full);
        }
      }
    } else {
      files.push(input);
    }
  }
  return files.sort();
}

async function ingest(runtime: Runtime, tenantArg: string, inputs: string[]) {
  const tenant = requireTenant(runtime, tenantArg);
  const files = collectFiles(inputs);
  if (files.length === 0) usage();
  const jobIds = files.map((file) =>
    intakeFile(runtime, tenant, {
      name: path.basename(file),
      type: "",
      bytes: new Uint8Array(fs.readFileSync(file)),
    }),
  );
  out(`queued ${jobIds.length} job(s); indexing…`);
  await runtime.queue.drain(tenant.id as TenantId);
  const jobs = listJobs(tenantDb(runtime, tenant), { limit: 500 }).filter((j) =>
    jobIds.includes(j.id),
  );
  for (const job of jobs) {
    out(
      `${job.state.padEnd(6)} ${job.title}${job.outcome ? ` (${job.outcome})` : ""}${job.error ? ` — ${job.error}` : ""}`,
    );
  }
  if (jobs.some((j) => j.state === "failed")) process.exitCode = 1;
}

async function ask(runtime: Runtime, tenantArg: string, question: string) {
  const tenant = requireTenant(runtime, tenantArg);
  for await (const item of askStream(runtime, { tenant, query: question })) {
    if (item.event === "token") process.stdout.write(item.data.text);
    if (item.event === "error") throw new ApiError("upstream_failed", item.data.message);
    if (item.event === "done") {
      out("\n");
      for (const c of item.data.citations) {
        out(`[${c.n}] ${c.title}${c.headingPath ? ` — ${c.headingPath}` : ""}`);
      }
      out(
        `\n${item.data.provider}:${item.data.model} · ${item.data.latency.totalMs} ms · ` +
          `${item.data.usage.promptTokens}+${item.data.usage.completionTokens} tokens` +
          (item.data.usage.estimated ? " (estimated)" : ""),
      );
    }
  }
}

export async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      email: { type: "string" },
      password: { type: "string" },
      name: { type: "string" },
      limit: { type: "string" },
      "new-id": { type: "boolean" },
      yes: { type: "boolean" },
      dir: { type: "string" },
      keep: { type: "string" },
    },
  });
  // Under LiteFS a replica's databases are read-only; the primary runs the migrations.
  const litefsDir = parseConfig(process.env).litefs?.dir;
  if (command === "migrate" && !new ReplicationRole(litefsDir).isPrimary()) {
    out("this node is a LiteFS replica: migrations run on the primary");
    return;
  }
  const config = parseConfig({ LOG_LEVEL: "warn", ...process.env });
  const runtime = await createRuntime({ config, runQueue: command === "ingest" });
  try {
    switch (command) {
      case "admin:create": {
        const password = values.password ?? process.env.BITB_ADMIN_PASSWORD;
        if (!values.email || !password) usage();
        const admin = await createFirstAdmin(runtime, { email: values.email, password });
        out(`admin ${admin.email} created (platform admin)`);
        break;
      }
      case "tenant:create": {
        if (!values.name) usage();
        const tenant = createTenant(runtime, { name: values.name });
        out(tenant.id);
        break;
      }
      case "key:create": {
        if (positionals.length !== 1 || !values.name) usage();
        const tenant = requireTenant(runtime, positionals[0]);
        const { secret } = createSecretKey(runtime.control, {
          tenantId: tenant.id,
          name: values.name,
          createdBy: "cli",
        });
        out(secret);
        break;
      }
      case "tenant:list":
        for (const t of listTenants(runtime.control))
          out(`${t.id}\t${t.plan}\t${t.status}\t${t.name}`);
        break;
      case "ingest":
        if (positionals.length < 2) usage();
        await ingest(runtime, positionals[0] as string, positionals.slice(1));
        break;
      case "ask":
        if (positionals.length < 2) usage();
        await ask(runtime, positionals[0] as string, positionals.slice(1).join(" "));
        break;
      case "jobs": {
        const tenant = requireTenant(runtime, positionals[0]);
        const limit = Number(values.limit ?? 20);
        for (const job of listJobs(tenantDb(runtime, tenant), { limit })) {
          const pct = job.progressTotal
            ? Math.round((100 * job.progressDone) / job.progressTotal)
            : 0;
          out(
            `#${job.id}\t${job.state}\t${job.stage ?? ""}\t${pct}%\t${job.title}${job.error ? `\t${job.error}` : ""}`,
          );
        }
        break;
      }
      case "migrate":
        // Opening migrates: the control database in createRuntime, each tenant here.
        for (const t of listTenants(runtime.control)) runtime.tenants.get(t.id);
        out(`migrated the control database and ${listTenants(runtime.control).length} tenant(s)`);
        break;
      case "tenant:export": {
        if (positionals.length !== 2) usage();
        const file = path.resolve(positionals[1] as string);
        const { tenant, bytes } = exportTenant(runtime, positionals[0], file, "cli");
        out(`exported ${tenant.id} (${tenant.name}) to ${file}: ${bytes} bytes`);
        break;
      }
      case "tenant:import": {
        if (positionals.length !== 1) usage();
        const tenant = await importTenant(runtime, path.resolve(positionals[0] as string), {
          name: values.name,
          newId: values["new-id"],
          actor: "cli",
        });
        out(tenant.id);
        break;
      }
      case "tenant:erase": {
        if (positionals.length !== 1) usage();
        if (!values.yes) {
          throw new ApiError(
            "bad_request",
            "Erasing deletes the tenant's data for good: add --yes.",
          );
        }
        const report = await eraseTenantEverywhere(runtime, positionals[0], "cli");
        out(
          `erased ${report.tenantId}: ${report.filesRemoved.length} file(s), ` +
            `${report.backupsRemoved} backup copy(ies)`,
        );
        break;
      }
      case "backup": {
        const dir = values.dir ? path.resolve(values.dir) : runtime.config.backupDir;
        if (!dir) throw new ApiError("bad_request", "Set BACKUP_DIR or pass --dir.");
        const keep = values.keep === undefined ? runtime.config.BACKUP_KEEP : Number(values.keep);
        if (!Number.isInteger(keep) || keep < 1) usage();
        const run = await runBackup(runtime, { dir, keep, s3: runtime.backupBucket });
        out(
          `backup ${run.dir}: control + ${run.manifest.tenants.length} tenant(s)` +
            `${run.manifest.failed.length ? `, ${run.manifest.failed.length} failed` : ""}` +
            `${run.removed.length ? `; removed ${run.removed.length} old run(s)` : ""}` +
            `${run.uploaded === undefined ? "" : `; uploaded ${run.uploaded} object(s) to the bucket`}`,
        );
        if (run.manifest.failed.length) process.exitCode = 1;
        break;
      }
      default:
        usage();
    }
  } finally {
    await closeRuntime(runtime);
  }
}

if (
  process.argv[1] &&
  path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)
) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    if (error instanceof ConfigError || error instanceof ApiError || error instanceof AuthError) {
      process.stderr.write(`${error.message}\n`);
    } else {
      process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    }
    process.exit(1);
  });
}
