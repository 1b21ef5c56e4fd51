// The operator's command line: `bitb <command>` in the image, `npm run bitb -- <command>` (or
// the npm script shortcuts) in a checkout. `bitb --help` lists the commands (COMMANDS below),
// `bitb help <command>` explains one. Bad usage is one line on stderr and exit code 2; a
// command that fails exits 1.
import fs from "node:fs";
import path from "node:path";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { listJobs } from "#tenants/knowledge-base.ts";
import type { TenantId } from "#tenants/id.ts";
import { askStream } from "#app/server/ask/ask.server.ts";
import { AuthError, createFirstAdmin } from "#app/server/access/auth.server.ts";
import { loadEnvFile, parseConfig, ConfigError } from "#app/server/config.server.ts";
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
import { createProgress } from "./progress.ts";

const out = (line = "") => process.stdout.write(`${line}\n`);

/** Bad usage: one line on stderr and exit code 2 (a failed command exits 1). */
export class UsageError extends Error {
  override name = "UsageError";
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
  }
}

type Options = NonNullable<ParseArgsConfig["options"]>;

interface CommandSpec {
  /** Arguments and options after the command's name. */
  synopsis: string;
  summary: string;
  /** More lines for `bitb help <command>`. */
  details?: string;
  options: Options;
}

const COMMANDS: Record<string, CommandSpec> = {
  "admin:create": {
    synopsis: "--email E [--password P]",
    summary: "creates the first (platform) admin",
    details: "The password comes from --password or, better, BITB_ADMIN_PASSWORD.",
    options: { email: { type: "string" }, password: { type: "string" } },
  },
  "tenant:create": {
    synopsis: "--name N",
    summary: "creates a tenant and prints its id",
    options: { name: { type: "string" } },
  },
  "tenant:list": {
    synopsis: "",
    summary: "lists the tenants: id, plan, status, name",
    options: {},
  },
  "key:create": {
    synopsis: "<tenant> --name N",
    summary: "prints a new secret API key (shown only once)",
    options: { name: { type: "string" } },
  },
  ingest: {
    synopsis: "<tenant> <file-or-folder>...",
    summary: "queues each supported file and waits for the jobs",
    details:
      "Folders are read recursively. Progress goes to stderr: a bar on a terminal, a line\n" +
      "every few seconds otherwise; stdout gets one line per file. Exits 1 if a file failed.",
    options: {},
  },
  ask: {
    synopsis: "<tenant> <question...>",
    summary: "streams the answer with its citations",
    options: {},
  },
  jobs: {
    synopsis: "<tenant> [--limit N]",
    summary: "lists the tenant's ingestion jobs, newest first (default 20)",
    options: { limit: { type: "string" } },
  },
  migrate: {
    synopsis: "",
    summary: "migrates the control and every tenant database",
    details: "On a LiteFS replica it does nothing: the primary runs the migrations.",
    options: {},
  },
  "tenant:export": {
    synopsis: "<tenant> <file>",
    summary: "one consistent SQLite file, registry entry included",
    options: {},
  },
  "tenant:import": {
    synopsis: "<file> [--name N] [--new-id]",
    summary: "imports an exported tenant (--new-id gives it a new id)",
    options: { name: { type: "string" }, "new-id": { type: "boolean" } },
  },
  "tenant:erase": {
    synopsis: "<tenant> --yes",
    summary: "the tenant's data, everywhere, for good (audited)",
    options: { yes: { type: "boolean" } },
  },
  backup: {
    synopsis: "[--dir D] [--keep N]",
    summary: "one backup run now (default BACKUP_DIR, BACKUP_KEEP)",
    options: { dir: { type: "string" }, keep: { type: "string" } },
  },
};

const HELP_OPTION: Options = { help: { type: "boolean", short: "h" } };

function version(): string {
  // scripts/cli.ts and the bundle build/cli.js both sit one folder below package.json.
  const pkg = JSON.parse(fs.readFileSync(new URL("../package.json", import.meta.url), "utf8"));
  return String((pkg as { version?: unknown }).version);
}

export function usageText(): string {
  const width = Math.max(...Object.entries(COMMANDS).map(([n, c]) => `${n} ${c.synopsis}`.length));
  const lines = Object.entries(COMMANDS).map(
    ([name, c]) => `  ${`${name} ${c.synopsis}`.padEnd(width)}  ${c.summary}`,
  );
  return [
    "Usage: bitb <command> [arguments]",
    "",
    "Commands:",
    ...lines,
    "",
    "Options: -h, --help (also `bitb help <command>`), -v, --version",
    "Settings come from the environment and a .env file, as the server's (README, Configuration).",
  ].join("\n");
}

export function commandHelp(name: string): string {
  const spec = COMMANDS[name];
  if (!spec) throw new UsageError(`unknown command '${name}'`);
  return [
    `Usage: bitb ${name}${spec.synopsis ? ` ${spec.synopsis}` : ""}`,
    "",
    `${spec.summary[0]?.toUpperCase()}${spec.summary.slice(1)}.`,
    ...(spec.details ? ["", spec.details] : []),
  ].join("\n");
}

function usage(command: string, problem = "missing or extra arguments"): never {
  throw new UsageError(problem, command);
}

