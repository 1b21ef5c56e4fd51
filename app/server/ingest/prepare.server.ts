// One document from bytes to chunks: parse, chunk, hash. Runs inside a parsing worker
// (parse-worker.server.ts) or, where no sandbox is configured (unit tests), in-process. Pure:
// no files, no network, no database. Failures come back as values, not thrown errors, because
// an error's class does not survive the trip from a worker thread.
import { chunkDocument, contentHash, type Chunk, type ChunkOptions } from "./chunk.server.ts";
import { DocumentLimitError, type DocumentLimits } from "./document-limits.server.ts";
import {
  EmptyDocumentError,
  parseDocument,
  UnsupportedDocumentError,
  type ParseInput,
} from "./parse.server.ts";

export interface PrepareTask {
  input: ParseInput;
  /** A title that wins over the document's own (pasted text is titled by its author). */
  title?: string;
  chunking: ChunkOptions;
  limits: DocumentLimits;
}

export type PreparedDocument =
  | { ok: true; title: string; chunks: Chunk[]; hash: string }
  | { ok: false; kind: "unsupported" | "empty" | "limit"; message: string };

export async function prepareDocument(task: PrepareTask): Promise<PreparedDocument> {
  try {
    const parsed = await parseDocument(task.input, task.limits);
    const title = task.title?.trim() || parsed.title;
    const chunks = chunkDocument(parsed, task.chunking);
    if (chunks.length === 0) throw new EmptyDocumentError("The document contains no text.");
    if (chunks.length > task.limits.maxChunks) {
      throw new DocumentLimitError(
        `The document makes more than ${task.limits.maxChunks} chunks (INGEST_MAX_CHUNKS).`,
      );
    }
    return { ok: true, title, chunks, hash: contentHash(title, parsed, task.chunking) };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof DocumentLimitError) return { ok: false, kind: "limit", message };
    if (error instanceof UnsupportedDocumentError)
      return { ok: false, kind: "unsupported", message };
    if (error instanceof EmptyDocumentError) return { ok: false, kind: "empty", message };
    // A recursion the depth limit did not foresee is still the document's fault.
    if (error instanceof RangeError && /call stack/i.test(message)) {
      return { ok: false, kind: "limit", message: "The document is nested too deeply to parse." };
    }
    throw error;
  }
}

/** A prepared document back into the error the queue records (permanent ones are not retried). */
export function preparedOrThrow(result: PreparedDocument): {
  title: string;
  chunks: Chunk[];
  hash: string;
} {
  if (result.ok) return result;
  if (result.kind === "limit") throw new DocumentLimitError(result.message);
  if (result.kind === "unsupported") throw new UnsupportedDocumentError(result.message);
  throw new EmptyDocumentError(result.message);
}
