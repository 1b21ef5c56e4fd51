// /admin/tenants/:tenantId/conversations — visitors' conversations, newest first, searchable
// by any word in a question or an answer, paged 20 at a time (newest started first; each shows
// its last activity); `?id=cv_…` opens one transcript
// with each answer's citations and the visitor's thumbs. Texts are shown as stored (masked
// when the tenant masks transcripts). Reads only (tenants/transcripts.ts).
import { Form, Link, useNavigation, useSearchParams } from "react-router";
import { z } from "zod";
import { getTranscript, listConversations } from "#app/server/tenancy/reads.server.ts";
import type { TranscriptMessage } from "#tenants/transcripts.ts";
import { requireTenantAccess } from "#app/server/access/auth.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";
import { tenantDb } from "#app/server/tenancy/tenants.server.ts";
import { TenantNav } from "#app/admin/tenant-nav.tsx";
import type { Route } from "./+types/admin.tenant-conversations";

const PAGE_SIZE = 20;

export const meta: Route.MetaFunction = ({ data }) => [
  { title: `Conversations: ${data?.tenant.name ?? "tenant"} — BiTB admin` },
];

// Invalid parameters are ignored (the first page, no search), never an error page.
const querySchema = z.object({
  q: z.string().trim().max(200).catch("").default(""),
  before: z.coerce
    .number()
    .int()
    .positive()
    .max(Number.MAX_SAFE_INTEGER)
    .optional()
    .catch(undefined),
  id: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/)
    .optional()
    .catch(undefined),
});

export async function loader({ request, params }: Route.LoaderArgs) {
  const runtime = await getRuntime();
  const { tenant } = await requireTenantAccess(runtime, request, params.tenantId);
  const db = tenantDb(runtime, tenant);
  const url = new URL(request.url);
  const query = querySchema.parse(Object.fromEntries(url.searchParams));
  const page = listConversations(db, {
    limit: PAGE_SIZE,
    before: query.before,
    search: query.q,
  });
  return {
    tenant: { id: tenant.id, name: tenant.name, maskTranscripts: tenant.maskTranscripts },
    search: query.q,
    paged: query.before !== undefined,
    conversations: page.conversations,
    next: page.next === null ? null : String(page.next),
    selectedId: query.id ?? null,
    transcript: query.id ? getTranscript(db, query.id) : null,
  };
}

const time = (ms: number) => `${new Date(ms).toISOString().slice(0, 16).replace("T", " ")} UTC`;

