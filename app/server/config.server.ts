// Every setting of the server, parsed once from the environment at start-up. A bad value
// stops the process with a message naming the variable. Nothing else reads process.env.
import path from "node:path";
import { z } from "zod";

const bool = z
  .enum(["true", "false", "1", "0", "yes", "no"])
  .transform((v) => v === "true" || v === "1" || v === "yes");
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? undefined : v.trim()));
const optionalUrl = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? undefined : v.trim()))
  .pipe(z.url({ protocol: /^https?$/ }).optional());

export const envSchema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("production"),
  PORT: int(0, 65535).default(3000),
  HOST: z.string().min(1).default("0.0.0.0"),
  PUBLIC_URL: optionalUrl,
  /**
   * Host names this server answers to besides PUBLIC_URL's, comma-separated; `.example.com`
   * also allows its subdomains. Requests naming another Host get 421.
   */
  ALLOWED_HOSTS: optionalString.pipe(
    z
      .string()
      .regex(
        /^\s*\.?(?:[a-z0-9-]+\.)*[a-z0-9-]+\s*(?:,\s*\.?(?:[a-z0-9-]+\.)*[a-z0-9-]+\s*)*$/i,
        "comma-separated host names without scheme or port (e.g. chat.example.com,.example.org)",
      )
      .optional(),
  ),
  DATA_DIR: z.string().min(1).default("./data"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  DEMO_TENANT: bool.default(true),
  /**
   * The request header a trusted proxy in front of the server puts the client's address in
   * (`fly-client-ip` on Fly; `x-forwarded-for`, whose last entry is used). Unset: the socket's
   * address. Never set it without such a proxy: clients could then choose their address.
   */
  CLIENT_IP_HEADER: optionalString
    .pipe(
      z
        .string()
        .regex(/^[a-z0-9-]+$/i, "a header name")
        .optional(),
    )
    .transform((v) => v?.toLowerCase()),
  // ---- the HTTP server's defences against slow and greedy clients (server.js) ----
  /** How long a client may take to send a request's headers (slowloris). */
  HTTP_HEADERS_TIMEOUT_MS: int(1000, 600_000).default(10_000),
  /** How long a client may take to send a whole request, body included (slow uploads). */
  HTTP_REQUEST_TIMEOUT_MS: int(1000, 3_600_000).default(120_000),
  /**
   * Open connections one client address may hold at once; more are closed on arrival (0: no
   * cap). Unset: 64, or off with CLIENT_IP_HEADER (every connection then comes from the proxy).
   */
  HTTP_MAX_CONNECTIONS_PER_ADDRESS: optionalString.pipe(
    z.coerce.number<string | undefined>().int().min(0).max(1_000_000).optional(),
  ),
  SIGN_IN_MAX_FAILURES: int(1, 1000).default(5),
  SIGN_IN_MAX_FAILURES_PER_CLIENT: int(1, 100_000).default(20),
  SIGN_IN_LOCKOUT_MS: int(1000, 7 * 24 * 3_600_000).default(15 * 60 * 1000),

  TENANT_DB_CACHE_SIZE: int(1, 100_000).default(64),
  MAX_UPLOAD_BYTES: int(1024, 512 * 1024 * 1024).default(20 * 1024 * 1024),
  MAX_QUERY_CHARS: int(16, 100_000).default(2000),

  INGEST_CONCURRENCY: int(1, 16).default(1),
  INGEST_MAX_ATTEMPTS: int(1, 20).default(3),
  INGEST_RETRY_BASE_MS: int(10, 3_600_000).default(2000),
  INGEST_LEASE_MS: int(1000, 3_600_000).default(15_000),
  INGEST_POLL_MS: int(50, 60_000).default(1000),
  CHUNK_MAX_TOKENS: int(32, 4096).default(220),
  CHUNK_OVERLAP_TOKENS: int(0, 1024).default(30),
  FETCH_TIMEOUT_MS: int(100, 600_000).default(15_000),
  /** Let URL sources reach loopback and private networks (off: tenants could probe the LAN). */
  INGEST_ALLOW_PRIVATE_URLS: bool.default(false),
  // ---- website crawls (docs/decisions/029) ----
  /** The most pages one crawl may take (a crawl asks for 50 unless told otherwise). */
  CRAWL_MAX_PAGES: int(1, 100_000).default(500),
  /** The deepest a crawl may follow links from its start page. */
  CRAWL_MAX_DEPTH: int(0, 50).default(10),
  /** The longest pause between two requests a site's Crawl-delay can impose. */
  CRAWL_DELAY_MAX_MS: int(0, 600_000).default(10_000),
  /** How often the primary looks for scheduled re-crawls that are due. */
  CRAWL_SCHEDULE_CHECK_MS: int(100, 24 * 3_600_000).default(60_000),

  EMBEDDINGS_BASE_URL: optionalUrl,
  EMBEDDINGS_API_KEY: optionalString,
  EMBEDDINGS_MODEL: optionalString,
  EMBEDDINGS_BATCH_SIZE: int(1, 2048).default(32),

  GROQ_API_KEY: optionalString,
  GROQ_BASE_URL: optionalUrl,
  GROQ_MODEL: z.string().min(1).default("llama-3.3-70b-versatile"),
  LLM_BASE_URL: optionalUrl,
  LLM_API_KEY: optionalString,
  LLM_MODEL: optionalString,
  LLM_TIMEOUT_MS: int(100, 600_000).default(60_000),
  LLM_FIRST_TOKEN_TIMEOUT_MS: int(100, 600_000).default(10_000),
  LLM_MAX_RETRIES: int(0, 3).default(3),
  LLM_RETRY_BASE_MS: int(1, 60_000).default(250),
  LLM_BREAKER_THRESHOLD: z.coerce.number().gt(0).max(1).default(0.5),
  LLM_BREAKER_WINDOW_MS: int(1000, 3_600_000).default(60_000),
  LLM_BREAKER_MIN_CALLS: int(1, 10_000).default(5),
  LLM_BREAKER_HALF_OPEN_MS: int(100, 3_600_000).default(30_000),
  LLM_MAX_CONCURRENT: int(1, 1000).default(3),
  LLM_QUEUE_SIZE: int(0, 100_000).default(20),
  BATCH_ENABLED: bool.default(true),
  BATCH_MAX_QUESTIONS: int(1, 20).default(20),
  BATCH_AGGREGATE_MAX: int(1, 20).default(5),
  BATCH_LLM_CONCURRENCY: int(1, 100).default(3),
  BATCH_RETRIEVAL_CONCURRENCY: int(1, 100).default(10),
  LLM_MAX_TOKENS: int(16, 32_768).default(700),

  RETRIEVAL_TOP_K: int(1, 50).default(6),
  HISTORY_TURNS: int(0, 20).default(3),
  RETRIEVAL_CACHE_SIZE: int(0, 100_000).default(500),
  RETRIEVAL_CACHE_TTL_MS: int(1000, 7 * 24 * 3_600_000).default(3_600_000),
  ANSWER_CACHE_SIZE: int(0, 100_000).default(200),
  ANSWER_CACHE_TTL_MS: int(1000, 7 * 24 * 3_600_000).default(3_600_000),
  CACHE_TENANTS: int(1, 1_000_000).default(1000),

  // Observability (docs/decisions/012-observability.md). With neither METRICS_TOKEN nor
  // METRICS_PORT, /metrics is off: metrics are never public by accident.
  /** Serves /metrics on the main port to requests bearing this token. */
  METRICS_TOKEN: optionalString.pipe(
    z.string().min(16, "use at least 16 characters (e.g. openssl rand -hex 24)").optional(),
  ),
  /** Serves /metrics on this separate port (and host) too; 0 picks a free port. */
  METRICS_PORT: optionalString.pipe(
    z.coerce.number<string | undefined>().int().min(0).max(65535).optional(),
  ),
  METRICS_HOST: z.string().min(1).default("127.0.0.1"),
  /** OTLP/HTTP collector base URL; traces are exported to `${it}/v1/traces`. Off when unset. */
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalUrl,
  OTEL_SERVICE_NAME: z.string().min(1).default("bitb"),

  // ---- embeds, limits and quotas (docs/decisions/016, 017) ----
  /** How long a visitor's signed session token lives (its conversation ends with it). */
  VISITOR_SESSION_TTL_SECONDS: int(60, 30 * 24 * 3600).default(24 * 3600),
  /** Token buckets, in requests per minute (also the burst); 0 switches a bucket off. */
  RATE_LIMIT_TENANT_PER_MINUTE: int(0, 1_000_000).default(120),
  RATE_LIMIT_SESSION_PER_MINUTE: int(0, 1_000_000).default(20),
  RATE_LIMIT_IP_PER_MINUTE: int(0, 1_000_000).default(60),
  /** Each secret key's own bucket (asks and MCP calls), inside its tenant's. */
  RATE_LIMIT_KEY_PER_MINUTE: int(0, 1_000_000).default(60),
  /** Machines that keep their own limiter file (each gets 1/N of every limit). */
  RATE_LIMIT_INSTANCES: int(1, 1000).default(1),
  /** Where the limiter's SQLite file lives: local to the host, never a replicated mount. */
  RATE_LIMIT_STATE_DIR: optionalString,
  /** A new trial tenant's length in days and token budget (prompt + completion tokens). */
  TRIAL_DAYS: int(1, 3650).default(14),
  TRIAL_TOKEN_BUDGET: int(0, 1_000_000_000_000).default(200_000),
  // ---- self-serve trial sign-up at /signup (docs/decisions/030) ----
  /** Anyone may sign up for a trial. Unset: on in development and with the demo tenant. */
  SIGNUP_ENABLED: bool.optional(),
  /** Sign-up attempts one client address may make per hour (0: no limit). */
  SIGNUP_PER_CLIENT_PER_HOUR: int(0, 100_000).default(5),
  // ---- deployment: shutdown and backups (docs/decisions/021) ----
  /** How long a stop (SIGTERM) waits for requests and ingestion steps before closing anyway. */
  SHUTDOWN_TIMEOUT_MS: int(0, 600_000).default(8000),
  /** A folder for scheduled backups of every database; unset: no scheduled backups. */
  BACKUP_DIR: optionalString,
  BACKUP_INTERVAL_MS: int(60_000, 30 * 24 * 3_600_000).default(24 * 3_600_000),
  /** Backup runs kept; older ones are deleted after each run. */
  BACKUP_KEEP: int(1, 1000).default(7),
  /**
   * An S3-compatible bucket each backup run is also uploaded to (path style, with an optional
   * key prefix): https://s3.eu-west-1.amazonaws.com/my-bucket/bitb, http://minio:9000/backups.
   */
  BACKUP_S3_URL: optionalUrl,
  BACKUP_S3_REGION: z.string().min(1).default("us-east-1"),
  BACKUP_S3_ACCESS_KEY_ID: optionalString,
  BACKUP_S3_SECRET_ACCESS_KEY: optionalString,
  // ---- replica-safe writes under LiteFS (docs/decisions/023) ----
  /** This machine runs under LiteFS: its role comes from LITEFS_DIR/.primary. */
  LITEFS: bool.default(false),
  /** The LiteFS mount (where `.primary` appears on replicas); default DATA_DIR. */
  LITEFS_DIR: optionalString,
  /**
   * How a replica reaches the primary's app, `{primary}` standing for the primary's hostname
   * (from `.primary`). Default on Fly: http://{primary}.vm.<FLY_APP_NAME>.internal:8080, the
   * LiteFS proxy of litefs.yml (the app itself listens on loopback there).
   */
  PRIMARY_URL: optionalString.pipe(
    z
      .string()
      .regex(/^https?:\/\/\S+$/, "an http(s) URL, optionally with {primary}")
      .optional(),
  ),
  FLY_APP_NAME: optionalString,
  /** How often a replica forwards its outbox, and how many entries per batch. */
  OUTBOX_FLUSH_MS: int(50, 600_000).default(1000),
  OUTBOX_BATCH_SIZE: int(1, 1000).default(200),
  /** How long a replica waits to catch up with an admin's own write before replaying the read. */
  REPLICA_CATCH_UP_MS: int(0, 60_000).default(2000),
});

