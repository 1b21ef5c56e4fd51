// The tenant page's section for embeds and access: the widget key and the sites allowed to
// embed it, secret API keys (made, shown once, revoked), the plan's token quota, and the
// latest audit entries with CSV and JSON exports. Its actions: app/server/tenant-security.server.ts.
import { Form } from "react-router";

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

export function TenantSecurity({ tenantId, data, result }: TenantSecurityProps) {
  const { quota } = data;
  return (
    <>
      <section className="card" aria-labelledby="access">
        <h2 id="access">Where the widget may run</h2>
        <p className="muted">
          Widget key <code>{data.widgetKey}</code>. The widget answers only on the sites listed here
          (and on {data.appOrigin}). One origin per line, like https://shop.example.com.
        </p>
        <Form method="post">
          <input type="hidden" name="intent" value="set-origins" />
          <label>
            Allowed origins
            <textarea name="origins" rows={3} defaultValue={data.allowedOrigins.join("\n")} />
          </label>
          <button type="submit">Save origins</button>
        </Form>
        <Message intent="set-origins" result={result} />
        <Form method="post">
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
          <label>
            Key name
            <input name="name" maxLength={80} required />
          </label>
          <button type="submit">Make a key</button>
        </Form>
        <Message intent="create-key" result={result} />
        {result?.intent === "create-key" && result.secret && (
          <pre aria-label="New API key">
            <code>{result.secret}</code>
          </pre>
        )}
        {data.keys.length > 0 && (
          <table>
            <thead>
              <tr>
                <th>Name</th>
                <th>Key</th>
                <th>Made</th>
                <th>Last used</th>
                <th />
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
                      <Form method="post">
                        <input type="hidden" name="intent" value="revoke-key" />
                        <input type="hidden" name="keyId" value={key.id} />
                        <button type="submit" className="secondary">
                          Revoke
                        </button>
                      </Form>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
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
        {data.audit.length === 0 ? (
          <p className="muted">Nothing yet.</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th>Time</th>
                <th>Who</th>
                <th>What</th>
                <th>Outcome</th>
                <th>Tokens</th>
              </tr>
            </thead>
            <tbody>
              {data.audit.map((entry) => (
                <tr key={entry.id}>
                  <td>{time(entry.at)}</td>
                  <td>
                    <code>{entry.actor}</code>
                  </td>
                  <td>{entry.action}</td>
                  <td>{entry.outcome}</td>
                  <td>{entry.kind === "ask" ? entry.tokens : ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </>
  );
}
