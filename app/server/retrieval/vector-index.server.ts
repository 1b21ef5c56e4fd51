// The fast path of the vector stage for large tenants (decision 011): an in-memory copy of the
// tenant's vectors in typed arrays, one bit per dimension (the sign) for a Hamming-distance scan
// of every chunk (in WebAssembly), and one signed byte per dimension (int8, scaled per vector) to re-score the
// nearest few hundred candidates; nearestChunks then re-scores the best of those exactly from
// the float vectors in SQLite (chunk_vectors). At 100,000 chunks of 512 dimensions the index
// holds 6.4 MB of bits and 51 MB of int8 codes.
//
// An index is valid for one knowledge-base version of one tenant handle: it is rebuilt, from
// one read transaction, on the first search after any change to the tenant's documents. All
// indexes share one memory budget (least recently used dropped first); a tenant whose index
// would not fit keeps the exact scan.
import { LRUCache } from "lru-cache";
import { knowledgeBaseVersion } from "#tenants/knowledge-base.ts";
import { chunkTotal, embeddingDimension, everyTextVector } from "#tenants/search.ts";
import { hasVectorCopy, type TenantDb } from "#tenants/store.ts";
import type { VectorHit } from "./types.server.ts";

/** Tenants with fewer chunks keep the exact scan: it is fast enough and exact. */
export const DEFAULT_FAST_PATH_MIN_CHUNKS = 5_000;

/** Candidates of the Hamming scan re-scored per wanted neighbour, and at least this many. */
export const RESCORE_FACTOR = 20;
export const MIN_RESCORE = 800;

/**
 * After a change, retrieval rebuilds a tenant's index at most this long after its last build
 * and uses the exact scan until then, so a large tenant being ingested document by document
 * pays one rebuild (seconds at 100,000 chunks) per interval, not one per document.
 */
export const DEFAULT_REBUILD_INTERVAL_MS = 30_000;

/** Memory for all tenants' indexes together, and how many tenants are remembered at most. */
export const DEFAULT_INDEX_BUDGET_BYTES = 256 * 1024 * 1024;
const MAX_TENANTS = 1_000;

/** Hamming candidates re-scored with int8 codes when k neighbours are wanted. */
export function candidatePool(k: number): number {
  return Math.max(MIN_RESCORE, k * RESCORE_FACTOR);
}

/** Bytes an index of `count` vectors of `dimension` takes. */
export function indexBytes(count: number, dimension: number): number {
  // ids (f64), int8 codes, bits (whole 64-bit words), per-row factor (f32), distances (u16).
  return count * (8 + dimension + 8 * Math.ceil(dimension / 64) + 4 + 2);
}

// The Hamming scan, in WebAssembly for its 64-bit popcount (i64.popcnt): about 4 times faster
// than 32-bit popcount in JavaScript (0.7 against 2.9 ms of CPU for 100,000 rows of 512 bits).
// hamming(bits, query, out, rows, words): for each of `rows` rows of `words` 64-bit words from
// byte offset `bits`, stores popcount(row XOR query) as a u16 at `out`, advancing by 2 bytes.
// Hand-assembled; the function body is, in the text format:
//   (local $row i32) (local $w i32) (local $acc i64)
//   block loop  (br_if 1 (i32.ge_u $row $rows))  $acc = 0  $w = 0
//     block loop  (br_if 1 (i32.ge_u $w $words))
//       $acc += i64.popcnt(i64.load($bits) ^ i64.load($query + ($w << 3)))
//       $bits += 8  $w += 1  br 0  end end
//     i32.store16($out, i32.wrap_i64($acc))  $out += 2  $row += 1  br 0  end end
const HAMMING_BODY = `02 02 7f 01 7e 02 40 03 40 20 05 20 03 4f 0d 01 42 00 21 07 41 00 21 06
  02 40 03 40 20 06 20 04 4f 0d 01 20 07 20 00 29 03 00 20 01 20 06 41 03 74 6a 29 03 00 85 7b
  7c 21 07 20 00 41 08 6a 21 00 20 06 41 01 6a 21 06 0c 00 0b 0b 20 02 20 07 a7 3b 01 00 20 02
  41 02 6a 21 02 20 05 41 01 6a 21 05 0c 00 0b 0b 0b`
  .split(/\s+/)
  .map((byte) => parseInt(byte, 16));

