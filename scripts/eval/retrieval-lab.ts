// Offline retrieval lab: loads a tenant database's FTS5 index (through fts5vocab, so the
// index's own porter stems), its chunk vectors and cached query vectors into memory, and scores
// ranking ideas in seconds each. Not part of the product; the product's numbers come from
// `npm run eval`. `npx tsx scripts/eval/retrieval-lab.ts <tenant.db> <beir folder> <split> <qvec.json>`
// (experiment `sentences` also needs SENTENCES=<prefix> from scripts/eval/embed-sentences.ts;
// `windows` needs WINDOWS=<prefix> from scripts/eval/embed-windows.ts, decision 045)
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { LOCAL_EMBEDDING_DIMENSION as DIMENSION } from "#app/server/embeddings/local.server.ts";
import { chooseWeight, WEIGHT_GRID } from "#app/server/retrieval/calibrate.server.ts";
import { STOP_WORDS } from "#app/server/retrieval/fts-query.server.ts";
import { fusedScores } from "#app/server/retrieval/fusion.server.ts";
import { keywordSearch } from "#app/server/retrieval/keyword.server.ts";
import type { TenantDb } from "#tenants/store.ts";
import { documentRanking, mean, ndcgAt } from "./metrics.ts";

const [dbPath, folder, split, qvecPath, only] = process.argv.slice(2);
if (!dbPath || !folder || !split) throw new Error("usage");

const WORD = /[\p{L}\p{M}\p{N}]+/gu;

const db = new Database(dbPath, { readonly: true });
const mem = new Database(":memory:");

// ---- index ----
const chunkRows = db.prepare("SELECT id, document_id FROM chunks ORDER BY id").all() as {
  id: number;
  document_id: number;
}[];
const docOfChunk = new Map(chunkRows.map((r) => [r.id, r.document_id]));
const corpusId = new Map(
  (
    db.prepare("SELECT id, source_key FROM documents").all() as { id: number; source_key: string }[]
  ).map((r) => [r.id, r.source_key.replace(/^eval:/, "")]),
);
db.exec("CREATE VIRTUAL TABLE temp.v USING fts5vocab(main, chunks_fts, instance)");
interface Posting {
  // per chunk: per column term frequencies and positions
  tf: number[]; // [title, heading, body]
  pos: number[]; // body+heading+title positions offset by column*100000
}
const index = new Map<string, Map<number, Posting>>(); // term -> chunk -> posting
const chunkLen = new Map<number, number[]>(); // chunk -> [title, heading, body] tokens
const colIdx: Record<string, number> = { title: 0, heading: 1, body: 2 };
let t0 = performance.now();
for (const row of db.prepare("SELECT term, doc, col, offset FROM temp.v").iterate() as Iterable<{
  term: string;
  doc: number;
  col: string;
  offset: number;
}>) {
  const c = colIdx[row.col] as number;
  let postings = index.get(row.term);
  if (!postings) index.set(row.term, (postings = new Map()));
  let p = postings.get(row.doc);
  if (!p) postings.set(row.doc, (p = { tf: [0, 0, 0], pos: [] }));
  p.tf[c]!++;
  p.pos.push(c * 100000 + row.offset);
  let len = chunkLen.get(row.doc);
  if (!len) chunkLen.set(row.doc, (len = [0, 0, 0]));
  len[c]!++;
}
console.error(
  `index loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${index.size} terms`,
);
const N = chunkLen.size;
const totalLen = [...chunkLen.values()].reduce((s, l) => s + l[0]! + l[1]! + l[2]!, 0);
const avgLen = totalLen / N;

// document level: title counted once per document (each chunk repeats it)
const docTf = new Map<string, Map<number, number[]>>();
const docLen = new Map<number, number[]>();
for (const [term, postings] of index) {
  const m = new Map<number, number[]>();
  for (const [chunk, p] of postings) {
    const d = docOfChunk.get(chunk)!;
    let v = m.get(d);
    if (!v) m.set(d, (v = [0, 0, 0]));
    v[0] = Math.max(v[0]!, p.tf[0]!);
    v[1]! += p.tf[1]!;
    v[2]! += p.tf[2]!;
  }
  docTf.set(term, m);
}
for (const [chunk, l] of chunkLen) {
  const d = docOfChunk.get(chunk)!;
  let v = docLen.get(d);
  if (!v) docLen.set(d, (v = [0, 0, 0]));
  v[0] = Math.max(v[0]!, l[0]!);
  v[1]! += l[1]!;
  v[2]! += l[2]!;
}
const ND = docLen.size;
const avgDocLen = [...docLen.values()].reduce((s, l) => s + l[0]! + l[1]! + l[2]!, 0) / ND;
const chunksOfDoc = new Map<number, number[]>();
for (const [chunk, d] of docOfChunk) {
  const list = chunksOfDoc.get(d) ?? [];
  list.push(chunk);
  chunksOfDoc.set(d, list);
}

