// The OpenAPI document as one readable HTML page (GET /api/docs): each operation with its
// summary, description, request body schema and responses. Rendered on the server with no
// script at all, so its Content-Security-Policy allows none and loads nothing from elsewhere.
type Json = Record<string, unknown>;

const escape = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const METHODS = ["get", "put", "post", "patch", "delete"] as const;

/** The page's own policy: no scripts, no connections, inline styles only, never framed. */
export const REFERENCE_PAGE_CSP =
  "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

function schemaBlock(schema: unknown): string {
  return `<pre>${escape(JSON.stringify(schema, null, 2))}</pre>`;
}

export function renderReferencePage(document: Json): string {
  const info = document.info as { title: string; version: string; description?: string };
  const paths = document.paths as Record<string, Record<string, Json>>;
  const components = (document.components as { schemas?: Record<string, unknown> }).schemas ?? {};
  const operations: string[] = [];
  const toc: string[] = [];
  for (const [path, item] of Object.entries(paths)) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const id = escape(String(op.operationId ?? `${method}-${path}`));
      toc.push(
        `<li><a href="#${id}"><code>${method.toUpperCase()} ${escape(path)}</code></a> — ${escape(String(op.summary ?? ""))}</li>`,
      );
      const body = (
        op.requestBody as { content?: Record<string, { schema?: unknown }> } | undefined
      )?.content;
      const responses = op.responses as Record<
        string,
        { description: string; content?: Record<string, { schema?: unknown }> }
      >;
      operations.push(
        `<section id="${id}"><h2><code>${method.toUpperCase()} ${escape(path)}</code></h2>` +
          `<p><strong>${escape(String(op.summary ?? ""))}</strong></p>` +
          (op.description ? `<p>${escape(String(op.description))}</p>` : "") +
          (op.security ? `<p>Auth: ${escape(JSON.stringify(op.security))}</p>` : "") +
          (body
            ? `<h3>Request body</h3>${Object.entries(body)
                .map(
                  ([type, media]) =>
                    `<p><code>${escape(type)}</code></p>${schemaBlock(media.schema)}`,
                )
                .join("")}`
            : "") +
          `<h3>Responses</h3><dl>${Object.entries(responses)
            .map(
              ([status, response]) =>
                `<dt><code>${escape(status)}</code> ${escape(response.description)}</dt><dd>${Object.entries(
                  response.content ?? {},
                )
                  .map(
                    ([type, media]) =>
                      `<p><code>${escape(type)}</code></p>${schemaBlock(media.schema)}`,
                  )
                  .join("")}</dd>`,
            )
            .join("")}</dl></section>`,
      );
    }
  }
  const schemas = Object.entries(components)
    .map(
      ([name, schema]) =>
        `<section id="schema-${escape(name)}"><h3>${escape(name)}</h3>${schemaBlock(schema)}</section>`,
    )
    .join("");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(info.title)} ${escape(info.version)}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}
pre{background:#f4f4f5;padding:.75rem;overflow:auto;font-size:13px;border-radius:6px}
section{border-top:1px solid #ddd;margin-top:1.5rem}dt{margin-top:.5rem}code{font-size:.95em}</style>
</head><body>
<h1>${escape(info.title)} <small>${escape(info.version)}</small></h1>
<p>${escape(info.description ?? "")}</p>
<p>The machine-readable document: <a href="/api/openapi.json"><code>/api/openapi.json</code></a> (OpenAPI 3.1).</p>
<ul>${toc.join("")}</ul>
${operations.join("\n")}
<h2>Schemas</h2>
${schemas}
</body></html>`;
}
