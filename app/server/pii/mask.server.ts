// PII masking: finds e-mail addresses, phone numbers, US social security numbers, payment
// card numbers (Luhn-checked, known card prefixes), IBANs (mod-97 checked) and IPv4/IPv6
// addresses in free text and replaces each with a typed placeholder ([EMAIL], [PHONE], [SSN],
// [CARD], [IBAN], [IP]). Pure regular expressions and checksums: no I/O, no dependencies.
// Used before text reaches a hosted LLM and, when the tenant asks, on stored transcripts.
import { isIPv4, isIPv6 } from "node:net";

export type PiiKind = "EMAIL" | "PHONE" | "SSN" | "CARD" | "IBAN" | "IP";

export const PII_KINDS: readonly PiiKind[] = ["EMAIL", "PHONE", "SSN", "CARD", "IBAN", "IP"];

export interface PiiMatch {
  kind: PiiKind;
  /** The text that was replaced. */
  value: string;
}

export interface MaskResult {
  text: string;
  found: PiiMatch[];
}

// ---- checksums -------------------------------------------------------------------------

export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return digits.length > 0 && sum % 10 === 0;
}

/** Lengths of each country's IBAN (ISO 13616 registry, the common ones). */
const IBAN_LENGTHS: Record<string, number> = {
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BR: 29, CH: 21,
  CR: 22, CY: 28, CZ: 24, DE: 22, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18, FO: 18,
  FR: 27, GB: 22, GE: 22, GI: 23, GL: 18, GR: 27, GT: 28, HR: 21, HU: 28, IE: 22, IL: 23,
  IS: 26, IT: 27, JO: 30, KW: 30, KZ: 20, LB: 28, LI: 21, LT: 20, LU: 20, LV: 21, MC: 27,
  MD: 24, ME: 22, MK: 19, MR: 27, MT: 31, MU: 30, NL: 18, NO: 15, PK: 24, PL: 28, PS: 29,
  PT: 25, QA: 29, RO: 24, RS: 22, SA: 24, SE: 24, SI: 19, SK: 24, SM: 27, TN: 24, TR: 26,
  UA: 29, VG: 24, XK: 20,
}; // prettier-ignore

export function ibanValid(raw: string): boolean {
  const iban = raw.replace(/[\s-]/g, "").toUpperCase();
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]+$/.test(iban)) return false;
  const expected = IBAN_LENGTHS[iban.slice(0, 2)];
  if (expected === undefined || iban.length !== expected) return false;
  const rearranged = iban.slice(4) + iban.slice(0, 4);
  let remainder = 0;
  for (const ch of rearranged) {
    const value = ch >= "A" ? (ch.charCodeAt(0) - 55).toString() : ch;
    for (const digit of value) remainder = (remainder * 10 + (digit.charCodeAt(0) - 48)) % 97;
  }
  return remainder === 1;
}

/** Issuer prefixes and lengths of the card networks (Visa, Mastercard, Amex, Discover, …). */
function cardNetworkValid(digits: string): boolean {
  const n = digits.length;
  const p2 = Number(digits.slice(0, 2));
  const p3 = Number(digits.slice(0, 3));
  const p4 = Number(digits.slice(0, 4));
  const p6 = Number(digits.slice(0, 6));
  if (digits.startsWith("4")) return n === 13 || n === 16 || n === 19; // Visa
  if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return n === 16; // Mastercard
  if (p2 === 34 || p2 === 37) return n === 15; // American Express
  if (p4 === 6011 || p2 === 65 || (p3 >= 644 && p3 <= 649) || (p6 >= 622126 && p6 <= 622925)) {
    return n >= 16 && n <= 19; // Discover
  }
  if (p2 === 62) return n >= 16 && n <= 19; // UnionPay
  if (p4 >= 3528 && p4 <= 3589) return n >= 16 && n <= 19; // JCB
  if (p2 === 36 || p2 === 38 || (p3 >= 300 && p3 <= 305)) return n >= 14 && n <= 19; // Diners
  if (digits.startsWith("50") || (p2 >= 56 && p2 <= 69)) return n >= 12 && n <= 19; // Maestro
  return false;
}

export function cardNumberValid(raw: string): boolean {
  const digits = raw.replace(/[\s-]/g, "");
  return /^\d{12,19}$/.test(digits) && cardNetworkValid(digits) && luhnValid(digits);
}

export function ssnValid(raw: string): boolean {
  const m = /^(\d{3})[- ]?(\d{2})[- ]?(\d{4})$/.exec(raw);
  if (!m) return false;
  const [, area = "", group = "", serial = ""] = m;
  const a = Number(area);
  return a !== 0 && a !== 666 && a < 900 && group !== "00" && serial !== "0000";
}

// ---- detectors -------------------------------------------------------------------------

interface Detector {
  kind: PiiKind;
  pattern: RegExp;
  /** The accepted part of a candidate (a prefix of it, usually all of it), or null. */
  accept(candidate: string): string | null;
}

