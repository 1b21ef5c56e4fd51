// Which Host a request may name. The app builds its own origin from the request in several
// places (embed snippets, redirects, the CSRF check, e-mail and setup links); a request whose
// Host is not this server's never reaches any of them. The names come from PUBLIC_URL and
// ALLOWED_HOSTS; with neither, only loopback names are answered. Health probes and the
// LiteFS outbox (HMAC-signed, sent to the primary's internal name) build no origin and pass.
// Touches nothing but the request it is given.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Config } from "../config.server.ts";
import { errorBody } from "../errors.server.ts";

const LOOPBACK_NAMES = ["localhost", "127.0.0.1", "[::1]"];
const ANY_HOST_PATHS = new Set(["/healthz", "/readyz", "/api/internal/outbox"]);

/** The host name of a Host header, lower-cased and without its port; undefined if malformed. */
export function hostNameOf(host: string | undefined): string | undefined {
  if (!host || host.length > 255 || /[\s/\\?#@]/.test(host)) return undefined;
  try {
    const { hostname } = new URL(`http://${host}`);
    return hostname.toLowerCase();
  } catch {
    return undefined;
  }
}

/**
 * Whether a Host header names this server. An entry `.example.com` also allows every
 * subdomain of example.com; an empty list allows only loopback names.
 */
export function hostAllowed(host: string | undefined, allowedHosts: readonly string[]): boolean {
  const name = hostNameOf(host);
  if (name === undefined) return false;
  const allowed = allowedHosts.length > 0 ? allowedHosts : LOOPBACK_NAMES;
  return allowed.some((entry) =>
    entry.startsWith(".") ? name === entry.slice(1) || name.endsWith(entry) : name === entry,
  );
}

type Listener = (req: IncomingMessage, res: ServerResponse) => void;

/** Wraps the server's request listener: a foreign Host is answered 421 and goes no further. */
export function withAllowedHosts(config: Pick<Config, "allowedHosts">, next: Listener): Listener {
  return (req, res) => {
    const target = req.url ?? "/";
    const path = target.split("?", 1)[0] as string;
    // An absolute-form target (GET http://evil.example/) or a scheme-relative one (//evil…)
    // would make the request's URL name that host whatever the Host header says.
    const originForm = target.startsWith("/") && !target.startsWith("//");
    if (
      originForm &&
      (ANY_HOST_PATHS.has(path) || hostAllowed(req.headers.host, config.allowedHosts))
    ) {
      next(req, res);
      return;
    }
    const body = JSON.stringify(
      errorBody("misdirected", "This server does not answer to that host name."),
    );
    res.writeHead(421, {
      "Content-Type": "application/json; charset=utf-8",
      "Content-Length": Buffer.byteLength(body),
      "Cache-Control": "no-store",
      "X-Content-Type-Options": "nosniff",
      Connection: "close",
    });
    res.end(body);
  };
}
