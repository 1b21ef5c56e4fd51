// Per-tenant calibration of the fusion weights: how much retrieval should trust the encoder
// against BM25 differs between knowledge bases (an FAQ whose visitors paraphrase it, a
// scientific corpus on which the small embedded encoder is weak), so each tenant works it out
// from its own documents. Pseudo-queries are the documents' titles; each is searched with the
// evidence the title itself leaves in the index switched off (the title and heading columns
// of BM25, the context vectors), so both signals must find the document from its body alone,
// and the weight whose fused ranking puts the title's document highest wins. The result is
// kept in the tenant's `meta` table (which bumps kb_version, so cached answers are dropped)
// and read by retrieval. Reads and writes one tenant database; embeds the titles.
// Why and the figures: docs/decisions/024-per-tenant-fusion-calibration.md.
import { z } from "zod";
import type { TenantId } from "#tenants/id.ts";
import {
  chunkDocumentLookup,
  chunkTotal,
  deleteCalibrationMeta,
  documentTitles,
  metaValue,
  writeCalibrationMeta,
} from "#tenants/search.ts";
import type { TenantDb } from "#tenants/store.ts";
import type { Logger } from "../logger.server.ts";
import type { EmbeddingProvider } from "../embeddings/provider.server.ts";
import { toFtsQuery } from "./fts-query.server.ts";
import { fusedScores } from "./fusion.server.ts";
import { keywordSearch } from "./keyword.server.ts";
import { MAX_VECTOR_K, nearestChunks, scoreChunks } from "./vector-search.server.ts";

/** `meta` key of the calibrated vector weight (a number in [0, 1]; keyword = 1 − it). */
export const VECTOR_WEIGHT_KEY = "fusion_vector_weight";
/** `meta` key of the calibration's details (JSON), for the eval report and admins. */
export const CALIBRATION_KEY = "fusion_calibration";

/** Vector weights tried; the keyword weight is 1 − w. */
export const WEIGHT_GRID: readonly number[] = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7];
/**
 * What the encoder must buy for its weight: each 0.1 of vector weight has to raise the titles'
 * MRR by at least 0.01. Titles are easier than visitors' questions (a title shares its
 * document's rarest words), so on a corpus where BM25 already finds nearly every title a
 * bigger vector weight wins only a few points of MRR there while it costs real questions
 * much more (decision 024: SciFact's titles reach MRR 1.0 at weight 0.6, its claims lose
 * 0.25 nDCG there).
 */
export const WEIGHT_PENALTY = 0.1;
/** Titles used as pseudo-queries at most (spread over the knowledge base). */
export const MAX_PSEUDO_QUERIES = 96;
/** Fewer distinct titles than this say too little: the default weights stay. */
export const MIN_PSEUDO_QUERIES = 8;
/** Candidates each stage proposes per pseudo-query (as retrieval does for a top 20). */
const CANDIDATES = 100;
/** The pseudo-query's document must be in this top for its reciprocal rank to count. */
const MRR_DEPTH = 10;

export const calibrationSchema = z.object({
  vectorWeight: z.number().min(0).max(1),
  pseudoQueries: z.number().int().nonnegative(),
  /** Mean reciprocal rank (top 10) of the pseudo-queries' documents, per vector weight. */
  mrrByWeight: z.record(z.string(), z.number()),
  chunks: z.number().int().nonnegative(),
  at: z.number().int(),
});
export type FusionCalibration = z.infer<typeof calibrationSchema>;

interface PseudoQuery {
  text: string;
  ftsQuery: string;
  documents: Set<number>;
}

/** FNV-1a: a stable order to sample titles in, spread over the whole knowledge base. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * Titles that can stand for a question: at least two search terms, and each one the title of
 * a few documents at most (a title shared by everything, "Untitled document", finds nothing
 * in particular). Documents sharing a title (sections of one article) are all its answers.
 */