export default function TenantConversations({ loaderData }: Route.ComponentProps) {
  const { tenant, search, paged, conversations, next, selectedId, transcript } = loaderData;
  const [params] = useSearchParams();
  const navigation = useNavigation();
  const base = `/admin/tenants/${tenant.id}/conversations`;
  const link = (change: Record<string, string | null>) => {
    const merged = new URLSearchParams(params);
    for (const [key, value] of Object.entries(change)) {
      if (value === null) merged.delete(key);
      else merged.set(key, value);
    }
    const text = merged.toString();
    return text ? `${base}?${text}` : base;
  };

  return (
    <main className="page">
      <p className="breadcrumbs">
        <Link to="/admin">Tenants</Link> /{" "}
        <Link to={`/admin/tenants/${tenant.id}`}>{tenant.name}</Link> / Conversations
      </p>
      <h1>Conversations</h1>
      <TenantNav tenantId={tenant.id} />
      <p className="muted">
        What visitors asked and what they were told, newest first.
        {tenant.maskTranscripts
          ? " Personal data is masked as stored (placeholders like [EMAIL])."
          : " Stored as typed; switch on masking under Privacy on the overview."}
      </p>

      <Form method="get" className="card row search-form" role="search">
        <div className="grow">
          <label htmlFor="conversation-search">Search questions and answers</label>
          <input
            id="conversation-search"
            name="q"
            type="search"
            maxLength={200}
            defaultValue={search}
            placeholder="e.g. refund"
          />
        </div>
        <button type="submit">{navigation.state === "loading" ? "Searching…" : "Search"}</button>
        {search ? (
          <Link className="button secondary-button" to={base}>
            Clear
          </Link>
        ) : null}
      </Form>

      <div className="conversations-layout">
        <section aria-labelledby="conversation-list">
          <h2 id="conversation-list">
            {search ? `Conversations mentioning “${search}”` : "Latest conversations"}
          </h2>
          {conversations.length === 0 ? (
            <p className="muted">
              {search
                ? "No conversation mentions that. Try another word."
                : "No conversations yet. They appear here once visitors ask in the widget."}
            </p>
          ) : (
            <ol className="conversation-list">
              {conversations.map((c) => (
                <li key={c.id}>
                  <Link
                    to={link({ id: c.id })}
                    aria-current={c.id === selectedId ? "true" : undefined}
                    preventScrollReset
                  >
                    <span className="conversation-question">
                      {c.firstQuestion || "(no question)"}
                    </span>
                    <span className="muted small">
                      {time(c.updatedAt)} · {c.questions} question{c.questions === 1 ? "" : "s"}
                      {c.helpful > 0 ? ` · ${c.helpful} 👍` : ""}
                      {c.unhelpful > 0 ? ` · ${c.unhelpful} 👎` : ""}
                    </span>
                  </Link>
                </li>
              ))}
            </ol>
          )}
          <nav className="row pager" aria-label="Pages of conversations">
            {paged ? <Link to={link({ before: null, id: null })}>Newest</Link> : null}
            {next ? <Link to={link({ before: next, id: null })}>Older conversations</Link> : null}
          </nav>
        </section>

        <section className="card transcript-panel" aria-labelledby="transcript-heading">
          <h2 id="transcript-heading">Transcript</h2>
          {selectedId === null ? (
            <p className="muted">Choose a conversation to read it.</p>
          ) : transcript === null ? (
            <p className="error" role="alert">
              That conversation does not exist (it may have been erased). Choose another.
            </p>
          ) : (
            <>
              <p className="muted small">
                <code>{transcript.id}</code> · started {time(transcript.createdAt)}
              </p>
              <ol className="transcript">
                {transcript.messages.map((message) => (
                  <MessageItem key={message.id} message={message} />
                ))}
              </ol>
            </>
          )}
        </section>
      </div>
    </main>
  );
}

function MessageItem({ message }: { message: TranscriptMessage }) {
  if (message.role === "user") {
    return (
      <li className="transcript-question">
        <span className="visually-hidden">Visitor: </span>
        {message.content}
      </li>
    );
  }
  const tokens = (message.promptTokens ?? 0) + (message.completionTokens ?? 0);
  return (
    <li className="transcript-answer">
      <span className="visually-hidden">Assistant: </span>
      <p>{message.content}</p>
      {message.citations.length > 0 ? (
        <ol className="citations" aria-label="Sources">
          {message.citations.map((citation) => (
            <li key={citation.n} value={citation.n}>
              <strong>
                {citation.url ? (
                  <a href={citation.url} target="_blank" rel="noreferrer noopener">
                    {citation.title}
                  </a>
                ) : (
                  citation.title
                )}
              </strong>
              {citation.headingPath ? (
                <span className="muted"> — {citation.headingPath}</span>
              ) : null}
              {citation.snippet ? <p className="snippet">{citation.snippet}</p> : null}
            </li>
          ))}
        </ol>
      ) : null}
      <p className="muted small answer-meta">
        {time(message.createdAt)}
        {message.cached ? " · from the cache" : ` · ${tokens} tokens`}
        {message.latencyMs === null ? "" : ` · ${message.latencyMs} ms`}
        {" · "}
        {message.feedback === 1
          ? "visitor rated it helpful 👍"
          : message.feedback === -1
            ? "visitor rated it unhelpful 👎"
            : "not rated"}
      </p>
    </li>
  );
}
