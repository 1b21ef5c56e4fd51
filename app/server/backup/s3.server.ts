// Off-site copies of scheduled backups in an S3-compatible bucket (AWS S3, Cloudflare R2,
// MinIO, Backblaze B2…), for self-hosters (docs/decisions/021). After each local run, its
// files are PUT under `<prefix>/<run>/<file>` (the manifest last, so a run with a manifest is
// complete); runs beyond BACKUP_KEEP are deleted from the bucket too, and erasing a tenant
// deletes its copies there. Requests are signed with AWS Signature V4 (aws4fetch) and retried
// on 5xx and 429. Path-style URLs: BACKUP_S3_URL = https://<endpoint>/<bucket>[/<prefix>].
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { AwsClient } from "aws4fetch";
import { isTenantId, tenantFileName, type TenantId } from "#tenants/id.ts";

export const MANIFEST_FILE = "manifest.json";

export interface S3Target {
  /** The bucket's path-style URL with an optional key prefix, no trailing slash. */
  url: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/** The payload's SHA-256, signed with the request (S3 checks the body against it). */
const contentSha256 = (body: Uint8Array | string = "") => ({
  "x-amz-content-sha256": createHash("sha256").update(body).digest("hex"),
});

const RUN_NAME = /^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$/;

export class S3Backups {
  private readonly client: AwsClient;
  private readonly bucketUrl: URL;
  private readonly prefix: string;

  constructor(target: S3Target, options: { retries?: number; initRetryMs?: number } = {}) {
    this.client = new AwsClient({
      accessKeyId: target.accessKeyId,
      secretAccessKey: target.secretAccessKey,
      region: target.region,
      service: "s3",
      retries: options.retries ?? 4,
      initRetryMs: options.initRetryMs ?? 200,
    });
    const url = new URL(target.url);
    const [bucket, ...rest] = url.pathname.split("/").filter((s) => s !== "");
    if (!bucket) throw new Error("BACKUP_S3_URL must name a bucket: https://<endpoint>/<bucket>");
    this.bucketUrl = new URL(`/${bucket}/`, url);
    this.prefix = rest.length > 0 ? `${rest.join("/")}/` : "";
  }

  private objectUrl(key: string): string {
    return new URL(key.split("/").map(encodeURIComponent).join("/"), this.bucketUrl).toString();
  }

  private async check(response: Response, what: string): Promise<Response> {
    if (!response.ok) {
      const detail = (await response.text()).slice(0, 300);
      throw new Error(`S3 ${what} failed with ${response.status}: ${detail}`);
    }
    return response;
  }

  /** Uploads one complete local run folder; returns the number of objects written. */
  async uploadRun(runDir: string): Promise<number> {
    const run = path.basename(runDir);
    if (!RUN_NAME.test(run)) throw new Error(`not a backup run folder: ${runDir}`);
    const files = fs
      .readdirSync(runDir)
      .filter((f) => f !== MANIFEST_FILE)
      .sort();
    if (fs.existsSync(path.join(runDir, MANIFEST_FILE))) files.push(MANIFEST_FILE);
    for (const file of files) {
      const body = fs.readFileSync(path.join(runDir, file));
      await this.check(
        await this.client.fetch(this.objectUrl(`${this.prefix}${run}/${file}`), {
          method: "PUT",
          body,
          headers: {
            "content-type": file.endsWith(".json") ? "application/json" : "application/x-sqlite3",
            ...contentSha256(body),
          },
        }),
        `upload of ${run}/${file}`,
      );
    }
    return files.length;
  }

  /** Every object key under the prefix (ListObjectsV2, all pages). */
  async listKeys(): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const query = new URLSearchParams({ "list-type": "2", prefix: this.prefix });
      if (token) query.set("continuation-token", token);
      const response = await this.check(
        await this.client.fetch(`${this.bucketUrl.toString()}?${query}`, {
          headers: contentSha256(),
        }),
        "listing",
      );
      const xml = await response.text();
      for (const match of xml.matchAll(/<Key>([^<]*)<\/Key>/g)) keys.push(unescapeXml(match[1]!));
      const truncated = /<IsTruncated>true<\/IsTruncated>/.test(xml);
      token = truncated
        ? unescapeXml(
            /<NextContinuationToken>([^<]*)<\/NextContinuationToken>/.exec(xml)?.[1] ?? "",
          )
        : undefined;
    } while (token);
    return keys;
  }

  private async deleteKeys(keys: readonly string[]): Promise<void> {
    for (const key of keys) {
      await this.check(
        await this.client.fetch(this.objectUrl(key), {
          method: "DELETE",
          headers: contentSha256(),
        }),
        `deleting ${key}`,
      );
    }
  }

  /** Deletes all but the newest `keep` runs in the bucket; returns the runs deleted. */
  async rotate(keep: number): Promise<string[]> {
    const keys = await this.listKeys();
    const runOf = (key: string) => key.slice(this.prefix.length).split("/")[0] ?? "";
    const runs = [...new Set(keys.map(runOf).filter((r) => RUN_NAME.test(r)))].sort();
    const old = new Set(runs.slice(0, Math.max(0, runs.length - keep)));
    await this.deleteKeys(keys.filter((key) => old.has(runOf(key))));
    return [...old];
  }

  /** Deletes an erased tenant's copies from every run in the bucket; returns how many. */
  async removeTenant(id: TenantId): Promise<number> {
    if (!isTenantId(id)) return 0;
    const file = `/${tenantFileName(id)}`;
    const copies = (await this.listKeys()).filter((key) => key.endsWith(file));
    await this.deleteKeys(copies);
    return copies.length;
  }
}

function unescapeXml(text: string): string {
  return text
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, "&");
}