const HAMMING_MODULE = new WebAssembly.Module(
  Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0],
    // type: (i32 × 5) -> ()
    ...[1, 9, 1, 0x60, 5, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0],
    // import env.mem: memory, at least 1 page
    ...[2, 12, 1, 3, 0x65, 0x6e, 0x76, 3, 0x6d, 0x65, 0x6d, 2, 0, 1],
    // one function of type 0, exported as "h"
    ...[3, 2, 1, 0],
    ...[7, 5, 1, 1, 0x68, 0, 0],
    // code
    ...[10, HAMMING_BODY.length + 2, 1, HAMMING_BODY.length, ...HAMMING_BODY],
  ]),
);

type Hamming = (bits: number, query: number, out: number, rows: number, words: number) => void;

function setBit(words: Int32Array, base: number, bit: number): void {
  const at = base + (bit >>> 5);
  words[at] = (words[at] as number) | (1 << (bit & 31));
}

export class VectorIndex {
  readonly count: number;
  readonly dimension: number;
  /** 32-bit words of bits per row: whole 64-bit words, for the WebAssembly scan. */
  readonly #words: number;
  readonly #ids: Float64Array;
  readonly #bits: Int32Array;
  readonly #queryBits: Int32Array;
  readonly #hamming: Hamming;
  readonly #queryAt: number;
  readonly #distancesAt: number;
  readonly #codes: Int8Array;
  /** Per row: int8 scale over the vector's norm, so factor · (query · code) is a cosine. */
  readonly #factors: Float32Array;
  readonly #distances: Uint16Array;