// ---- queries ----
function readJsonl<T>(file: string): T[] {
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as T);
}
const queries = new Map(
  readJsonl<{ _id: string; text: string }>(path.join(folder, "queries.jsonl")).map((q) => [
    q._id,
    q.text,
  ]),
);
const qrels = new Map<string, Map<string, number>>();
for (const line of fs
  .readFileSync(path.join(folder, "qrels", `${split}.tsv`), "utf8")
  .split("\n")
  .slice(1)) {
  const [q, d, s] = line.split("\t");
  if (!q || !d) continue;
  if (!qrels.has(q)) qrels.set(q, new Map());
  qrels.get(q)!.set(d, Number(s));
}
mem.exec(
  "CREATE VIRTUAL TABLE q USING fts5(body, tokenize = 'porter unicode61 remove_diacritics 2')",
);
mem.exec("CREATE VIRTUAL TABLE temp.qv USING fts5vocab(main, q, instance)");
const qids = [...qrels.keys()].filter((id) => queries.has(id));
const insert = mem.prepare("INSERT INTO q (rowid, body) VALUES (?, ?)");
qids.forEach((id, i) => {
  const tokens = queries.get(id)!.normalize("NFKC").toLowerCase().match(WORD) ?? [];
  const unique = [...new Set(tokens)];
  const content = unique.filter((t) => !STOP_WORDS.has(t) && !/^[a-z]$/.test(t));
  insert.run(i + 1, (content.length ? content : unique).join(" "));
});
const queryTerms: string[][] = qids.map(() => []);
for (const row of mem
  .prepare("SELECT term, doc, offset FROM temp.qv ORDER BY doc, offset")
  .iterate() as Iterable<{
  term: string;
  doc: number;
}>) {
  const list = queryTerms[row.doc - 1]!;
  if (!list.includes(row.term)) list.push(row.term);
}
// raw (unfiltered) stems, in order, for proximity pairs
const qvec: Record<string, number[]> | null =
  qvecPath && fs.existsSync(qvecPath) ? JSON.parse(fs.readFileSync(qvecPath, "utf8")) : null;
const chunkVec = new Map<number, Float32Array>();
const ctxVec = new Map<number, Float32Array>();
if (qvec) {
  for (const r of db
    .prepare("SELECT chunk_id, embedding FROM chunk_vectors")
    .iterate() as Iterable<{ chunk_id: number; embedding: Buffer }>) {
    chunkVec.set(
      r.chunk_id,
      new Float32Array(
        r.embedding.buffer.slice(
          r.embedding.byteOffset,
          r.embedding.byteOffset + r.embedding.byteLength,
        ),
      ),
    );
  }
  for (const r of db
    .prepare("SELECT chunk_id, embedding FROM chunk_context_vectors")
    .iterate() as Iterable<{ chunk_id: number; embedding: Buffer }>) {
    ctxVec.set(
      r.chunk_id,
      new Float32Array(
        r.embedding.buffer.slice(
          r.embedding.byteOffset,
          r.embedding.byteOffset + r.embedding.byteLength,
        ),
      ),
    );
  }
}
console.error(
  `${qids.length} queries, ${N} chunks, ${ND} docs, vectors ${chunkVec.size}/${ctxVec.size}`,
);

