// What the load, tenant and ingestion benchmarks share: percentiles, a demo tenant built
// through the operator CLI from a corpus of the caller's choosing, and readings of a server
// process (RSS, open descriptors) from /proc.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { readAskEvents } from "#app/shared/ask-events.ts";
import { cli } from "../../tests/support/cli.ts";

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

export const ms = (value: number) => `${value.toFixed(1)} ms`;
export const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

/** The machine's state, printed with every figure: 2 shared cores make absolute numbers noisy. */
export function machineLine(): string {
  const load = os.loadavg().map((l) => l.toFixed(2));
  return `machine: ${os.cpus().length} cores, load average ${load.join(" ")}, node ${process.version}`;
}

/** Resident memory of a process in bytes (VmRSS), or NaN where /proc is unavailable. */
export function rssOf(pid: number): number {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
    return kb ? Number(kb) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Open file descriptors of a process, or NaN where /proc is unavailable. */
export function fdsOf(pid: number): number {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return Number.NaN;
  }
}

export interface CorpusDocument {
  title: string;
  text: string;
}

/**
 * A corpus for a demo tenant: a JSON Lines file of `{title, text}` records (a help centre's
 * entries), or Markdown/text files and folders. Default: this repository's README.md and docs/.
 */
export function readCorpus(inputs: readonly string[], root: string): CorpusDocument[] {
  const sources =
    inputs.length > 0 ? inputs : [path.join(root, "README.md"), path.join(root, "docs")];
  const documents: CorpusDocument[] = [];
  for (const input of sources) {
    const stat = fs.statSync(input);
    if (stat.isDirectory()) {
      for (const entry of fs.readdirSync(input, { recursive: true, withFileTypes: true })) {
        if (entry.isFile() && /\.(md|txt)$/i.test(entry.name)) {
          const file = path.join(entry.parentPath, entry.name);
          documents.push({ title: entry.name, text: fs.readFileSync(file, "utf8") });
        }
      }
    } else if (input.endsWith(".jsonl")) {
      for (const line of fs.readFileSync(input, "utf8").split("\n")) {
        if (!line.trim()) continue;
        const record = JSON.parse(line) as { title?: unknown; text?: unknown };
        if (typeof record.text !== "string" || !record.text.trim()) continue;
        documents.push({
          title: typeof record.title === "string" && record.title ? record.title : "Untitled",
          text: record.text,
        });
      }
    } else {
      documents.push({ title: path.basename(input), text: fs.readFileSync(input, "utf8") });
    }
  }
  if (documents.length === 0) throw new Error(`no documents in ${sources.join(", ")}`);
  return documents;
}

/** Questions a visitor could ask of a corpus: its titles and first sentences, de-duplicated. */
export function questionsOf(documents: readonly CorpusDocument[], count: number): string[] {
  const questions = new Set<string>();
  for (const doc of documents) {
    const heading = /^#+\s+(.+)$/m.exec(doc.text)?.[1] ?? doc.title.replace(/\.(md|txt)$/i, "");
    questions.add(heading.endsWith("?") ? heading : `What about ${heading}?`);
    if (questions.size >= count) break;
  }
  for (const doc of documents) {
    if (questions.size >= count) break;
    const sentence = doc.text
      .replace(/\s+/g, " ")
      .split(/(?<=[.!?])\s/)[0]
      ?.slice(0, 120);
    if (sentence) questions.add(`Tell me: ${sentence}`);
  }
  return [...questions].slice(0, count);
}

/**
 * The server settings every benchmark runs with: the per-tenant, per-session, per-key and
 * per-address rate limits and the per-address connection cap are off (one loopback client
 * plays thousands of visitors), and new tenants get
 * an effectively unlimited token budget (the fake LLM's tokens are not the point).
 */
