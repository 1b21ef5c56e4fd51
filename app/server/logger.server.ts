// The one logger: pino, JSON in production and pretty in development, with secrets redacted
// twice: by key (pino's `redact` paths: passwords, keys, tokens, cookies, authorization
// headers) and by value, in every finished line (error messages, URLs, free text): Groq
// `gsk_…` and OpenAI `sk-…` keys, our `bitb_sk_…` keys, bearer and basic credentials, the
// admin session cookie, and `token=`/`key=`/`password=` URL parameters.
import pino, { type Logger } from "pino";
import { requestLogFields } from "./request-context.server.ts";
import { isSpanContextValid, trace, TraceFlags } from "@opentelemetry/api";

export type { Logger };

/**
 * The request id (and tenant id) of the request that caused the line, and the trace and span
 * it happened in when the request is traced (OpenTelemetry's log correlation names).
 */
function logFields(): Record<string, string> {
  const fields = requestLogFields();
  const span = trace.getActiveSpan()?.spanContext();
  if (!span || !isSpanContextValid(span) || !(span.traceFlags & TraceFlags.SAMPLED)) return fields;
  return { ...fields, trace_id: span.traceId, span_id: span.spanId };
}

export const REDACTED = "[redacted]";

const secretKeys = [
  "password",
  "passwordHash",
  "newPassword",
  "apiKey",
  "api_key",
  "authorization",
  "cookie",
  "token",
  "setupToken",
  "secret",
  "sessionId",
  "GROQ_API_KEY",
  "LLM_API_KEY",
  "EMBEDDINGS_API_KEY",
  "secretAccessKey",
  "BACKUP_S3_SECRET_ACCESS_KEY",
];

export const redactPaths = [
  ...secretKeys,
  ...secretKeys.map((key) => `*.${key}`),
  ...secretKeys.map((key) => `*.*.${key}`),
  'headers["set-cookie"]',
  '*.headers["set-cookie"]',
  "*.headers.authorization",
  "*.headers.cookie",
  '*.headers["x-api-key"]',
];

/** Marks the one log line meant to carry a secret: the first-admin setup link. */
export const DELIVERS_SETUP_LINK = "deliversSetupLink";

interface ValuePattern {
  pattern: RegExp;
  replace: string;
  /** Left alone in the setup-link line, whose token is its purpose. */
  exemptInSetupLink?: boolean;
}

// Applied to the serialized JSON line, so they stop at quotes, backslashes and whitespace.
const valuePatterns: readonly ValuePattern[] = [
  { pattern: /\bgsk_[A-Za-z0-9]{8,}/g, replace: `gsk_${REDACTED}` },
  { pattern: /(?<![A-Za-z0-9])sk-[A-Za-z0-9_-]{12,}/g, replace: `sk-${REDACTED}` },
  { pattern: /\bbitb_sk_[A-Za-z0-9_-]+/g, replace: `bitb_sk_${REDACTED}` },
  { pattern: /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{6,}/gi, replace: `$1 ${REDACTED}` },
  { pattern: /(__bitb_[a-z_]+=)[^;\s"\\,]+/g, replace: `$1${REDACTED}` },
  {
    pattern:
      /([?&](?:token|access_token|api_key|apikey|key|password|secret|session)=)[^&\s"\\#]+/gi,
    replace: `$1${REDACTED}`,
    exemptInSetupLink: true,
  },
];

/** Removes secret-looking values from one finished log line. */
export function redactSecretValues(line: string): string {
  const setupLink = line.includes(`"${DELIVERS_SETUP_LINK}":true`);
  let out = line;
  for (const { pattern, replace, exemptInSetupLink } of valuePatterns) {
    if (setupLink && exemptInSetupLink) continue;
    out = out.replace(pattern, replace);
  }
  return out;
}

export function createLogger(options: {
  level: string;
  pretty: boolean;
  /** Where lines go (tests); standard output by default. */
  destination?: pino.DestinationStream;
}): Logger {
  const settings: pino.LoggerOptions = {
    level: options.level,
    redact: { paths: redactPaths, censor: REDACTED },
    base: { service: "bitb" },
    // The request id (and tenant id) of the request that caused the line, when there is one.
    mixin: logFields,
    hooks: { streamWrite: redactSecretValues },
    transport:
      options.pretty && !options.destination
        ? { target: "pino-pretty", options: { colorize: true, translateTime: "HH:MM:ss" } }
        : undefined,
  };
  return options.destination ? pino(settings, options.destination) : pino(settings);
}

/** A logger that prints nothing, for tests and library use. */
export const silentLogger: Logger = pino({ level: "silent" });