// ---- scoring ----
function idf(n: number, total: number): number {
  const v = Math.log((total - n + 0.5) / (n + 0.5));
  return v <= 0 ? 1e-6 : v;
}
interface Params {
  k1: number;
  b: number;
  w: number[];
}
interface Flat {
  ids: Int32Array;
  tf: Float64Array[]; // per column
}
/** Postings as typed arrays: ids and per-column term frequencies. */
function flatten<K extends number>(postings: Map<K, ArrayLike<number>>): Flat {
  const ids = new Int32Array(postings.size);
  const tf = [0, 1, 2].map(() => new Float64Array(postings.size));
  let i = 0;
  for (const [id, counts] of postings) {
    ids[i] = id;
    for (let column = 0; column < 3; column++) tf[column]![i] = counts[column]!;
    i++;
  }
  return { ids, tf };
}
const chunkFlat = new Map<string, Flat>();
for (const [term, postings] of index) {
  chunkFlat.set(term, flatten(new Map([...postings].map(([c, p]) => [c, p.tf]))));
}
const docFlat = new Map<string, Flat>();
for (const [term, postings] of docTf) docFlat.set(term, flatten(postings));
const maxChunk = Math.max(...chunkLen.keys()) + 1;
const maxDoc = Math.max(...docLen.keys()) + 1;
const chunkD = new Float64Array(maxChunk);
for (const [c, l] of chunkLen) chunkD[c] = l[0]! + l[1]! + l[2]!;
const docD = new Float64Array(maxDoc);
for (const [d, l] of docLen) docD[d] = l[0]! + l[1]! + l[2]!;
function bm25Flat(
  flat: Map<string, Flat>,
  total: number,
  lens: Float64Array,
  avg: number,
  terms: string[],
  p: Params,
  termWeights?: Map<string, number>,
): Map<number, number> {
  const acc = new Float64Array(lens.length);
  const touched: number[] = [];
  for (const term of terms) {
    const f = flat.get(term);
    if (!f) continue;
    const i = idf(f.ids.length, total) * (termWeights?.get(term) ?? 1);
    if (i === 0) continue;
    const [t0, t1, t2] = f.tf as [Float64Array, Float64Array, Float64Array];
    for (let j = 0; j < f.ids.length; j++) {
      const id = f.ids[j]!;
      const tf = t0[j]! * p.w[0]! + t1[j]! * p.w[1]! + t2[j]! * p.w[2]!;
      if (tf === 0) continue;
      const s = (i * tf * (p.k1 + 1)) / (tf + p.k1 * (1 - p.b + (p.b * lens[id]!) / avg));
      if (acc[id] === 0) touched.push(id);
      acc[id]! += s;
    }
  }
  return new Map(touched.map((id) => [id, acc[id]!]));
}
/** FTS5's bm25() over chunks. */
function chunkBm25(
  terms: string[],
  p: Params,
  termWeights?: Map<string, number>,
): Map<number, number> {
  return bm25Flat(chunkFlat, N, chunkD, avgLen, terms, p, termWeights);
}
/** BM25 of whole documents (title once + all chunk text). */
function docBm25(
  terms: string[],
  p: Params,
  termWeights?: Map<string, number>,
): Map<number, number> {
  return bm25Flat(docFlat, ND, docD, avgDocLen, terms, p, termWeights);
}
function topN(scores: Map<number, number>, n: number): [number, number][] {
  const all = [...scores];
  if (all.length > 4 * n) {
    // cheap pre-filter: threshold at the n-th largest by sampling sort of values
    const values = all.map((e) => e[1]).sort((a, b) => b - a);
    const cut = values[n - 1]!;
    return all
      .filter((e) => e[1] >= cut)
      .sort((a, b) => b[1] - a[1] || a[0] - b[0])
      .slice(0, n);
  }
  return all.sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, n);
}
function dot(a: Float32Array, b: number[] | Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * (b[i] as number);
  return s;
}
function evalChunkRanking(
  name: string,
  rank: (qi: number, qid: string) => number[] /* chunk ids */,
): number {
  const nd: number[] = [];
  qids.forEach((qid, qi) => {
    const chunks = rank(qi, qid);
    const ranking = documentRanking(chunks.map((c) => corpusId.get(docOfChunk.get(c)!)!));
    nd.push(ndcgAt(ranking, qrels.get(qid)!, 10));
  });
  const half = (odd: number) => mean(nd.filter((_, i) => i % 2 === odd));
  const v = mean(nd);
  console.log(
    `${name.padEnd(60)} nDCG@10 ${v.toFixed(4)}  (even ${half(0).toFixed(4)} odd ${half(1).toFixed(4)})`,
  );
  return v;
}
function evalDocRanking(
  name: string,
  rank: (qi: number, qid: string) => number[] /* doc ids */,
): number {
  return evalChunkRanking(name, (qi, qid) => rank(qi, qid).map((d) => chunksOfDoc.get(d)![0]!));
}

const P0: Params = { k1: 1.2, b: 0.75, w: [3, 2, 1] };
const CAND = 100;

type VecMode = "max" | "text" | "context" | number;

/** A chunk's cosine with `q`: its text vector, its context vector, their max or a mix. */
function chunkSimilarity(c: number, q: Float32Array | number[], mode: VecMode = "max"): number {
  const text = dot(chunkVec.get(c)!, q);
  const context = ctxVec.has(c) ? dot(ctxVec.get(c)!, q) : text;
  if (mode === "text") return text;
  if (mode === "context") return context;
  if (mode === "max") return Math.max(text, context);
  return (1 - mode) * text + mode * context;
}

/** The product's fusion over a candidate set (keyword = score / best, vector min-max). */
function fuse(
  qid: string,
  kw: Map<number, number>,
  vw: number,
  qOverride?: Float32Array | number[],
  docLevelVec = 0,
  vecMode: VecMode = "max",
): number[] {
  const kwTop = topN(kw, CAND);
  const cand = new Map<number, number>(kwTop);
  if (!qvec || vw === 0) return kwTop.map(([c]) => c);
  const q = qOverride ?? qvec[qid]!;
  const sims: [number, number][] = [];
  for (const [c, v] of chunkVec) sims.push([c, dot(v, q)]);
  sims.sort((a, b) => b[1] - a[1]);
  const neighbours = sims.slice(0, CAND);
  for (const [c] of neighbours) if (!cand.has(c)) cand.set(c, kw.get(c) ?? 0);
  // the product only knows keyword scores of the keyword stage's top candidates
  const kwScore = (c: number) => (kwTop.some(([x]) => x === c) ? (kw.get(c) ?? 0) : 0);
  const chunkSim = (c: number) => chunkSimilarity(c, q, vecMode);
  const simOf = (c: number) => {
    const own = chunkSim(c);
    if (docLevelVec === 0) return own;
    const best = Math.max(...chunksOfDoc.get(docOfChunk.get(c)!)!.map(chunkSim));
    return (1 - docLevelVec) * own + docLevelVec * best;
  };
  const entries = [...cand.keys()].map((c) => ({ c, k: kwScore(c), s: simOf(c) }));
  return rankFused(entries, vw, neighbours.at(-1)![1]);
}

