// Password hashing with scrypt from node:crypto: `scrypt$N$r$p$salt$hash`, compared in
// constant time. Parameters are stored with each hash so they can be raised: a hash made with
// weaker ones is replaced at the next sign-in (needsRehash; decision 046).
import {
  randomBytes,
  scrypt as scryptCallback,
  timingSafeEqual,
  type ScryptOptions,
} from "node:crypto";

// OWASP's password storage cheat sheet: N=2^17, r=8, p=1 (128 MiB per hash, about 0.3 s here).
const N = 2 ** 17;
const r = 8;
const p = 1;
const KEY_LENGTH = 64;
/** The most memory a stored hash may ask for: 128·N·r bytes, twice the current parameters. */
const MAX_MEMORY = 2 * 128 * N * r;

/**
 * Hashes computed at once: each holds 128 MiB, so a burst of sign-in attempts (anyone can send
 * them) costs at most 256 MiB; the others wait their turn.
 */
const MAX_CONCURRENT = 2;
let running = 0;
const waiting: Array<() => void> = [];

async function scrypt(password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  // A finished hash hands its slot straight to the next waiting one.
  if (running < MAX_CONCURRENT) running++;
  else await new Promise<void>((resolve) => waiting.push(resolve));
  try {
    return await scryptNow(password, salt, options);
  } finally {
    const next = waiting.shift();
    if (next) next();
    else running--;
  }
}

function scryptNow(password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // Node's default limit (32 MiB) is below what N=2^17 needs.
    scryptCallback(password, salt, KEY_LENGTH, { ...options, maxmem: MAX_MEMORY }, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, { N, r, p });
  return ["scrypt", N, r, p, salt.toString("base64"), key.toString("base64")].join("$");
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return false;
  const [, n, rr, pp, salt, hash] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(hash, "base64");
  const key = await scrypt(password, Buffer.from(salt, "base64"), {
    N: Number(n),
    r: Number(rr),
    p: Number(pp),
  });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** Whether a stored hash was made with weaker parameters than today's (re-hash it at sign-in). */
export function needsRehash(stored: string): boolean {
  const [scheme, n, rr, pp] = stored.split("$");
  return scheme !== "scrypt" || Number(n) < N || Number(rr) < r || Number(pp) < p;
}

export const MIN_PASSWORD_LENGTH = 10;