export type Env = z.infer<typeof envSchema>;

export type Config = Env & {
  /**
   * The Host names this server answers to: PUBLIC_URL's and ALLOWED_HOSTS, lower-case. Empty:
   * loopback names only (allowed-hosts.server.ts).
   */
  allowedHosts: string[];
  /** NODE_ENV=production was set explicitly: serving then needs PUBLIC_URL or ALLOWED_HOSTS. */
  productionExplicit: boolean;
  /** HTTP_MAX_CONNECTIONS_PER_ADDRESS with its default applied (0: no cap). */
  maxConnectionsPerAddress: number;
  /** DATA_DIR resolved to an absolute path. */
  dataDir: string;
  /** RATE_LIMIT_STATE_DIR (default DATA_DIR) resolved to an absolute path. */
  limitsDir: string;
  /** BACKUP_DIR resolved to an absolute path, when scheduled backups are on. */
  backupDir: string | undefined;
  /** Where backup runs are uploaded too, when BACKUP_S3_URL is set. */
  backupS3:
    { url: string; region: string; accessKeyId: string; secretAccessKey: string } | undefined;
  /** Under LiteFS: the mount to read the role from, and the primary's URL template. */
  litefs: { dir: string; primaryUrl: string } | undefined;
  embeddings:
    | { kind: "local" }
    | { kind: "openai"; baseUrl: string; apiKey?: string; model: string; batchSize: number };
  llm:
    | { kind: "extractive" }
    | { kind: "groq"; apiKey: string; baseUrl?: string; model: string }
    | { kind: "openai"; baseUrl: string; apiKey?: string; model: string };
};

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Parses an environment (process.env by default). Throws ConfigError naming each bad variable. */
export function parseConfig(source: Record<string, string | undefined> = process.env): Config {
  const result = envSchema.safeParse(source);
  if (!result.success) {
    const lines = result.error.issues.map(
      (issue) => `  ${issue.path.join(".") || "(environment)"}: ${issue.message}`,
    );
    throw new ConfigError(`Invalid configuration:\n${lines.join("\n")}`);
  }
  const env = result.data;
  if (env.EMBEDDINGS_BASE_URL && !env.EMBEDDINGS_MODEL) {
    throw new ConfigError(
      "Invalid configuration:\n  EMBEDDINGS_MODEL: required when EMBEDDINGS_BASE_URL is set",
    );
  }
  if (env.LLM_BASE_URL && !env.LLM_MODEL) {
    throw new ConfigError("Invalid configuration:\n  LLM_MODEL: required when LLM_BASE_URL is set");
  }
  if (env.CHUNK_OVERLAP_TOKENS >= env.CHUNK_MAX_TOKENS) {
    throw new ConfigError(
      "Invalid configuration:\n  CHUNK_OVERLAP_TOKENS: must be smaller than CHUNK_MAX_TOKENS",
    );
  }
  if (env.BACKUP_S3_URL) {
    const missing = [
      ["BACKUP_DIR", env.BACKUP_DIR],
      ["BACKUP_S3_ACCESS_KEY_ID", env.BACKUP_S3_ACCESS_KEY_ID],
      ["BACKUP_S3_SECRET_ACCESS_KEY", env.BACKUP_S3_SECRET_ACCESS_KEY],
    ].filter(([, value]) => value === undefined);
    if (missing.length > 0) {
      throw new ConfigError(
        `Invalid configuration:\n${missing
          .map(([name]) => `  ${name}: required when BACKUP_S3_URL is set`)
          .join("\n")}`,
      );
    }
    if (new URL(env.BACKUP_S3_URL).pathname.split("/").every((s) => s === "")) {
      throw new ConfigError(
        "Invalid configuration:\n  BACKUP_S3_URL: must name a bucket, e.g. https://<endpoint>/<bucket>",
      );
    }
  }
  if (env.LITEFS && !env.PRIMARY_URL && !env.FLY_APP_NAME) {
    throw new ConfigError(
      "Invalid configuration:\n  PRIMARY_URL: required with LITEFS=true outside Fly.io " +
        "(how replicas reach the primary, e.g. http://{primary}:3000)",
    );
  }
  if (env.HTTP_HEADERS_TIMEOUT_MS > env.HTTP_REQUEST_TIMEOUT_MS) {
    throw new ConfigError(
      "Invalid configuration:\n  HTTP_HEADERS_TIMEOUT_MS: must not be larger than HTTP_REQUEST_TIMEOUT_MS",
    );
  }
  const embeddings: Config["embeddings"] = env.EMBEDDINGS_BASE_URL
    ? {
        kind: "openai",
        baseUrl: env.EMBEDDINGS_BASE_URL,
        apiKey: env.EMBEDDINGS_API_KEY,
        model: env.EMBEDDINGS_MODEL as string,
        batchSize: env.EMBEDDINGS_BATCH_SIZE,
      }
    : { kind: "local" };
  const llm: Config["llm"] = env.GROQ_API_KEY
    ? { kind: "groq", apiKey: env.GROQ_API_KEY, baseUrl: env.GROQ_BASE_URL, model: env.GROQ_MODEL }
    : env.LLM_BASE_URL
      ? {
          kind: "openai",
          baseUrl: env.LLM_BASE_URL,
          apiKey: env.LLM_API_KEY,
          model: env.LLM_MODEL as string,
        }
      : { kind: "extractive" };
  return {
    ...env,
    allowedHosts: [
      ...(env.PUBLIC_URL ? [new URL(env.PUBLIC_URL).hostname.toLowerCase()] : []),
      ...(env.ALLOWED_HOSTS ?? "")
        .split(",")
        .map((h) => h.trim().toLowerCase())
        .filter((h) => h !== ""),
      // On Fly.io the app's own name under fly.dev is always this app's.
      ...(env.FLY_APP_NAME ? [`${env.FLY_APP_NAME.toLowerCase()}.fly.dev`] : []),
    ],
    productionExplicit: source.NODE_ENV?.trim() === "production",
    maxConnectionsPerAddress:
      env.HTTP_MAX_CONNECTIONS_PER_ADDRESS ?? (env.CLIENT_IP_HEADER ? 0 : 64),
    dataDir: path.resolve(env.DATA_DIR),
    limitsDir: path.resolve(env.RATE_LIMIT_STATE_DIR ?? env.DATA_DIR),
    backupDir: env.BACKUP_DIR === undefined ? undefined : path.resolve(env.BACKUP_DIR),
    backupS3: env.BACKUP_S3_URL
      ? {
          url: env.BACKUP_S3_URL,
          region: env.BACKUP_S3_REGION,
          accessKeyId: env.BACKUP_S3_ACCESS_KEY_ID as string,
          secretAccessKey: env.BACKUP_S3_SECRET_ACCESS_KEY as string,
        }
      : undefined,
    litefs: env.LITEFS
      ? {
          dir: path.resolve(env.LITEFS_DIR ?? env.DATA_DIR),
          primaryUrl: env.PRIMARY_URL ?? `http://{primary}.vm.${env.FLY_APP_NAME}.internal:8080`,
        }
      : undefined,
    embeddings,
    llm,
  };
}

/**
 * The checks only a serving process makes (the CLI needs no public origin): with
 * NODE_ENV=production, the app's own origin must come from PUBLIC_URL or ALLOWED_HOSTS, never
 * from whatever Host a request names.
 */
export function assertServingConfig(config: Pick<Config, "allowedHosts" | "productionExplicit">) {
  if (config.productionExplicit && config.allowedHosts.length === 0) {
    throw new ConfigError(
      "Invalid configuration:\n  PUBLIC_URL: required with NODE_ENV=production: the origin " +
        "browsers reach this server at (e.g. https://chat.example.com), or name its host " +
        "names in ALLOWED_HOSTS",
    );
  }
}
