// The tenant page's section for embeds and access: the widget key and the sites allowed to
// embed it, secret API keys (made, shown once, revoked), the plan's token quota, and the
// latest audit entries with CSV and JSON exports. Its actions: app/server/tenancy/security.server.ts.
// Origins are added and removed one at a time (or edited as a list); a new key is shown once
// with a copy button; revoking asks first; the audit log filters by action and actor and pages
// back 20 entries at a time through the page's query string.
import { Form, Link } from "react-router";
import { CopyTextButton } from "#app/admin/forms.tsx";

export interface TenantSecurityProps {
  tenantId: string;
  data: {
    widgetKey: string;
    appOrigin: string;
    allowedOrigins: string[];
    keys: Array<{
      id: number;
      name: string;
      prefix: string;
      createdBy: string;
      createdAt: number;
      lastUsedAt: number | null;
      revokedAt: number | null;
    }>;
    quota: {
      plan: string;
      tokenBudget: number | null;
      trialEndsAt: number | null;
      usedTokens: number;
    };
    auditFilter: {
      action: string;
      actor: string;
      paged: boolean;
      /** The id to page back from; null on the last page. */
      olderThan: number | null;
    };
    audit: Array<{
      id: number;
      at: number;
      kind: string;
      actor: string;
      action: string;
      outcome: string;
      tokens: number;
      latencyMs: number | null;
    }>;
  };
  result: { intent: string | null; ok: boolean; message: string; secret?: string } | undefined;
}

const time = (ms: number) => `${new Date(ms).toISOString().slice(0, 16).replace("T", " ")} UTC`;

function Message({ intent, result }: { intent: string; result: TenantSecurityProps["result"] }) {
  if (!result || result.intent !== intent) return null;
  return (
    <p role={result.ok ? "status" : "alert"} className={result.ok ? "ok" : "error"}>
      {result.message}
    </p>
  );
}

function auditLink(tenantId: string, filter: { action?: string; actor?: string; before?: number }) {
  const params = new URLSearchParams();
  if (filter.action) params.set("audit_action", filter.action);
  if (filter.actor) params.set("audit_actor", filter.actor);
  if (filter.before) params.set("audit_before", String(filter.before));
  const query = params.toString();
  return `/admin/tenants/${tenantId}${query ? `?${query}` : ""}#audit`;
}

