// The one logger: pino, JSON in production and pretty in development, with secrets redacted.
import pino, { type Logger } from "pino";
import { requestLogFields } from "./request-context.server.ts";

export type { Logger };

export const redactPaths = [
  "password",
  "*.password",
  "apiKey",
  "*.apiKey",
  "authorization",
  "*.authorization",
  "headers.authorization",
  "headers.cookie",
  "cookie",
  "*.cookie",
  "token",
  "*.token",
];

export function createLogger(options: { level: string; pretty: boolean }): Logger {
  return pino({
    level: options.level,
    redact: { paths: redactPaths, censor: "[redacted]" },
    base: { service: "bitb" },
    // The request id (and tenant id) of the request that caused the line, when there is one.
    mixin: requestLogFields,
    transport: options.pretty
      ? { target: "pino-pretty", options: { colorize: true, translateTime: "HH:MM:ss" } }
      : undefined,
  });
}

/** A logger that prints nothing, for tests and library use. */
export const silentLogger: Logger = pino({ level: "silent" });
