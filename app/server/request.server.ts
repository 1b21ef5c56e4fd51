// Reading request bodies safely: the content type is checked (415), the size is capped
// while reading (413), JSON is parsed (400) and validated by a strict zod schema (400).
import { z } from "zod";
import { ApiError } from "./errors.server.ts";

export const DEFAULT_JSON_LIMIT = 64 * 1024;

/**
 * What the guards read of a request: its URL and headers. A Web `Request` is one; the
 * cached-answer lane (ask/cached-lane.server.ts) passes node's request through a thin view.
 */
export interface RequestHead {
  readonly url: string;
  readonly headers: Pick<Headers, "get">;
}

/** `application/json` from `Application/JSON; charset=utf-8`; "" for none. */
export function mediaTypeOf(contentType: string | null | undefined): string {
  return (contentType ?? "").split(";")[0]!.trim().toLowerCase();
}

function mediaType(request: RequestHead): string {
  return mediaTypeOf(request.headers.get("content-type"));
}

export function requireMediaType(request: RequestHead, ...allowed: string[]): string {
  const type = mediaType(request);
  if (!allowed.includes(type)) {
    throw new ApiError(
      "unsupported_media_type",
      `Send the body as ${allowed.join(" or ")} (got ${type || "no content type"}).`,
    );
  }
  return type;
}

/** Reads at most `maxBytes` of the body; larger bodies are refused without reading them all. */
export async function readBodyBytes(
  request: Request,
  maxBytes: number,
): Promise<Uint8Array<ArrayBuffer>> {
  const declared = Number(request.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > maxBytes) {
    throw new ApiError("payload_too_large", `The body is larger than ${maxBytes} bytes.`);
  }
  if (!request.body) return new Uint8Array();
  const reader = request.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw new ApiError("payload_too_large", `The body is larger than ${maxBytes} bytes.`);
    }
    parts.push(value);
  }
  const body = new Uint8Array(size);
  let offset = 0;
  for (const part of parts) {
    body.set(part, offset);
    offset += part.byteLength;
  }
  return body;
}

export async function readJson<S extends z.ZodType>(
  request: Request,
  schema: S,
  maxBytes = DEFAULT_JSON_LIMIT,
): Promise<z.infer<S>> {
  requireMediaType(request, "application/json");
  return parseJsonBody(await readBodyBytes(request, maxBytes), schema);
}

const decoder = new TextDecoder();

/** A JSON body already read (and capped): parsed (400) and validated by `schema` (400). */
export function parseJsonBody<S extends z.ZodType>(bytes: Uint8Array, schema: S): z.infer<S> {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(bytes));
  } catch {
    throw new ApiError("bad_request", "The body is not valid JSON.");
  }
  return schema.parse(value);
}

/**
 * The query string, validated by a strict schema: unknown and repeated parameters are
 * refused (400). Routes that take no parameters pass `noQuery`.
 */
export function parseQuery<S extends z.ZodType>(request: Request, schema: S): z.infer<S> {
  const params = new URL(request.url).searchParams;
  const entries: Record<string, string> = {};
  for (const [name, value] of params) {
    if (name in entries) throw new ApiError("validation_failed", `${name}: given more than once`);
    entries[name] = value;
  }
  return schema.parse(entries);
}

export const noQuery = z.strictObject({});

export function wantsJson(request: RequestHead): boolean {
  const accept = (request.headers.get("accept") ?? "").toLowerCase();
  return accept.includes("application/json") && !accept.includes("text/event-stream");
}

/** Parses a multipart or urlencoded form, refusing bodies over `maxBytes` while reading. */
export async function readFormData(request: Request, maxBytes: number): Promise<FormData> {
  const type = requireMediaType(
    request,
    "multipart/form-data",
    "application/x-www-form-urlencoded",
  );
  const bytes = await readBodyBytes(request, maxBytes);
  try {
    return await new Response(bytes, {
      headers: { "content-type": request.headers.get("content-type") ?? type },
    }).formData();
  } catch {
    throw new ApiError("bad_request", "The form data could not be read.");
  }
}
