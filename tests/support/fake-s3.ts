// A small S3-compatible server for tests: path-style PUT, DELETE, GET of objects and
// ListObjectsV2 (with pages of `pageSize`), in memory. It checks that every request is signed
// with AWS Signature V4 for the expected access key and that the signed payload hash matches
// the body, and can fail the next N requests on purpose (503).
import { createHash } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeS3 {
  url: string;
  objects: Map<string, Buffer>;
  requests: string[];
  /** Fail this many coming requests with 503. */
  failNext(n: number): void;
  close(): Promise<void>;
}

const escapeXml = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

export async function startFakeS3(
  options: { accessKeyId: string; pageSize?: number } = { accessKeyId: "test-key" },
): Promise<FakeS3> {
  const objects = new Map<string, Buffer>();
  const requests: string[] = [];
  let failures = 0;
  const pageSize = options.pageSize ?? 1000;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const url = new URL(req.url ?? "/", "http://s3.local");
      requests.push(`${req.method} ${url.pathname}${url.search}`);
      const auth = String(req.headers.authorization ?? "");
      const signed = new RegExp(
        `^AWS4-HMAC-SHA256 Credential=${options.accessKeyId}/\\d{8}/[a-z0-9-]+/s3/aws4_request, ` +
          "SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$",
      ).test(auth);
      const payloadHash = createHash("sha256").update(body).digest("hex");
      if (!signed || req.headers["x-amz-content-sha256"] !== payloadHash) {
        res.writeHead(403).end("<Error><Code>SignatureDoesNotMatch</Code></Error>");
        return;
      }
      if (failures > 0) {
        failures--;
        res.writeHead(503).end("<Error><Code>SlowDown</Code></Error>");
        return;
      }
      const [bucket, ...rest] = url.pathname.split("/").filter((s) => s !== "");
      const key = rest.map(decodeURIComponent).join("/");
      if (req.method === "PUT" && bucket && key) {
        objects.set(`${bucket}/${key}`, body);
        res.writeHead(200).end();
      } else if (req.method === "DELETE" && bucket && key) {
        objects.delete(`${bucket}/${key}`);
        res.writeHead(204).end();
      } else if (req.method === "GET" && bucket && key) {
        const object = objects.get(`${bucket}/${key}`);
        if (object) res.writeHead(200).end(object);
        else res.writeHead(404).end("<Error><Code>NoSuchKey</Code></Error>");
      } else if (req.method === "GET" && bucket && url.searchParams.get("list-type") === "2") {
        const prefix = url.searchParams.get("prefix") ?? "";
        const start = Number(url.searchParams.get("continuation-token") ?? 0);
        const keys = [...objects.keys()]
          .filter((k) => k.startsWith(`${bucket}/${prefix}`))
          .map((k) => k.slice(bucket.length + 1))
          .sort();
        const page = keys.slice(start, start + pageSize);
        const truncated = start + pageSize < keys.length;
        res.writeHead(200, { "content-type": "application/xml" });
        res.end(
          `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult>` +
            page.map((k) => `<Contents><Key>${escapeXml(k)}</Key></Contents>`).join("") +
            `<IsTruncated>${truncated}</IsTruncated>` +
            (truncated
              ? `<NextContinuationToken>${start + pageSize}</NextContinuationToken>`
              : "") +
            `</ListBucketResult>`,
        );
      } else {
        res.writeHead(400).end("<Error><Code>InvalidRequest</Code></Error>");
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    objects,
    requests,
    failNext: (n) => (failures = n),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