export const BENCH_LIMITS = {
  RATE_LIMIT_TENANT_PER_MINUTE: "0",
  RATE_LIMIT_SESSION_PER_MINUTE: "0",
  RATE_LIMIT_IP_PER_MINUTE: "0",
  RATE_LIMIT_KEY_PER_MINUTE: "0",
  HTTP_MAX_CONNECTIONS_PER_ADDRESS: "0",
  TRIAL_TOKEN_BUDGET: "1000000000000",
} as const;

/** Secret API keys the benchmarks ask with, by tenant (server-to-server asks). */
const secretKeys = new Map<string, string>();

export function rememberSecretKey(tenantId: string, secret: string): void {
  secretKeys.set(tenantId, secret);
}

/** The Authorization header of a tenant's asks. */
export function authHeaders(tenantId: string): Record<string, string> {
  const secret = secretKeys.get(tenantId);
  if (!secret) throw new Error(`no secret key for ${tenantId}: call rememberSecretKey first`);
  return { authorization: `Bearer ${secret}` };
}

/** Makes a secret key with the CLI and uses it for the tenant's asks. */
export async function cliSecretKey(dataDir: string, tenantId: string): Promise<void> {
  const { stdout } = await cli(dataDir, ["key:create", tenantId, "--name", "bench"]);
  rememberSecretKey(tenantId, stdout.trim());
}

/**
 * Creates a tenant and ingests the documents through the operator CLI (`tenant:create`,
 * `ingest`), each written as a Markdown file headed by its title. Returns the tenant id.
 */
export async function createDemoTenant(
  dataDir: string,
  documents: readonly CorpusDocument[],
  name = "Bench",
  env: Record<string, string> = {},
): Promise<string> {
  const tenantId = (
    await cli(dataDir, ["tenant:create", "--name", name], { ...BENCH_LIMITS, ...env })
  ).stdout.trim();
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-bench-corpus-"));
  try {
    documents.forEach((doc, i) => {
      const body = /^#\s/.test(doc.text) ? doc.text : `# ${doc.title}\n\n${doc.text}`;
      fs.writeFileSync(path.join(folder, `${String(i).padStart(5, "0")}.md`), body);
    });
    await cli(dataDir, ["ingest", tenantId, folder], env, 600_000);
  } finally {
    fs.rmSync(folder, { recursive: true, force: true });
  }
  return tenantId;
}

export interface AskOutcome {
  ok: boolean;
  status: number;
  cached: boolean;
  totalMs: number;
  firstByteMs: number;
  error?: string;
}

/** One SSE ask through HTTP, read to its end. */
export async function askOnce(
  url: string,
  tenantId: string,
  query: string,
  extra: Record<string, unknown> = {},
): Promise<AskOutcome> {
  const started = performance.now();
  try {
    const res = await fetch(`${url}/api/ask`, {
      method: "POST",
      headers: { "content-type": "application/json", ...authHeaders(tenantId) },
      body: JSON.stringify({ tenant_id: tenantId, query, ...extra }),
    });
    const firstByteMs = performance.now() - started;
    if (!res.ok || !res.body) {
      const text = await res.text();
      return { ok: false, status: res.status, cached: false, totalMs: 0, firstByteMs, error: text };
    }
    let cached = false;
    let done = false;
    let error: string | undefined;
    for await (const event of readAskEvents(res.body)) {
      if (event.event === "done") {
        done = true;
        cached = event.data.cached;
      } else if (event.event === "error") {
        error = `${event.data.code}: ${event.data.message}`;
      }
    }
    return {
      ok: done && !error,
      status: res.status,
      cached,
      totalMs: performance.now() - started,
      firstByteMs,
      error: error ?? (done ? undefined : "stream ended without done"),
    };
  } catch (error) {
    return {
      ok: false,
      status: 0,
      cached: false,
      totalMs: performance.now() - started,
      firstByteMs: 0,
      error: (error as Error).message,
    };
  }
}

/** CPU time (user + system) a process has used so far, in ms, or NaN without /proc. */
export function cpuMsOf(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may contain spaces) start after the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}

// USER_HZ: 100 on every Linux architecture Node supports.
const CLOCK_TICKS_PER_SECOND = 100;