  constructor(ids: Float64Array, vectors: Float32Array, dimension: number) {
    const count = ids.length;
    const words = 2 * Math.ceil(dimension / 64);
    this.count = count;
    this.dimension = dimension;
    this.#words = words;
    this.#ids = ids;
    // WebAssembly memory: the rows' bits, the query's bits, then the distances.
    const bitBytes = count * words * 4;
    this.#queryAt = bitBytes;
    this.#distancesAt = bitBytes + words * 4;
    const memory = new WebAssembly.Memory({
      initial: Math.max(1, Math.ceil((this.#distancesAt + count * 2) / 65_536)),
    });
    const instance = new WebAssembly.Instance(HAMMING_MODULE, { env: { mem: memory } });
    this.#hamming = instance.exports.h as Hamming;
    this.#bits = new Int32Array(memory.buffer, 0, count * words);
    this.#queryBits = new Int32Array(memory.buffer, this.#queryAt, words);
    this.#distances = new Uint16Array(memory.buffer, this.#distancesAt, count);
    this.#codes = new Int8Array(count * dimension);
    this.#factors = new Float32Array(count);
    for (let row = 0; row < count; row++) this.#set(row, vectors, row * dimension);
  }

  get bytes(): number {
    return indexBytes(this.count, this.dimension);
  }

  #set(row: number, vectors: Float32Array, from: number): void {
    const dimension = this.dimension;
    let max = 0;
    let sumOfSquares = 0;
    for (let i = 0; i < dimension; i++) {
      const x = vectors[from + i] as number;
      max = Math.max(max, Math.abs(x));
      sumOfSquares += x * x;
    }
    const scale = max / 127;
    const bits = row * this.#words;
    const codes = row * dimension;
    for (let i = 0; i < dimension; i++) {
      const x = vectors[from + i] as number;
      if (x > 0) setBit(this.#bits, bits, i);
      this.#codes[codes + i] = scale > 0 ? Math.round(x / scale) : 0;
    }
    this.#factors[row] = sumOfSquares > 0 ? scale / Math.sqrt(sumOfSquares) : 0;
  }

  /**
   * The `limit` rows nearest the query by their int8 codes, among the `pool` rows nearest it
   * by Hamming distance (all rows at most).
   */
  search(query: Float32Array, limit: number, pool = candidatePool(limit)): VectorHit[] {
    const { count, dimension } = this;
    const distances = this.#distances;
    const queryBits = this.#queryBits;
    queryBits.fill(0);
    let queryNormSquared = 0;
    for (let i = 0; i < dimension; i++) {
      const x = query[i] ?? 0;
      if (x > 0) setBit(queryBits, 0, i);
      queryNormSquared += x * x;
    }
    const queryNorm = Math.sqrt(queryNormSquared);

    // The Hamming distance of every row (WebAssembly), then their histogram.
    this.#hamming(0, this.#queryAt, this.#distancesAt, count, this.#words / 2);
    const histogram = new Uint32Array(dimension + 1);
    for (let row = 0; row < count; row++) {
      const distance = distances[row] as number;
      histogram[distance] = (histogram[distance] as number) + 1;
    }

    // Every row closer than the threshold distance, and rows at it until the pool is full.
    pool = Math.min(count, Math.max(limit, pool));
    let threshold = 0;
    for (let seen = 0; threshold <= dimension; threshold++) {
      seen += histogram[threshold] as number;
      if (seen >= pool) break;
    }
    const candidates = new Int32Array(pool);
    const scores = new Float64Array(pool);
    let taken = 0;
    let atThreshold = pool;
    for (let d = 0; d < threshold; d++) atThreshold -= histogram[d] as number;
    const codes = this.#codes;
    for (let row = 0; row < count && taken < pool; row++) {
      const distance = distances[row] as number;
      if (distance > threshold) continue;
      if (distance === threshold) {
        if (atThreshold === 0) continue;
        atThreshold--;
      }
      let dot = 0;
      for (let i = 0, at = row * dimension; i < dimension; i++, at++) {
        dot += (query[i] as number) * (codes[at] as number);
      }
      candidates[taken] = row;
      scores[taken] = queryNorm > 0 ? (dot * (this.#factors[row] as number)) / queryNorm : 0;
      taken++;
    }

    const order = Array.from({ length: taken }, (_, i) => i).sort(
      (a, b) => (scores[b] as number) - (scores[a] as number),
    );
    return order.slice(0, limit).map((i) => ({
      chunkId: this.#ids[candidates[i] as number] as number,
      similarity: scores[i] as number,
    }));
  }
}

/** Reads a tenant's vectors into an index, with the knowledge-base version they belong to. */
export function buildVectorIndex(db: TenantDb): { version: string; index: VectorIndex } {
  return db.transaction(() => {
    const version = knowledgeBaseVersion(db);
    let capacity = Math.max(1, chunkTotal(db));
    let ids = new Float64Array(capacity);
    let vectors: Float32Array | undefined;
    let dimension = 0;
    let count = 0;
    // Files without the plain copy (made outside openTenantDb) are read from vec0, slowly.
    for (const row of everyTextVector(db, hasVectorCopy(db))) {
      if (!vectors) {
        dimension = row.embedding.byteLength / 4;
        vectors = new Float32Array(capacity * dimension);
      }
      if (count === capacity) {
        capacity *= 2;
        const moreIds = new Float64Array(capacity);
        moreIds.set(ids);
        ids = moreIds;
        const moreVectors = new Float32Array(capacity * dimension);
        moreVectors.set(vectors);
        vectors = moreVectors;
      }
      ids[count] = row.chunk_id;
      // Copied byte-wise: a Buffer's offset inside SQLite's memory need not be 4-byte aligned.
      new Uint8Array(vectors.buffer, count * dimension * 4, dimension * 4).set(row.embedding);
      count++;
    }
    const index = new VectorIndex(
      ids.subarray(0, count),
      (vectors ?? new Float32Array(0)).subarray(0, count * dimension),
      dimension,
    );
    return { version, index };
  })();
}

interface Slot {
  /** The knowledge-base version the slot describes. */
  version: string;
  chunks: number;
  index?: VectorIndex;
  /** When this handle's index was last built (Date.now()), at whatever version. */
  builtAt?: number;
}

let budgetBytes = DEFAULT_INDEX_BUDGET_BYTES;
let minChunks = DEFAULT_FAST_PATH_MIN_CHUNKS;
let rebuildIntervalMs = DEFAULT_REBUILD_INTERVAL_MS;
let slots = newSlots();

function newSlots(): LRUCache<TenantDb, Slot> {
  return new LRUCache<TenantDb, Slot>({
    max: MAX_TENANTS,
    maxSize: budgetBytes,
    sizeCalculation: (slot) => Math.max(1, slot.index?.bytes ?? 64),
  });
}

export interface VectorIndexSettings {
  /** Memory for all tenants' indexes together. */
  budgetBytes: number;
  /** Smallest tenant (in chunks) whose searches take the fast path by default. */
  minChunks: number;
  /** Shortest time between two builds of one tenant's index by default searches. */
  rebuildIntervalMs: number;
}

/** Changes the settings (and drops every index); for tests and benchmarks. */
export function configureVectorIndex(settings: Partial<VectorIndexSettings>): void {
  budgetBytes = Math.max(1024, Math.floor(settings.budgetBytes ?? budgetBytes));
  minChunks = Math.max(1, Math.floor(settings.minChunks ?? minChunks));
  rebuildIntervalMs = Math.max(0, settings.rebuildIntervalMs ?? rebuildIntervalMs);
  slots = newSlots();
}

/** The smallest tenant (in chunks) whose searches take the fast path by default. */
export function fastPathMinChunks(): number {
  return minChunks;
}

/** How many indexes are held and their bytes; for tests and benchmarks. */
export function vectorIndexUsage(): { indexes: number; bytes: number } {
  let indexes = 0;
  let bytes = 0;
  for (const slot of slots.values()) {
    if (slot.index) {
      indexes++;
      bytes += slot.index.bytes;
    }
  }
  return { indexes, bytes };
}

/**
 * The tenant's in-memory index at its current knowledge-base version, built if need be; none
 * when the tenant has fewer than `atLeast` chunks, its index would not fit the budget, or
 * (`defer`) it was built less than the rebuild interval ago, at an older version.
 */
export function vectorIndexOf(
  db: TenantDb,
  atLeast = minChunks,
  defer = true,
): VectorIndex | undefined {
  const version = knowledgeBaseVersion(db);
  let slot = slots.get(db);
  if (!slot || slot.version !== version) {
    const chunks = chunkTotal(db);
    slot = { version, chunks, builtAt: slot?.builtAt };
    slots.set(db, slot);
  }
  if (slot.chunks === 0 || slot.chunks < atLeast) return undefined;
  if (slot.index) return slot.index;
  if (defer && slot.builtAt !== undefined && Date.now() - slot.builtAt < rebuildIntervalMs) {
    return undefined;
  }
  const dimension = embeddingDimension(db);
  if (indexBytes(slot.chunks, dimension) > budgetBytes) return undefined;
  // Handles closed since (their tenant evicted or deleted) give their memory back first.
  for (const other of [...slots.keys()]) if (!other.open) slots.delete(other);
  const built = buildVectorIndex(db);
  slot = {
    version: built.version,
    chunks: built.index.count,
    index: built.index,
    builtAt: Date.now(),
  };
  slots.set(db, slot);
  return built.index;
}