/**
 * The product's fusion of candidates' keyword (`k`) and vector (`s`) scores: keyword / best,
 * vector min-max between the best and `floor` (the last vector neighbour's score).
 */
function rankFused(entries: { c: number; k: number; s: number }[], vw: number, floor: number) {
  const bestK = Math.max(0, ...entries.map((e) => e.k));
  const spread = Math.max(...entries.map((e) => e.s)) - floor;
  return entries
    .map((e) => ({
      c: e.c,
      f:
        (1 - vw) * (bestK > 0 ? e.k / bestK : 0) +
        vw * (spread > 0 ? Math.min(1, Math.max(0, (e.s - floor) / spread)) : 0),
    }))
    .sort((a, b) => b.f - a.f || a.c - b.c)
    .map((e) => e.c);
}

// doc -> term -> tf (body+heading+title weighted later), for feedback
const docTerms = new Map<number, Map<string, number>>();
for (const [term, postings] of docTf) {
  for (const [d, t] of postings) {
    let m = docTerms.get(d);
    if (!m) docTerms.set(d, (m = new Map()));
    m.set(term, t[0]! + t[1]! + t[2]!);
  }
}
function rm3(
  terms: string[],
  p: Params,
  fbDocs: number,
  fbTerms: number,
  lambda: number,
): Map<number, number> {
  const first = topN(docBm25(terms, p), fbDocs);
  const weights = new Map<string, number>();
  const total = first.reduce((s, [, v]) => s + v, 0) || 1;
  for (const [d, v] of first) {
    const len = docD[d]! || 1;
    for (const [t, tf] of docTerms.get(d)!)
      weights.set(t, (weights.get(t) ?? 0) + (v / total) * (tf / len));
  }
  // terms with little idf are noise
  const expansion = [...weights]
    .filter(([t]) => idf(docFlat.get(t)!.ids.length, ND) > 1.5)
    .sort((a, b) => b[1] - a[1])
    .slice(0, fbTerms);
  const sumE = expansion.reduce((s, [, v]) => s + v, 0) || 1;
  const tw = new Map<string, number>();
  for (const t of terms) tw.set(t, (1 - lambda) / terms.length);
  for (const [t, v] of expansion) tw.set(t, (tw.get(t) ?? 0) + (lambda * v) / sumE);
  // normalise so original terms have weight ~1
  const scale = terms.length / (1 - lambda || 1);
  for (const [t, v] of tw) tw.set(t, v * scale);
  return docBm25([...tw.keys()], p, tw);
}
/** pairs of query terms that occur within `window` tokens of each other in the doc body. */
function proximity(terms: string[], chunk: number, window: number): number {
  let bonus = 0;
  for (let i = 0; i < terms.length; i++)
    for (let j = i + 1; j < terms.length; j++) {
      const a = index.get(terms[i]!)?.get(chunk);
      const b = index.get(terms[j]!)?.get(chunk);
      if (!a || !b) continue;
      let count = 0;
      for (const x of a.pos) for (const y of b.pos) if (Math.abs(x - y) <= window) count++;
      if (count > 0) {
        const w = Math.min(idf(index.get(terms[i]!)!.size, N), idf(index.get(terms[j]!)!.size, N));
        bonus += (w * count * 2.2) / (count + 1.2);
      }
    }
  return bonus;
}
function mixed(
  terms: string[],
  a: number,
  p: Params = P0,
  docScores?: Map<number, number>,
): Map<number, number> {
  const cs = chunkBm25(terms, p);
  const ds = docScores ?? docBm25(terms, p);
  const bc = Math.max(...cs.values(), 1e-9);
  const bd = Math.max(...ds.values(), 1e-9);
  const out = new Map<number, number>();
  for (const [c, s] of cs)
    out.set(c, (1 - a) * (s / bc) + a * ((ds.get(docOfChunk.get(c)!) ?? 0) / bd));
  return out;
}

/**
 * Sentence vectors written by a lab script (SENTENCES=<prefix>: <prefix>.f32 holds unit vectors,
 * <prefix>.json [chunk id, sentence count][] in the same order). For each query, each chunk's
 * best sentence cosine, computed once and kept.
 */
const sentenceBest = new Map<string, Map<number, number>>();
let sentenceRows: { chunk: number; vectors: Float32Array[] }[] | undefined;
function bestSentence(qid: string): Map<number, number> {
  const cached = sentenceBest.get(qid);
  if (cached) return cached;
  if (!sentenceRows) {
    const prefix = process.env.SENTENCES;
    if (!prefix) throw new Error("SENTENCES=<prefix> is required");
    const bytes = fs.readFileSync(prefix + ".f32");
    const all = new Float32Array(
      bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
    );
    const layout = JSON.parse(fs.readFileSync(prefix + ".json", "utf8")) as [number, number][];
    let at = 0;
    sentenceRows = layout.map(([chunk, count]) => {
      const vectors = Array.from({ length: count }, (_, i) =>
        all.subarray((at + i) * DIMENSION, (at + i + 1) * DIMENSION),
      );
      at += count;
      return { chunk, vectors };
    });
  }
  const q = qvec![qid]!;
  const best = new Map<number, number>();
  for (const { chunk, vectors } of sentenceRows)
    best.set(chunk, Math.max(-1, ...vectors.map((v) => dot(v, q))));
  sentenceBest.set(qid, best);
  return best;
}

