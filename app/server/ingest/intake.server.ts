// Turns what an admin hands us (uploaded files, pasted text, a URL) into ingestion jobs.
// File names are kept only as labels and source keys: they never become paths.
import { z } from "zod";
import type { TenantRecord } from "../control-db.server.ts";
import { ApiError } from "../errors.server.ts";
import { assertStorageRoom, storageQuota } from "../limits/storage-quota.server.ts";
import type { Runtime } from "../runtime/runtime.server.ts";
import { enqueueIngest, tenantDb } from "../tenancy/tenants.server.ts";
import { SUPPORTED_EXTENSIONS } from "./parse.server.ts";

type IntakeRuntime = Pick<Runtime, "control" | "tenants" | "config" | "queue">;

export const supportedExtensions = Object.keys(SUPPORTED_EXTENSIONS);

export function isSupportedFile(name: string): boolean {
  return Object.hasOwn(SUPPORTED_EXTENSIONS, fileExtension(name));
}

function unsupported(fileName: string): ApiError {
  return new ApiError(
    "unsupported_media_type",
    `${fileName}: upload ${supportedExtensions.join(", ")} files.`,
  );
}
/** 413 quota_exceeded unless `documents` more fit under the plan's storage quotas. */
export function assertRoomFor(runtime: IntakeRuntime, tenant: TenantRecord, documents: number) {
  assertStorageRoom(storageQuota(runtime.control, tenantDb(runtime, tenant), tenant.id), {
    documents,
  });
}

const MAX_TITLE = 200;
const MAX_TEXT_CHARS = 2_000_000;

export const textIntakeSchema = z.strictObject({
  type: z.literal("text"),
  title: z.string().trim().min(1, "Give the text a title.").max(MAX_TITLE),
  text: z.string().trim().min(1, "Paste some text.").max(MAX_TEXT_CHARS),
});
export const urlIntakeSchema = z.strictObject({
  type: z.literal("url"),
  url: z.url({ protocol: /^https?$/, error: "Give an http(s) URL." }).max(2048),
  title: z.string().trim().max(MAX_TITLE).optional(),
});
export const jsonIntakeSchema = z.discriminatedUnion("type", [textIntakeSchema, urlIntakeSchema]);

/** A display-safe file name: no directories, no control characters, bounded length. */
export function cleanFileName(raw: string): string {
  const base = raw.split(/[\\/]/).pop() ?? "";
  // eslint-disable-next-line no-control-regex -- stripping control characters is the point
  const controlCharacters = /[\u0000-\u001f\u007f]/g;
  const clean = base.replace(controlCharacters, "").trim().slice(0, MAX_TITLE);
  return clean === "" || clean === "." || clean === ".." ? "untitled" : clean;
}

export function fileExtension(name: string): string {
  const dot = name.lastIndexOf(".");
  return dot === -1 ? "" : name.slice(dot).toLowerCase();
}

export function intakeFile(
  runtime: IntakeRuntime,
  tenant: TenantRecord,
  file: { name: string; type: string; bytes: Uint8Array },
): number {
  const fileName = cleanFileName(file.name);
  if (!isSupportedFile(fileName)) throw unsupported(fileName);
  if (file.bytes.byteLength === 0) throw new ApiError("bad_request", `${fileName} is empty.`);
  if (file.bytes.byteLength > runtime.config.MAX_UPLOAD_BYTES) {
    throw new ApiError(
      "payload_too_large",
      `${fileName} is larger than ${runtime.config.MAX_UPLOAD_BYTES} bytes.`,
    );
  }
  assertRoomFor(runtime, tenant, 1);
  return enqueueIngest(runtime, tenant.id, {
    sourceType: "file",
    title: fileName,
    fileName,
    mimeType: file.type || undefined,
    payload: file.bytes,
  });
}

export function intakeText(
  runtime: IntakeRuntime,
  tenant: TenantRecord,
  input: { title: string; text: string },
): number {
  assertRoomFor(runtime, tenant, 1);
  return enqueueIngest(runtime, tenant.id, {
    sourceType: "text",
    title: input.title,
    payload: new TextEncoder().encode(input.text),
  });
}

export function normaliseUrl(raw: string): string {
  const url = new URL(raw);
  url.hash = "";
  return url.toString();
}

export function intakeUrl(
  runtime: IntakeRuntime,
  tenant: TenantRecord,
  input: { url: string; title?: string },
): number {
  const url = normaliseUrl(input.url);
  assertRoomFor(runtime, tenant, 1);
  return enqueueIngest(runtime, tenant.id, {
    sourceType: "url",
    title: input.title || url,
    url,
  });
}

/** Every uploaded file of a multipart form field, validated before any job is queued. */
export async function intakeFormFiles(
  runtime: IntakeRuntime,
  tenant: TenantRecord,
  files: File[],
): Promise<number[]> {
  const real = files.filter((f) => f.size > 0 || f.name !== "");
  if (real.length === 0) throw new ApiError("bad_request", "Choose at least one file.");
  // All the files fit, or none is queued.
  assertRoomFor(runtime, tenant, real.length);
  const loaded = [];
  for (const file of real) {
    const fileName = cleanFileName(file.name);
    if (!isSupportedFile(fileName)) throw unsupported(fileName);
    if (file.size > runtime.config.MAX_UPLOAD_BYTES) {
      throw new ApiError(
        "payload_too_large",
        `${fileName} is larger than ${runtime.config.MAX_UPLOAD_BYTES} bytes.`,
      );
    }
    loaded.push({
      name: file.name,
      type: file.type,
      bytes: new Uint8Array(await file.arrayBuffer()),
    });
  }
  return loaded.map((file) => intakeFile(runtime, tenant, file));
}
