// The parsing sandbox (decision 043): documents are parsed and chunked in a pool of worker
// threads (piscina), each with a V8 heap limit, and every document has a wall-time limit. A
// worker that runs out of time or memory is terminated and piscina starts a fresh one; the
// job fails with a DocumentLimitError naming the setting. The main thread only ever holds the
// bytes it was given and the chunks that come back.
import fs from "node:fs";
import { fileURLToPath } from "node:url";
import { Piscina } from "piscina";
import type { ChunkOptions } from "./chunk.server.ts";
import { DocumentLimitError, type DocumentLimits } from "./document-limits.server.ts";
import type { ParseInput } from "./parse.server.ts";
import { preparedOrThrow, type PreparedDocument, type PrepareTask } from "./prepare.server.ts";

export interface SandboxOptions {
  /** Workers at most (one document each at a time). */
  workers: number;
  /** INGEST_PARSE_TIMEOUT_MS */
  timeoutMs: number;
  /** INGEST_PARSE_MEMORY_MB: the worker's old-generation heap. */
  memoryMb: number;
  limits: DocumentLimits;
  chunking: ChunkOptions;
  /** Told of a worker's death outside a task (its task, if any, fails on its own). */
  onWorkerError?: (error: unknown) => void;
}

export type PrepareFn = (
  input: ParseInput,
  title: string | undefined,
) => Promise<{ title: string; chunks: PreparedChunks; hash: string }>;
type PreparedChunks = ReturnType<typeof preparedOrThrow>["chunks"];

export interface ParseSandbox {
  prepare: PrepareFn;
  close(): Promise<void>;
}

/**
 * Where the worker's code is: the bundle next to the built server or CLI
 * (build/parse-worker.js), else the TypeScript source, loaded through tsx.
 */
function workerFile(): { filename: string; execArgv: string[] } {
  // A variable, not a literal, so the server's bundler does not try to inline the file.
  const names = ["parse-worker.js", "../parse-worker.js", "../../parse-worker.js"];
  for (const name of names) {
    const url = new URL(name, import.meta.url);
    if (url.protocol === "file:" && fs.existsSync(fileURLToPath(url))) {
      return { filename: url.href, execArgv: [] };
    }
  }
  const source = new URL("./parse-worker.server.ts", import.meta.url);
  if (fs.existsSync(fileURLToPath(source))) {
    return { filename: source.href, execArgv: ["--import", "tsx"] };
  }
  throw new Error("The parsing worker is missing: run `npm run build`.");
}

function isOutOfMemory(error: unknown): boolean {
  const code = (error as { code?: string } | null)?.code;
  return code === "ERR_WORKER_OUT_OF_MEMORY" || /out of memory/i.test(String(error));
}

export function createParseSandbox(options: SandboxOptions): ParseSandbox {
  let pool: Piscina<PrepareTask, PreparedDocument> | undefined;
  // Made on first use (a CLI that never ingests starts no thread) and again after close().
  const open = () => {
    if (pool) return pool;
    const { filename, execArgv } = workerFile();
    pool = new Piscina<PrepareTask, PreparedDocument>({
      filename,
      execArgv,
      minThreads: 0,
      // Parsing yields the CPU to the thread that answers requests (Linux: per-thread nice).
      niceIncrement: 10,
      maxThreads: Math.max(1, options.workers),
      // A worker that parsed a document stays a few seconds for the next; then its memory goes.
      idleTimeout: 5_000,
      resourceLimits: {
        maxOldGenerationSizeMb: options.memoryMb,
        maxYoungGenerationSizeMb: Math.max(8, Math.min(64, Math.floor(options.memoryMb / 8))),
        stackSizeMb: 4,
      },
    });
    // A worker that dies (out of memory) is also reported here; with no listener the pool's
    // 'error' event would take the whole process down with it.
    pool.on("error", (error: unknown) => options.onWorkerError?.(error));
    return pool;
  };
  return {
    async prepare(input, title) {
      const signal = AbortSignal.timeout(options.timeoutMs);
      let result: PreparedDocument;
      try {
        // The bytes move to the worker instead of being copied (the caller keeps no use of them).
        const bytes =
          input.bytes.byteOffset === 0 && input.bytes.byteLength === input.bytes.buffer.byteLength
            ? input.bytes
            : input.bytes.slice();
        result = await open().run(
          { input: { ...input, bytes }, title, chunking: options.chunking, limits: options.limits },
          { signal, transferList: [bytes.buffer as ArrayBuffer] },
        );
      } catch (error) {
        if (signal.aborted) {
          throw new DocumentLimitError(
            `The document took longer than ${options.timeoutMs} ms to parse (INGEST_PARSE_TIMEOUT_MS).`,
          );
        }
        if (isOutOfMemory(error)) {
          throw new DocumentLimitError(
            `The document needs more than ${options.memoryMb} MB of memory to parse (INGEST_PARSE_MEMORY_MB).`,
          );
        }
        throw error;
      }
      return preparedOrThrow(result);
    },
    async close() {
      const closing = pool;
      pool = undefined;
      await closing?.close({ force: true });
    },
  };
}
