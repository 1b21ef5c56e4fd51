// The masker scored on tests/fixtures/pii-labelled.json: 220 strings, each with the PII it
// contains (kind and exact value) — e-mails, phone numbers in international and national
// formats, US SSNs, card numbers (valid Luhn and network prefix), IBANs (valid mod-97), IPv4
// and IPv6 — and negatives that look like them (order numbers, dates, prices, versions,
// tracking numbers, ISBN/EAN/UPC/IMEI codes, invalid-Luhn card-like numbers, timestamps).
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  cardNumberValid,
  ibanValid,
  luhnValid,
  maskPii,
  maskPiiDetailed,
  PII_KINDS,
  ssnValid,
  type PiiKind,
} from "./mask.server.ts";

interface LabelledCase {
  text: string;
  pii: Array<{ kind: PiiKind; value: string }>;
}

const cases = JSON.parse(
  fs.readFileSync(
    path.resolve(import.meta.dirname, "../../../tests/fixtures/pii-labelled.json"),
    "utf8",
  ),
) as LabelledCase[];

describe("PII masking on the labelled set", () => {
  it("has at least 200 strings, positives of every kind and tricky negatives", () => {
    expect(cases.length).toBeGreaterThanOrEqual(200);
    for (const kind of PII_KINDS) {
      expect(cases.filter((c) => c.pii.some((p) => p.kind === kind)).length).toBeGreaterThanOrEqual(
        10,
      );
    }
    expect(cases.filter((c) => c.pii.length === 0).length).toBeGreaterThanOrEqual(80);
  });

  it("reaches precision and recall of at least 0.95 for each kind", () => {
    const counts = Object.fromEntries(PII_KINDS.map((k) => [k, { tp: 0, fp: 0, fn: 0 }])) as Record<
      PiiKind,
      { tp: number; fp: number; fn: number }
    >;
    const misses: string[] = [];
    for (const item of cases) {
      const found = maskPiiDetailed(item.text).found;
      const expected = [...item.pii];
      for (const hit of found) {
        const at = expected.findIndex((e) => e.kind === hit.kind && e.value === hit.value);
        if (at >= 0) {
          counts[hit.kind].tp++;
          expected.splice(at, 1);
        } else {
          counts[hit.kind].fp++;
          misses.push(
            `false ${hit.kind} ${JSON.stringify(hit.value)} in ${JSON.stringify(item.text)}`,
          );
        }
      }
      for (const missed of expected) {
        counts[missed.kind].fn++;
        misses.push(
          `missed ${missed.kind} ${JSON.stringify(missed.value)} in ${JSON.stringify(item.text)}`,
        );
      }
    }
    const rows = PII_KINDS.map((kind) => {
      const { tp, fp, fn } = counts[kind];
      return {
        kind,
        tp,
        fp,
        fn,
        precision: tp + fp === 0 ? 1 : tp / (tp + fp),
        recall: tp + fn === 0 ? 1 : tp / (tp + fn),
      };
    });
    console.log(
      [
        `PII masking on ${cases.length} labelled strings`,
        "kind    tp  fp  fn  precision  recall",
        ...rows.map(
          (r) =>
            `${r.kind.padEnd(6)} ${String(r.tp).padStart(3)} ${String(r.fp).padStart(3)} ${String(r.fn).padStart(3)}  ${r.precision.toFixed(3).padStart(9)}  ${r.recall.toFixed(3).padStart(6)}`,
        ),
        ...misses,
      ].join("\n"),
    );
    for (const row of rows) {
      expect(row.precision, `${row.kind} precision`).toBeGreaterThanOrEqual(0.95);
      expect(row.recall, `${row.kind} recall`).toBeGreaterThanOrEqual(0.95);
    }
  });
});

describe("maskPii", () => {
  it("replaces each item with its typed placeholder and keeps the rest", () => {
    expect(
      maskPii("Mail jane@example.com or call +44 20 7946 0958; card 4111 1111 1111 1111."),
    ).toBe("Mail [EMAIL] or call [PHONE]; card [CARD].");
    expect(maskPii("IBAN DE89 3704 0044 0532 0130 00 today")).toBe("IBAN [IBAN] today");
    expect(maskPii("from 10.0.0.1 and 2001:db8::1")).toBe("from [IP] and [IP]");
    expect(maskPii("SSN 123-45-6789")).toBe("SSN [SSN]");
  });

  it("leaves text without PII untouched, and is idempotent", () => {
    const plain = "How do I return an order placed on 2024-01-15 for $49.99?";
    expect(maskPii(plain)).toBe(plain);
    const once = maskPii("jane@example.com 415-555-0132");
    expect(maskPii(once)).toBe(once);
  });

  it("is fast enough to run on every prompt", () => {
    const text =
      "Hello jane@example.com, order 123456789 on 2024-01-15, call 415-555-0132. ".repeat(200);
    const started = performance.now();
    for (let i = 0; i < 20; i++) maskPii(text);
    // 20 × 15 KB; a loose bound that only catches catastrophic backtracking.
    expect(performance.now() - started).toBeLessThan(2000);
  });
});

describe("checksums", () => {
  it("Luhn, card networks, IBAN mod 97 and SSN ranges", () => {
    expect(luhnValid("79927398713")).toBe(true);
    expect(luhnValid("79927398710")).toBe(false);
    expect(luhnValid("")).toBe(false);
    expect(cardNumberValid("4111-1111-1111-1111")).toBe(true);
    expect(cardNumberValid("4111 1111 1111 1112")).toBe(false);
    expect(cardNumberValid("9111111111111111")).toBe(false);
    expect(ibanValid("GB82 WEST 1234 5698 7654 32")).toBe(true);
    expect(ibanValid("GB83 WEST 1234 5698 7654 32")).toBe(false);
    expect(ibanValid("XX82 WEST 1234 5698 7654 32")).toBe(false);
    expect(ssnValid("123-45-6789")).toBe(true);
    for (const bad of ["000-12-3456", "666-12-3456", "912-12-3456", "123-00-4567", "123-45-0000"]) {
      expect(ssnValid(bad), bad).toBe(false);
    }
  });
});