export function pseudoQueries(db: TenantDb, max = MAX_PSEUDO_QUERIES): PseudoQuery[] {
  const rows = documentTitles(db);
  const byTitle = new Map<string, { text: string; documents: Set<number> }>();
  for (const row of rows) {
    const text = row.title.replaceAll("_", " ").replace(/\s+/g, " ").trim();
    const key = text.toLowerCase();
    if (key === "") continue;
    let entry = byTitle.get(key);
    if (!entry) byTitle.set(key, (entry = { text, documents: new Set() }));
    entry.documents.add(row.id);
  }
  const maxShare = Math.max(5, Math.ceil(rows.length * 0.05));
  const queries: PseudoQuery[] = [];
  for (const entry of byTitle.values()) {
    const ftsQuery = toFtsQuery(entry.text);
    if (ftsQuery === null || ftsQuery.split(" OR ").length < 2) continue;
    if (entry.documents.size > maxShare) continue;
    queries.push({ text: entry.text, ftsQuery, documents: entry.documents });
  }
  return queries
    .sort((a, b) => hash(a.text) - hash(b.text) || (a.text < b.text ? -1 : 1))
    .slice(0, max);
}

// Body only: the pseudo-query is the title, which the title column would match trivially.
const BODY_ONLY = [0, 0, 1] as const;

/**
 * Works out the tenant's vector weight from its own documents, or null when it has too few
 * distinct titles to tell. Does not store it (see `calibrateTenant`).
 */
export async function measureCalibration(
  tenant: () => TenantDb,
  embedder: EmbeddingProvider,
): Promise<FusionCalibration | null> {
  const queries = pseudoQueries(tenant());
  if (queries.length < MIN_PSEUDO_QUERIES) return null;
  const vectors = await embedder.embed(
    queries.map((query) => query.text),
    "query",
  );
  const db = tenant();
  const documentOf = chunkDocumentLookup(db);
  const reciprocalRanks = WEIGHT_GRID.map(() => [] as number[]);
  const candidates = Math.min(MAX_VECTOR_K, CANDIDATES);
  queries.forEach((query, index) => {
    const vector = vectors[index];
    if (!vector) return;
    const keyword = new Map<number, number>();
    // Scored as retrieval scores (chunk and document BM25), on the body column only.
    for (const hit of keywordSearch(db, `{body} : (${query.ftsQuery})`, candidates, {
      columns: BODY_ONLY,
    })) {
      keyword.set(hit.chunkId, hit.score);
    }
    const neighbours = nearestChunks(db, vector, candidates);
    const ids = [...new Set([...keyword.keys(), ...neighbours.map((hit) => hit.chunkId)])];
    const text = scoreChunks(db, vector, ids);
    const relevant = new Set(ids.filter((id) => query.documents.has(documentOf(id) as number)));
    const entries = ids.map((chunkId) => ({
      chunkId,
      keywordScore: keyword.get(chunkId) ?? 0,
      // Text vectors only: the context vector is the embedded title, the query itself.
      similarity: text.get(chunkId)?.text ?? null,
    }));
    WEIGHT_GRID.forEach((weight, w) => {
      const scores = fusedScores(entries, neighbours, 1 - weight, weight);
      const ranked = entries
        .map((entry, i) => ({ chunkId: entry.chunkId, score: scores[i] as number }))
        .sort((a, b) => b.score - a.score || a.chunkId - b.chunkId);
      // Ranks of documents, as a visitor sees them: the best chunk of each counts.
      const seen = new Set<number>();
      let rank = 0;
      let reciprocal = 0;
      for (const entry of ranked) {
        const documentId = documentOf(entry.chunkId) as number;
        if (seen.has(documentId)) continue;
        seen.add(documentId);
        rank++;
        if (rank > MRR_DEPTH) break;
        if (relevant.has(entry.chunkId)) {
          reciprocal = 1 / rank;
          break;
        }
      }
      reciprocalRanks[w]?.push(reciprocal);
    });
  });
  const mrr = reciprocalRanks.map(
    (values) => values.reduce((sum, value) => sum + value, 0) / Math.max(1, values.length),
  );
  const vectorWeight = chooseWeight(mrr);
  const chunks = chunkTotal(db);
  return {
    vectorWeight,
    pseudoQueries: queries.length,
    mrrByWeight: Object.fromEntries(
      WEIGHT_GRID.map((weight, w) => [
        weight.toFixed(2),
        Math.round((mrr[w] as number) * 1e4) / 1e4,
      ]),
    ),
    chunks,
    at: Date.now(),
  };
}