const EMAIL =
  /(?<![\w.%+-])[A-Za-z0-9](?:[A-Za-z0-9._%+-]{0,63})@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-])/g;

// Country code, check digits, then 11–30 letters and digits, optionally in groups of four.
const IBAN = /(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?:[ -]?[A-Za-z0-9]{1,4}){3,8}(?![A-Za-z0-9])/g;

// 12–19 digits, optionally in groups split by single spaces or dashes.
const CARD = /(?<![\d.,/-])\d(?:[ -]?\d){11,18}(?![\d/]|[.,-]\d)/g;

const SSN = /(?<![\d.,/-])\d{3}([- ])\d{2}\1\d{4}(?![\d/]|[.,-]\d)/g;

const IPV6 =
  /(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{1,4})?(?![\w:]|\.\d)/g;

// Four dotted numbers right after "version", "release", "build", "patch"… are a version.
const IPV4 =
  /(?<![\w.])(?<!(?:version|release|build|patch|update|firmware|ver\.?)\s{1,3})(?:\d{1,3}\.){3}\d{1,3}(?!\w|\.\d)/gi;

/**
 * Phone numbers: `+` or `00` then a country code and 6–13 more digits in groups (`+44 20 7946
 * 0958`, `+1-415-555-0132`, `0049 30 1234567`); North American `(415) 555-0132`,
 * `415-555-0132`, `415.555.0132`; national numbers with a trunk 0 in spaced groups
 * (`020 7946 0958`, `06 12 34 56 78`). Bare digit runs (order numbers) are not phone numbers.
 */
const PHONE =
  /(?<![\w+./-]|\d )(?:(?:\+|00)[1-9]\d{0,2}(?:[ .-]?(?:\(\d{1,4}\)|\d{1,4})){2,6}|\(\d{3}\) ?\d{3}[ .-]\d{4}|\d{3}([.-])\d{3}\1\d{4}|\d{3} \d{3} \d{4}|0[1-9]\d{0,3}(?: \d{2,8}){1,4})(?!\w|[./-]\d| \d)/g;

function digitsOf(text: string): string {
  return text.replace(/\D/g, "");
}

function phoneAccept(candidate: string): string | null {
  const digits = digitsOf(candidate);
  if (candidate.startsWith("+") || candidate.startsWith("00")) {
    const significant = candidate.startsWith("00") ? digits.slice(2) : digits;
    return significant.length >= 8 && significant.length <= 15 ? candidate : null;
  }
  if (candidate.startsWith("0")) {
    // A trunk-0 national number: 9–11 digits (UK, France, Germany, …).
    return digits.length >= 9 && digits.length <= 11 ? candidate : null;
  }
  // North American: area and exchange codes do not start with 0 or 1.
  return digits.length === 10 && /^[2-9]\d{2}[2-9]/.test(digits) ? candidate : null;
}

function ibanAccept(candidate: string): string | null {
  // The pattern may have swallowed a following word; try shorter prefixes, group by group.
  const parts = candidate.split(/(?<=[ -])/);
  for (let n = parts.length; n >= 1; n--) {
    const prefix = parts.slice(0, n).join("").replace(/[ -]$/, "");
    if (ibanValid(prefix)) return prefix;
  }
  return null;
}

const detectors: readonly Detector[] = [
  { kind: "EMAIL", pattern: EMAIL, accept: (c) => c },
  { kind: "IBAN", pattern: IBAN, accept: ibanAccept },
  { kind: "IP", pattern: IPV6, accept: (c) => (isIPv6(c) && /[0-9A-Fa-f]/.test(c) ? c : null) },
  {
    kind: "IP",
    pattern: IPV4,
    accept: (c) =>
      isIPv4(c) && !c.split(".").some((o) => o.length > 1 && o.startsWith("0")) ? c : null,
  },
  { kind: "CARD", pattern: CARD, accept: (c) => (cardNumberValid(c) ? c : null) },
  { kind: "SSN", pattern: SSN, accept: (c) => (ssnValid(c) ? c : null) },
  { kind: "PHONE", pattern: PHONE, accept: phoneAccept },
];

/** Finds and replaces every PII item; `found` lists them in the order they were replaced. */
export function maskPiiDetailed(text: string): MaskResult {
  const found: PiiMatch[] = [];
  let masked = text;
  for (const detector of detectors) {
    detector.pattern.lastIndex = 0;
    masked = masked.replace(detector.pattern, (candidate: string) => {
      const accepted = detector.accept(candidate);
      if (accepted === null) return candidate;
      found.push({ kind: detector.kind, value: accepted });
      return `[${detector.kind}]${candidate.slice(accepted.length)}`;
    });
  }
  return { text: masked, found };
}

/** The text with every e-mail, phone, SSN, card, IBAN and IP address replaced by [KIND]. */
export function maskPii(text: string): string {
  // Most text has no digit and no @: nothing to do.
  if (!/[\d@]/.test(text)) return text;
  return maskPiiDetailed(text).text;
}