/** node:util's parse errors, as one line without their advice on `--`. */
function parseProblem(error: unknown): string | undefined {
  const code = (error as { code?: unknown }).code;
  if (typeof code !== "string" || !code.startsWith("ERR_PARSE_ARGS_")) return undefined;
  const message = error instanceof Error ? error.message : String(error);
  const option = /'([^']+)'/.exec(message)?.[1];
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && option) return `unknown option '${option}'`;
  return message.split(". ")[0]?.replace(/\.$/, "");
}

export function collectFiles(inputs: string[]): string[] {
  const files: string[] = [];
  for (const input of inputs) {
    if (!fs.existsSync(input))
      throw new ApiError("bad_request", `No such file or folder: ${input}`);
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
  if (files.length === 0) usage("ingest", "no supported file found");
  const jobIds = files.map((file) =>
    intakeFile(runtime, tenant, {
      name: path.basename(file),
      type: "",
      bytes: new Uint8Array(fs.readFileSync(file)),
    }),
  );
  out(`queued ${jobIds.length} job(s); indexing…`);
  const waiting = new Set(jobIds);
  const titles = new Map(files.map((file, i) => [jobIds[i], path.basename(file)]));
  let failed = 0;
  const progress = createProgress({ unit: "files", total: jobIds.length });
  const stopListening = runtime.queue.onProgress((event) => {
    if (!waiting.has(event.jobId)) return;
    if (event.state === "done" || event.state === "failed") {
      waiting.delete(event.jobId);
      if (event.state === "failed") failed++;
    }
    const current = event.stage ? `${titles.get(event.jobId)} (${event.stage})` : undefined;
    progress.update(jobIds.length - waiting.size, failed, waiting.size ? current : undefined);
  });
  try {
    await runtime.queue.drain(tenant.id as TenantId);
  } finally {
    stopListening();
    progress.finish();
  }
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
  if (command === undefined || command === "--help" || command === "-h") {
    if (command === undefined) throw new UsageError("no command given");
    out(usageText());
    return;
  }
  if (command === "--version" || command === "-v") {
    out(version());
    return;
  }
  if (command === "help") {
    out(rest[0] === undefined ? usageText() : commandHelp(rest[0]));
    return;
  }
  const spec = COMMANDS[command];
  if (!spec) throw new UsageError(`unknown command '${command}'`);
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      strict: true,
      options: { ...spec.options, ...HELP_OPTION },
    });
  } catch (error) {
    const problem = parseProblem(error);
    if (problem) throw new UsageError(problem, command);
    throw error;
  }
  const { positionals } = parsed;
  const values = parsed.values as Record<string, string | boolean | undefined> & {
    email?: string;
    password?: string;
    name?: string;
    limit?: string;
    "new-id"?: boolean;
    yes?: boolean;
    dir?: string;
    keep?: string;
    help?: boolean;
  };
  if (values.help) {
    out(commandHelp(command));
    return;
  }
  // `.env` in the working folder (or ENV_FILE), under what the environment already sets.
  loadEnvFile();
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
        if (!values.email || !password) usage("admin:create");
        const admin = await createFirstAdmin(runtime, { email: values.email, password });
        out(`admin ${admin.email} created (platform admin)`);
        break;
      }
      case "tenant:create": {
        if (!values.name) usage("tenant:create");
        const tenant = createTenant(runtime, { name: values.name });
        out(tenant.id);
        break;
      }
      case "key:create": {
        if (positionals.length !== 1 || !values.name) usage("key:create");
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
        if (positionals.length < 2) usage("ingest");
        await ingest(runtime, positionals[0] as string, positionals.slice(1));
        break;
      case "ask":
        if (positionals.length < 2) usage("ask");
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
      case "migrate": {
        // Opening migrates: the control database in createRuntime, each tenant here.
        const tenants = listTenants(runtime.control);
        const progress = createProgress({ unit: "tenants", total: tenants.length });
        tenants.forEach((t, i) => {
          runtime.tenants.get(t.id);
          progress.update(i + 1, 0, t.id);
        });
        progress.finish();
        out(`migrated the control database and ${tenants.length} tenant(s)`);
        break;
      }
      case "tenant:export": {
        if (positionals.length !== 2) usage("tenant:export");
        const file = path.resolve(positionals[1] as string);
        const { tenant, bytes } = exportTenant(runtime, positionals[0], file, "cli");
        out(`exported ${tenant.id} (${tenant.name}) to ${file}: ${bytes} bytes`);
        break;
      }
      case "tenant:import": {
        if (positionals.length !== 1) usage("tenant:import");
        const tenant = await importTenant(runtime, path.resolve(positionals[0] as string), {
          name: values.name,
          newId: values["new-id"],
          actor: "cli",
        });
        out(tenant.id);
        break;
      }
      case "tenant:erase": {
        if (positionals.length !== 1) usage("tenant:erase");
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
        if (!Number.isInteger(keep) || keep < 1) usage("backup");
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
        usage(command);
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
    if (error instanceof UsageError) {
      const where = error.command ? `bitb ${error.command}` : "bitb";
      const see = error.command ? `bitb help ${error.command}` : "bitb --help";
      process.stderr.write(`${where}: ${error.message} (see '${see}')\n`);
      process.exit(2);
    }
    if (error instanceof ConfigError || error instanceof ApiError || error instanceof AuthError) {
      process.stderr.write(`${error.message}\n`);
    } else {
      process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    }
    process.exit(1);
  });
}