/** The weight of the best MRR net of its penalty; the smaller weight on a tie. */
export function chooseWeight(mrrByWeight: readonly number[]): number {
  let best = 0;
  let bestValue = -Infinity;
  WEIGHT_GRID.forEach((weight, w) => {
    const value = (mrrByWeight[w] ?? 0) - WEIGHT_PENALTY * weight;
    if (value > bestValue + 1e-9) {
      bestValue = value;
      best = weight;
    }
  });
  return best;
}

/**
 * Measures and stores the tenant's calibration (or removes a stale one when the knowledge
 * base no longer supports one); a weight equal to the stored one is not written again.
 * Returns the measurement.
 */
export async function calibrateTenant(
  tenant: () => TenantDb,
  embedder: EmbeddingProvider,
): Promise<FusionCalibration | null> {
  const calibration = await measureCalibration(tenant, embedder);
  const db = tenant();
  db.transaction(() => {
    // The same weight again changes nothing retrieval reads: leave meta (and kb_version, so
    // every cached answer) alone.
    if (calibration && calibratedVectorWeight(db) === calibration.vectorWeight) return;
    if (calibration) {
      writeCalibrationMeta(
        db,
        { key: VECTOR_WEIGHT_KEY, value: String(calibration.vectorWeight) },
        { key: CALIBRATION_KEY, value: JSON.stringify(calibration) },
      );
    } else {
      deleteCalibrationMeta(db, VECTOR_WEIGHT_KEY, CALIBRATION_KEY);
    }
  })();
  return calibration;
}

/** The tenant's calibrated vector weight, or null when it has none. */
export function calibratedVectorWeight(db: TenantDb): number | null {
  const value = metaValue(db, VECTOR_WEIGHT_KEY);
  if (typeof value !== "string") return null;
  const weight = Number(value);
  return Number.isFinite(weight) && weight >= 0 && weight <= 1 ? weight : null;
}

/** The stored calibration's details, or null. */
export function readCalibration(db: TenantDb): FusionCalibration | null {
  const value = metaValue(db, CALIBRATION_KEY);
  if (typeof value !== "string") return null;
  try {
    const parsed = calibrationSchema.safeParse(JSON.parse(value));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

export interface CalibrationSchedulerOptions {
  openTenant(id: TenantId): TenantDb;
  embedder: EmbeddingProvider;
  logger: Pick<Logger, "warn" | "info">;
  /** True while the tenant still has ingestion work; calibration waits for the end. */
  busy(id: TenantId): boolean;
  /** Quiet time after the last change before calibrating (default 2 s). */
  delayMs?: number;
}

/**
 * Recalibrates a tenant once its knowledge base has stopped changing: every change
 * (re)starts a short timer, and a tenant that is still ingesting is looked at again later,
 * so a 5,000-document upload is calibrated once, at its end. One calibration runs at a time.
 */
export class CalibrationScheduler {
  private readonly timers = new Map<TenantId, NodeJS.Timeout>();
  private running: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(private readonly options: CalibrationSchedulerOptions) {}

  /** The tenant's knowledge base changed. */
  schedule(id: TenantId): void {
    if (this.closed) return;
    clearTimeout(this.timers.get(id));
    const timer = setTimeout(() => {
      this.timers.delete(id);
      if (this.options.busy(id)) this.schedule(id);
      else void this.run(id);
    }, this.options.delayMs ?? 2000);
    timer.unref();
    this.timers.set(id, timer);
  }

  /** Calibrates the tenant now (after any calibration in progress) and returns the result. */
  run(id: TenantId): Promise<FusionCalibration | null> {
    clearTimeout(this.timers.get(id));
    this.timers.delete(id);
    const next = this.running.then(async () => {
      if (this.closed) return null;
      const started = performance.now();
      try {
        const calibration = await calibrateTenant(
          () => this.options.openTenant(id),
          this.options.embedder,
        );
        this.options.logger.info(
          {
            tenantId: id,
            vectorWeight: calibration?.vectorWeight ?? null,
            pseudoQueries: calibration?.pseudoQueries ?? 0,
            ms: Math.round(performance.now() - started),
          },
          "retrieval fusion calibrated",
        );
        return calibration;
      } catch (error) {
        // A failed calibration leaves the previous weights in place; the next change retries.
        this.options.logger.warn({ err: error, tenantId: id }, "retrieval calibration failed");
        return null;
      }
    });
    this.running = next;
    return next;
  }

  /** Cancels pending calibrations and waits for the one in progress. */
  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    await this.running;
  }
}