/** `fuse` with another vector score: candidates are the keyword top and this score's top. */
function fuseWith(kw: Map<number, number>, vw: number, sim: (c: number) => number): number[] {
  const kwTop = topN(kw, CAND);
  const kwOf = new Map(kwTop);
  const all: [number, number][] = [...chunkVec.keys()].map((c) => [c, sim(c)]);
  all.sort((a, b) => b[1] - a[1]);
  const neighbours = all.slice(0, CAND);
  const cand = new Set([...kwOf.keys(), ...neighbours.map(([c]) => c)]);
  const entries = [...cand].map((c) => ({ c, k: kwOf.get(c) ?? 0, s: sim(c) }));
  return rankFused(entries, vw, neighbours.at(-1)![1]);
}

// ---- decision 045: a chunk's later windows, a query without its stop words, each with the
// calibration that follows it ----
interface WindowData {
  /** Dense chunk order (ids) and each chunk's later-window vectors. */
  ids: number[];
  later: Float32Array[][];
  titles: { ftsQuery: string; documents: number[]; vector: number[]; vectorNoStop: number[] }[];
  nostop: Record<string, number[]>;
}
let windowData: WindowData | undefined;
function loadWindows(): WindowData {
  if (windowData) return windowData;
  const prefix = process.env.WINDOWS;
  if (!prefix) throw new Error("WINDOWS=<prefix> is required");
  const bytes = fs.readFileSync(prefix + ".f32");
  const all = new Float32Array(
    bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
  );
  const layout = JSON.parse(fs.readFileSync(prefix + ".json", "utf8")) as [number, number][];
  const byChunk = new Map<number, Float32Array[]>();
  let at = 0;
  for (const [chunk, count] of layout) {
    byChunk.set(
      chunk,
      Array.from({ length: count }, (_, i) =>
        all.subarray((at + i) * DIMENSION, (at + i + 1) * DIMENSION),
      ),
    );
    at += count;
  }
  const ids = [...chunkVec.keys()];
  windowData = {
    ids,
    later: ids.map((c) => byChunk.get(c) ?? []),
    titles: JSON.parse(fs.readFileSync(prefix + ".titles.json", "utf8")),
    nostop: JSON.parse(fs.readFileSync(prefix + ".queries-nostop.json", "utf8")),
  };
  return windowData;
}
function unit(v: Float32Array): Float32Array {
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.sqrt(n) || 1;
  return v.map((x) => x / n);
}
/** How a chunk's text vector(s) are scored against a query vector. */
type TextScorer = (q: Float32Array | number[]) => Float64Array; // per dense chunk index
function scorerOf(mode: string): TextScorer {
  const { ids, later } = loadWindows();
  const stored = ids.map((c) => chunkVec.get(c)!);
  if (mode === "stored") return (q) => Float64Array.from(stored, (v) => dot(v, q));
  if (mode === "max")
    return (q) =>
      Float64Array.from(stored, (v, i) => Math.max(dot(v, q), ...later[i]!.map((w) => dot(w, q))));
  if (mode.startsWith("mean")) {
    // mean: the stored vector and each later window alike; mean<k>: the stored one counted k times
    const k = Number(mode.slice(4) || "1");
    const means = stored.map((v, i) => {
      const sum = Float32Array.from(v, (x) => k * x);
      for (const w of later[i]!) for (let d = 0; d < sum.length; d++) sum[d]! += w[d]!;
      return unit(sum);
    });
    return (q) => Float64Array.from(means, (v) => dot(v, q));
  }
  if (mode.startsWith("soft")) {
    // the stored cosine plus a share of the best later window's
    const share = Number(mode.slice(4));
    return (q) =>
      Float64Array.from(stored, (v, i) => {
        const own = dot(v, q);
        const best = Math.max(-1, ...later[i]!.map((w) => dot(w, q)));
        return best > own ? own + share * (best - own) : own;
      });
  }
  throw new Error(`unknown window mode ${mode}`);
}
const keywordOfTitle = new Map<string, Map<number, number>>();
/** The product's calibration (calibrate.server.ts) with this text scorer: MRR per weight, choice. */
function calibrateWith(score: TextScorer, stripped = false): { weight: number; mrr: number[] } {
  const { ids, titles } = loadWindows();
  const rr = WEIGHT_GRID.map(() => [] as number[]);
  for (const t of titles) {
    let keyword = keywordOfTitle.get(t.ftsQuery);
    if (!keyword) {
      keyword = new Map(
        keywordSearch(db as unknown as TenantDb, `{body} : (${t.ftsQuery})`, CAND, {
          columns: [0, 0, 1],
        }).map((h) => [h.chunkId, h.score]),
      );
      keywordOfTitle.set(t.ftsQuery, keyword);
    }
    const sims = score(stripped ? t.vectorNoStop : t.vector);
    const order = [...sims.keys()].sort((a, b) => sims[b]! - sims[a]!).slice(0, CAND);
    const neighbours = order.map((i) => ({ chunkId: ids[i]!, similarity: sims[i]! }));
    const simOf = new Map(neighbours.map((n) => [n.chunkId, n.similarity]));
    const indexOf = new Map(ids.map((c, i) => [c, i]));
    const cands = [...new Set([...keyword.keys(), ...simOf.keys()])];
    const entries = cands.map((c) => ({
      chunkId: c,
      keywordScore: keyword.get(c) ?? 0,
      similarity: simOf.get(c) ?? sims[indexOf.get(c)!]!,
    }));
    const relevant = new Set(t.documents);
    WEIGHT_GRID.forEach((w, wi) => {
      const f = fusedScores(entries, neighbours, 1 - w, w);
      const ranked = entries
        .map((e, i) => ({ c: e.chunkId, f: f[i]! }))
        .sort((a, b) => b.f - a.f || a.c - b.c);
      const seen = new Set<number>();
      let reciprocal = 0;
      for (const e of ranked) {
        const d = docOfChunk.get(e.c)!;
        if (seen.has(d)) continue;
        seen.add(d);
        if (seen.size > 10) break;
        if (relevant.has(d)) {
          reciprocal = 1 / seen.size;
          break;
        }
      }
      rr[wi]!.push(reciprocal);
    });
  }
  const mrr = rr.map((v) => mean(v));
  return { weight: chooseWeight(mrr), mrr };
}
/** nDCG@10 of the product's fusion with this text scorer (context vectors as in the product). */
function windowsRun(
  name: string,
  score: TextScorer,
  queryVector: (qid: string) => number[],
  weights: number[],
): void {
  const { ids } = loadWindows();
  const ctx = ids.map((c) => ctxVec.get(c));
  const indexOf = new Map(ids.map((c, i) => [c, i]));
  const perQuery = qids.map((qid, qi) => {
    const q = queryVector(qid);
    const text = score(q);
    const order = [...text.keys()].sort((a, b) => text[b]! - text[a]!).slice(0, CAND);
    const kwTop = topN(mixed(queryTerms[qi]!, 0.5), CAND);
    return { q, text, order, kwTop };
  });
  for (const vw of weights) {
    evalChunkRanking(`${name}, vw ${vw}`, (qi) => {
      const { q, text, order, kwTop } = perQuery[qi]!;
      const kwOf = new Map(kwTop);
      const cand = new Set([...kwOf.keys(), ...order.map((i) => ids[i]!)]);
      const entries = [...cand].map((c) => {
        const i = indexOf.get(c)!;
        const context = ctx[i] ? dot(ctx[i]!, q) : -Infinity;
        return { c, k: kwOf.get(c) ?? 0, s: Math.max(text[i]!, context) };
      });
      return rankFused(entries, vw, text[order.at(-1)!]!);
    });
  }
}
function windowsExperiment(): void {
  const { nostop } = loadWindows();
  const full = (qid: string) => qvec![qid]!;
  const stripped = (qid: string) => nostop[qid] ?? qvec![qid]!;
  const both = (qid: string) =>
    Array.from(unit(Float32Array.from(full(qid), (x, i) => x + stripped(qid)[i]!)));
  const modes = (process.env.MODES ?? "stored,max,mean,mean2,soft0.5").split(",");
  const queryModes = (process.env.QUERY_MODES ?? "full").split(",");
  for (const mode of modes) {
    const score = scorerOf(mode);
    for (const qm of queryModes) {
      const { weight, mrr } = calibrateWith(score, qm === "nostop");
      console.log(
        `text "${mode}", query ${qm}: calibration chooses ${weight} (title MRR ${mrr.map((m) => m.toFixed(3)).join(" ")})`,
      );
      const qv = qm === "nostop" ? stripped : qm === "both" ? both : full;
      windowsRun(`text "${mode}", query ${qm}`, score, qv, [...new Set([weight, 0.1, 0.2, 0.3])]);
    }
  }
}