export function TenantSecurity({ tenantId, data, result }: TenantSecurityProps) {
  const { quota, auditFilter } = data;
  return (
    <>
      <section className="card" aria-labelledby="access">
        <h2 id="access">Where the widget may run</h2>
        <p className="muted">
          Widget key <code>{data.widgetKey}</code>. The widget answers only on the sites listed here
          (and on {data.appOrigin}).
        </p>
        {data.allowedOrigins.length === 0 ? (
          <p className="muted">No other site yet.</p>
        ) : (
          <ul className="origin-list" aria-label="Sites the widget may run on">
            {data.allowedOrigins.map((origin) => (
              <li key={origin}>
                <code>{origin}</code>
                <Form method="post">
                  <input type="hidden" name="intent" value="remove-origin" />
                  <input type="hidden" name="origin" value={origin} />
                  <button type="submit" className="danger" aria-label={`Remove ${origin}`}>
                    Remove
                  </button>
                </Form>
              </li>
            ))}
          </ul>
        )}
        <Message intent="remove-origin" result={result} />
        <Form method="post" className="row" key={`add-${data.allowedOrigins.length}`}>
          <input type="hidden" name="intent" value="add-origin" />
          <div className="grow">
            <label htmlFor="add-origin">Add a site</label>
            <input
              id="add-origin"
              name="origin"
              type="url"
              required
              maxLength={300}
              pattern="https?://[^/?#@\s]+/?"
              placeholder="https://shop.example.com"
              aria-describedby="add-origin-hint"
            />
            <p id="add-origin-hint" className="hint muted">
              Scheme and host, with a port if it has one; no path.
            </p>
          </div>
          <button type="submit">Add site</button>
        </Form>
        <Message intent="add-origin" result={result} />
        <details>
          <summary>Edit all sites as a list</summary>
          <Form method="post">
            <input type="hidden" name="intent" value="set-origins" />
            <label htmlFor="allowed-origins">Allowed origins</label>
            <textarea
              id="allowed-origins"
              name="origins"
              rows={3}
              defaultValue={data.allowedOrigins.join("\n")}
              aria-describedby="allowed-origins-hint"
            />
            <p id="allowed-origins-hint" className="hint muted">
              One origin per line, like https://shop.example.com.
            </p>
            <button type="submit">Save origins</button>
          </Form>
        </details>
        <Message intent="set-origins" result={result} />
        <Form
          method="post"
          onSubmit={(event) => {
            if (
              !window.confirm("Make a new widget key? Sites with the old snippet stop working.")
            ) {
              event.preventDefault();
            }
          }}
        >
          <input type="hidden" name="intent" value="rotate-widget-key" />
          <button type="submit" className="secondary">
            Make a new widget key
          </button>
        </Form>
        <Message intent="rotate-widget-key" result={result} />
      </section>

      <section className="card" aria-labelledby="api-keys">
        <h2 id="api-keys">API keys</h2>
        <p className="muted">
          For your servers: send <code>Authorization: Bearer bitb_sk_…</code> to /api/ask and the
          documents API. A key is shown once; keep it secret.
        </p>
        <Form method="post" className="row">
          <input type="hidden" name="intent" value="create-key" />
          <div className="grow">
            <label htmlFor="key-name">Key name</label>
            <input id="key-name" name="name" type="text" maxLength={80} required />
          </div>
          <button type="submit">Make a key</button>
        </Form>
        <Message intent="create-key" result={result} />
        {result?.intent === "create-key" && result.secret && (
          <div className="new-secret">
            <pre aria-label="New API key">
              <code>{result.secret}</code>
            </pre>
            <CopyTextButton text={result.secret} label="Copy key" />
          </div>
        )}
        {data.keys.length > 0 && (
          <div
            className="table-scroll"
            role="region"
            aria-label="API keys (scrolls sideways)"
            tabIndex={0}
          >
            <table>
              <caption className="visually-hidden">API keys of this tenant</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Key</th>
                  <th scope="col">Made</th>
                  <th scope="col">Last used</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {data.keys.map((key) => (
                  <tr key={key.id}>
                    <td>{key.name}</td>
                    <td>
                      <code>{key.prefix}…</code>
                    </td>
                    <td>
                      {time(key.createdAt)} by {key.createdBy}
                    </td>
                    <td>{key.lastUsedAt ? time(key.lastUsedAt) : "never"}</td>
                    <td>
                      {key.revokedAt ? (
                        `revoked ${time(key.revokedAt)}`
                      ) : (
                        <Form
                          method="post"
                          onSubmit={(event) => {
                            if (
                              !window.confirm(
                                `Revoke the key “${key.name}”? Servers using it are refused at once.`,
                              )
                            ) {
                              event.preventDefault();
                            }
                          }}
                        >
                          <input type="hidden" name="intent" value="revoke-key" />
                          <input type="hidden" name="keyId" value={key.id} />
                          <button
                            type="submit"
                            className="danger"
                            aria-label={`Revoke the key ${key.name}`}
                          >
                            Revoke
                          </button>
                        </Form>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <Message intent="revoke-key" result={result} />
      </section>

      <section className="card" aria-labelledby="quota">
        <h2 id="quota">Plan and usage</h2>
        <p>
          Plan {quota.plan}: {quota.usedTokens.toLocaleString("en")} tokens used
          {quota.tokenBudget === null
            ? " (no budget)"
            : ` of ${quota.tokenBudget.toLocaleString("en")}`}
          {quota.trialEndsAt === null ? "." : `; the trial ends ${time(quota.trialEndsAt)}.`}
        </p>
      </section>

      <section aria-labelledby="audit">
        <h2 id="audit">Audit log</h2>
        <p className="row">
          <a href={`/api/tenants/${tenantId}/audit?format=csv`} download>
            Export CSV
          </a>
          <a href={`/api/tenants/${tenantId}/audit?format=json`}>Export JSON</a>
        </p>
        <Form
          method="get"
          action={`/admin/tenants/${tenantId}#audit`}
          className="card row"
          preventScrollReset
          key={`${auditFilter.action}|${auditFilter.actor}`}
        >
          <div className="grow">
            <label htmlFor="audit-action">Action</label>
            <input
              id="audit-action"
              name="audit_action"
              type="text"
              maxLength={80}
              defaultValue={auditFilter.action}
              placeholder="e.g. ask, api_key, origins.add"
              aria-describedby="audit-action-hint"
            />
            <p id="audit-action-hint" className="hint muted">
              An action, or its family before the dot.
            </p>
          </div>
          <div className="grow">
            <label htmlFor="audit-actor">Who</label>
            <input
              id="audit-actor"
              name="audit_actor"
              type="text"
              maxLength={320}
              defaultValue={auditFilter.actor}
              placeholder="an admin's e-mail, key:3 or a conversation id"
            />
          </div>
          <button type="submit">Filter</button>
          {auditFilter.action || auditFilter.actor ? (
            <Link className="button secondary-button" to={auditLink(tenantId, {})}>
              Show all
            </Link>
          ) : null}
        </Form>
        {data.audit.length === 0 ? (
          <p className="muted">
            {auditFilter.action || auditFilter.actor
              ? "No entry matches these filters."
              : "Nothing yet."}
          </p>
        ) : (
          <div
            className="table-scroll"
            role="region"
            aria-label="Audit log (scrolls sideways)"
            tabIndex={0}
          >
            <table>
              <caption className="visually-hidden">Audit log, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  <th scope="col">Who</th>
                  <th scope="col">What</th>
                  <th scope="col">Outcome</th>
                  <th scope="col">Tokens</th>
                </tr>
              </thead>
              <tbody>
                {data.audit.map((entry) => (
                  <tr key={entry.id}>
                    <td>{time(entry.at)}</td>
                    <td>
                      <Link
                        to={auditLink(tenantId, { action: auditFilter.action, actor: entry.actor })}
                        preventScrollReset
                        aria-label={`Only entries by ${entry.actor}`}
                      >
                        <code>{entry.actor}</code>
                      </Link>
                    </td>
                    <td>{entry.action}</td>
                    <td>{entry.outcome}</td>
                    <td>{entry.kind === "ask" ? entry.tokens : ""}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <nav className="row pager" aria-label="Pages of the audit log">
          {auditFilter.paged ? (
            <Link
              to={auditLink(tenantId, { action: auditFilter.action, actor: auditFilter.actor })}
              preventScrollReset
            >
              Newest entries
            </Link>
          ) : null}
          {auditFilter.olderThan !== null ? (
            <Link
              to={auditLink(tenantId, {
                action: auditFilter.action,
                actor: auditFilter.actor,
                before: auditFilter.olderThan,
              })}
              preventScrollReset
            >
              Older entries
            </Link>
          ) : null}
        </nav>
      </section>
    </>
  );
}