const experiments: Record<string, () => void> = {
  windows: windowsExperiment,
  sentences() {
    const own = (qid: string, c: number) => chunkSimilarity(c, qvec![qid]!);
    evalChunkRanking("vector only: chunk max(text, context)", (_, qid) =>
      fuseWith(new Map(), 1, (c) => own(qid, c)),
    );
    evalChunkRanking("vector only: best sentence", (_, qid) =>
      fuseWith(new Map(), 1, (c) => bestSentence(qid).get(c)!),
    );
    evalChunkRanking("vector only: max(text, context, best sentence)", (_, qid) =>
      fuseWith(new Map(), 1, (c) => Math.max(own(qid, c), bestSentence(qid).get(c)!)),
    );
    for (const vw of [0.1, 0.2, 0.3, 0.4, 0.5]) {
      evalChunkRanking(`mix .5 + fusion, best sentence, vw ${vw}`, (qi, qid) =>
        fuseWith(mixed(queryTerms[qi]!, 0.5), vw, (c) => bestSentence(qid).get(c)!),
      );
      evalChunkRanking(`mix .5 + fusion, max(own, best sentence), vw ${vw}`, (qi, qid) =>
        fuseWith(mixed(queryTerms[qi]!, 0.5), vw, (c) =>
          Math.max(own(qid, c), bestSentence(qid).get(c)!),
        ),
      );
    }
  },
  vecmode() {
    for (const mode of ["max", "text", "context", 0.3, 0.5] as const)
      for (const vw of [0.1, 0.2, 0.3])
        evalChunkRanking(`mix .5 + fusion vec ${mode} vw ${vw}`, (qi, qid) =>
          fuse(qid, mixed(queryTerms[qi]!, 0.5), vw, undefined, 0, mode),
        );
  },
  wrrf() {
    // Weighted reciprocal-rank fusion of the keyword mix and the vector ranking.
    for (const [k, wv] of [
      [60, 0.1],
      [60, 0.2],
      [20, 0.1],
      [20, 0.2],
      [5, 0.1],
    ] as const)
      evalChunkRanking(`mix .5 + wrrf k ${k} wv ${wv}`, (qi, qid) => {
        const kw = topN(mixed(queryTerms[qi]!, 0.5), CAND);
        const q = qvec![qid]!;
        const sims: [number, number][] = [];
        for (const [c, v] of chunkVec) sims.push([c, dot(v, q)]);
        sims.sort((a, b) => b[1] - a[1]);
        const score = new Map<number, number>();
        kw.forEach(([c], i) => score.set(c, (1 - wv) / (k + i + 1)));
        sims
          .slice(0, CAND)
          .forEach(([c], i) => score.set(c, (score.get(c) ?? 0) + wv / (k + i + 1)));
        return topN(score, CAND).map(([c]) => c);
      });
  },
  k1bdoc() {
    for (const k1 of [0.6, 0.9, 1.2, 1.6])
      for (const b of [0.4, 0.6, 0.75, 0.9])
        evalDocRanking(`doc k1 ${k1} b ${b}`, (qi) =>
          topN(docBm25(queryTerms[qi]!, { k1, b, w: [3, 2, 1] }), CAND).map(([d]) => d),
        );
  },
  k1bmix() {
    for (const k1 of [0.9, 1.2, 1.6])
      for (const b of [0.5, 0.75, 0.9])
        evalChunkRanking(`mix .5 k1 ${k1} b ${b}`, (qi) =>
          topN(mixed(queryTerms[qi]!, 0.5, { k1, b, w: [3, 2, 1] }), CAND).map(([c]) => c),
        );
  },
  rm3() {
    for (const [fd, ft, l] of [
      [3, 10, 0.2],
      [5, 10, 0.3],
      [10, 20, 0.3],
      [5, 20, 0.5],
      [3, 5, 0.1],
      [10, 10, 0.1],
    ] as const)
      evalDocRanking(`doc rm3 ${fd} docs ${ft} terms λ ${l}`, (qi) =>
        topN(rm3(queryTerms[qi]!, P0, fd, ft, l), CAND).map(([d]) => d),
      );
  },
  prox() {
    for (const [win, lam] of [
      [2, 0.1],
      [2, 0.3],
      [5, 0.1],
      [5, 0.3],
      [10, 0.2],
    ] as const)
      evalChunkRanking(`mix .5 + proximity w${win} λ ${lam}`, (qi) => {
        const terms = queryTerms[qi]!;
        const m = topN(mixed(terms, 0.5), CAND);
        const best = m[0]?.[1] ?? 1;
        const bonus = m.map(([c, v]) => [c, v, proximity(terms, c, win)] as const);
        const bp = Math.max(1e-9, ...bonus.map((x) => x[2]));
        return bonus
          .map(([c, v, b]) => [c, v / best + lam * (b / bp)] as const)
          .sort((x, y) => y[1] - x[1] || x[0] - y[0])
          .map(([c]) => c);
      });
  },
  docsum() {
    for (const [a, agg] of [
      [0.5, "sum"],
      [0.75, "sum"],
      [0.5, "sumsqrt"],
      [0.5, "maxhalf"],
    ] as const)
      evalChunkRanking(`chunk + doc(${agg} of chunk bm25) a ${a}`, (qi) => {
        const cs = chunkBm25(queryTerms[qi]!, P0);
        const ds = new Map<number, number>();
        const byDoc = new Map<number, number[]>();
        for (const [c, v] of cs) {
          const d = docOfChunk.get(c)!;
          byDoc.set(d, [...(byDoc.get(d) ?? []), v]);
        }
        for (const [d, list] of byDoc) {
          const sum = list.reduce((x, y) => x + y, 0);
          const max = Math.max(...list);
          ds.set(
            d,
            agg === "sum"
              ? sum
              : agg === "sumsqrt"
                ? sum / Math.sqrt(chunksOfDoc.get(d)!.length)
                : max + 0.5 * (sum - max),
          );
        }
        return topN(mixed(queryTerms[qi]!, a, P0, ds), CAND).map(([c]) => c);
      });
  },
  rocchio() {
    for (const [k, beta, vw] of [
      [3, 0.5, 0.1],
      [3, 1, 0.1],
      [5, 1, 0.2],
      [3, 1, 0.2],
      [10, 1, 0.2],
      [3, 2, 0.2],
      [3, 2, 0.3],
    ] as const)
      evalChunkRanking(`mix .5 + fusion(rocchio top${k} β ${beta}) vw ${vw}`, (qi, qid) => {
        const m = mixed(queryTerms[qi]!, 0.5);
        const top = topN(m, 50);
        const docs: number[] = [];
        for (const [c] of top) {
          const d = docOfChunk.get(c)!;
          if (!docs.includes(d)) docs.push(d);
          if (docs.length === k) break;
        }
        const q = Float32Array.from(qvec![qid]!);
        for (const d of docs)
          for (const c of chunksOfDoc.get(d)!) {
            const v = chunkVec.get(c)!;
            const share = beta / docs.length / chunksOfDoc.get(d)!.length;
            for (let i = 0; i < q.length; i++) q[i]! += share * v[i]!;
          }
        let norm = 0;
        for (let i = 0; i < q.length; i++) norm += q[i]! * q[i]!;
        norm = Math.sqrt(norm);
        for (let i = 0; i < q.length; i++) q[i]! /= norm;
        return fuse(qid, m, vw, q);
      });
  },
  docvec() {
    for (const [dl, vw] of [
      [0.5, 0.1],
      [0.5, 0.2],
      [1, 0.1],
      [1, 0.2],
    ] as const)
      evalChunkRanking(`mix .5 + fusion doc-level vec ${dl} vw ${vw}`, (qi, qid) =>
        fuse(qid, mixed(queryTerms[qi]!, 0.5), vw, undefined, dl),
      );
  },
  mixfusion() {
    for (const a of [0.5, 0.75])
      for (const vw of [0.1, 0.2])
        evalChunkRanking(`mix ${a} + fusion vw ${vw}`, (qi, qid) =>
          fuse(qid, mixed(queryTerms[qi]!, a), vw),
        );
  },
  base() {
    evalChunkRanking("chunk bm25 1.2/0.75 w3,2,1", (qi) =>
      topN(chunkBm25(queryTerms[qi]!, P0), CAND).map(([c]) => c),
    );
    evalChunkRanking("chunk bm25 w1,1,1", (qi) =>
      topN(chunkBm25(queryTerms[qi]!, { ...P0, w: [1, 1, 1] }), CAND).map(([c]) => c),
    );
    evalDocRanking("doc bm25 1.2/0.75 w3,2,1", (qi) =>
      topN(docBm25(queryTerms[qi]!, P0), CAND).map(([d]) => d),
    );
    evalDocRanking("doc bm25 1.2/0.75 w1,1,1", (qi) =>
      topN(docBm25(queryTerms[qi]!, { ...P0, w: [1, 1, 1] }), CAND).map(([d]) => d),
    );
  },
  k1b() {
    for (const k1 of [0.6, 0.9, 1.2, 1.5, 2.0])
      for (const b of [0.3, 0.5, 0.75, 0.9]) {
        evalChunkRanking(`chunk k1 ${k1} b ${b}`, (qi) =>
          topN(chunkBm25(queryTerms[qi]!, { k1, b, w: [3, 2, 1] }), CAND).map(([c]) => c),
        );
        evalDocRanking(`doc k1 ${k1} b ${b}`, (qi) =>
          topN(docBm25(queryTerms[qi]!, { k1, b, w: [3, 2, 1] }), CAND).map(([d]) => d),
        );
      }
  },
  titlew() {
    for (const tw of [1, 2, 3, 4, 6]) {
      evalChunkRanking(`chunk title w ${tw}`, (qi) =>
        topN(chunkBm25(queryTerms[qi]!, { ...P0, w: [tw, 2, 1] }), CAND).map(([c]) => c),
      );
      evalDocRanking(`doc title w ${tw}`, (qi) =>
        topN(docBm25(queryTerms[qi]!, { ...P0, w: [tw, 2, 1] }), CAND).map(([d]) => d),
      );
    }
  },
  mix() {
    // chunk score = (1-a)·chunk/best + a·doc(chunk's doc)/best
    for (const a of [0, 0.25, 0.5, 0.75, 1]) {
      evalChunkRanking(`chunk+doc mix a ${a}`, (qi) => {
        const terms = queryTerms[qi]!;
        const cs = chunkBm25(terms, P0);
        const ds = docBm25(terms, P0);
        const bc = Math.max(...cs.values(), 1e-9);
        const bd = Math.max(...ds.values(), 1e-9);
        const mixed = new Map<number, number>();
        for (const [c, s] of cs)
          mixed.set(c, (1 - a) * (s / bc) + a * ((ds.get(docOfChunk.get(c)!) ?? 0) / bd));
        return topN(mixed, CAND).map(([c]) => c);
      });
    }
  },
  fusion() {
    for (const vw of [0, 0.1, 0.2, 0.3])
      evalChunkRanking(`product fusion chunk bm25, vw ${vw}`, (qi, qid) =>
        fuse(qid, chunkBm25(queryTerms[qi]!, P0), vw),
      );
  },
};

for (const [name, run] of Object.entries(experiments)) {
  if (only && !only.split(",").includes(name)) continue;
  t0 = performance.now();
  run();
  console.error(`  (${name}: ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
}
