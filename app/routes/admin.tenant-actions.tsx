// /admin/tenants/:tenantId/actions — what the tenant's bot may do besides answering (issue
// 11): switch each action on or off and choose where it runs (built in, or the tenant's own
// webhook, whose signing secret is shown once when made); the opening hours and slot length
// appointments are booked against; and what visitors booked, left or asked for — the
// appointments, leads and hand-off requests, to mark done or export as CSV. Thin: the
// settings and records live in app/server/actions/settings.server.ts and records.server.ts.
import { data, Form, Link } from "react-router";
import { z } from "zod";
import { TenantNav } from "#app/admin/tenant-nav.tsx";
import {
  ACTIONS,
  ACTION_NAMES,
  ALWAYS_ON,
  type ActionName,
} from "#app/server/actions/registry.server.ts";
import {
  type ActionRecord,
  type ActionRecordKind,
  listActionRecords,
  RECORD_KINDS,
  setActionRecordStatus,
} from "#app/server/actions/records.server.ts";
import {
  ActionSettingsError,
  getActionSettings,
  rotateWebhookSecret,
  saveActionSettings,
  WEBHOOK_ONLY,
  type Weekday,
} from "#app/server/actions/settings.server.ts";
import { auditAdminAction } from "#app/server/audit/audit.server.ts";
import { assertSameOrigin, requireTenantAccess } from "#app/server/access/auth.server.ts";
import { ApiError } from "#app/server/errors.server.ts";
import { readFormData } from "#app/server/request.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";
import { tenantDb } from "#app/server/tenancy/tenants.server.ts";
import type { Route } from "./+types/admin.tenant-actions";
import { CopyTextButton, FormMessage, formatTime, usePendingIntent } from "#app/admin/forms.tsx";

export const meta: Route.MetaFunction = ({ data }) => [
  { title: `Actions — ${data?.tenant.name ?? "Tenant"} — BiTB admin` },
];

const KIND_TITLES: Record<ActionRecordKind, string> = {
  appointment: "Appointments",
  lead: "Leads",
  handoff: "Hand-off requests",
};
const STATUS_FILTERS = ["open", "done", "all"] as const;
type StatusFilter = (typeof STATUS_FILTERS)[number];
/** Weekdays as the settings number them (0 = Sunday), listed from Monday. */
const WEEKDAYS: ReadonlyArray<[Weekday, string]> = [
  ["1", "Monday"],
  ["2", "Tuesday"],
  ["3", "Wednesday"],
  ["4", "Thursday"],
  ["5", "Friday"],
  ["6", "Saturday"],
  ["0", "Sunday"],
];
/** The actions a tenant chooses (the knowledge-base search is always on). */
const CONFIGURABLE = ACTION_NAMES.filter((name) => !ALWAYS_ON.includes(name));

const intentSchema = z.enum(["save-actions", "save-hours", "rotate-secret", "set-record-status"]);
type Intent = z.infer<typeof intentSchema>;
const recordStatusSchema = z.object({
  kind: z.enum(RECORD_KINDS),
  id: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  status: z.enum(["open", "done"]),
});

export async function loader({ request, params }: Route.LoaderArgs) {
  const runtime = await getRuntime();
  const { tenant } = await requireTenantAccess(runtime, request, params.tenantId);
  const db = tenantDb(runtime, tenant);
  const filter = z
    .enum(STATUS_FILTERS)
    .catch("open")
    .parse(new URL(request.url).searchParams.get("status") ?? "open");
  const status = filter === "all" ? undefined : filter;
  return {
    tenant: { id: tenant.id, name: tenant.name },
    settings: getActionSettings(db),
    actions: CONFIGURABLE.map((name) => ({
      name,
      title: ACTIONS[name].title,
      description: ACTIONS[name].description,
      webhookOnly: WEBHOOK_ONLY.includes(name),
    })),
    filter,
    records: Object.fromEntries(
      RECORD_KINDS.map((kind) => [kind, listActionRecords(db, kind, { status })]),
    ) as Record<ActionRecordKind, ActionRecord[]>,
  };
}

type ActionResult = { intent: Intent | null; ok: boolean; message: string; secret?: string };

function result(intent: Intent | null, ok: boolean, message: string, status = 200) {
  return data<ActionResult>(
    { intent, ok, message },
    { status, headers: { "Cache-Control": "no-store" } },
  );
}

export async function action({ request, params }: Route.ActionArgs) {
  const runtime = await getRuntime();
  assertSameOrigin(runtime, request);
  const { tenant, admin } = await requireTenantAccess(runtime, request, params.tenantId);
  const db = tenantDb(runtime, tenant);
  let intent: Intent | null = null;
  try {
    const form = await readFormData(request, 64 * 1024);
    const parsedIntent = intentSchema.safeParse(form.get("intent"));
    if (!parsedIntent.success) return result(null, false, "Unknown action.", 400);
    intent = parsedIntent.data;
    const text = (name: string) => String(form.get(name) ?? "").trim();
    // Loopback webhooks only where private URLs are allowed (tests, a local setup).
    const saveOptions = { allowHttp: runtime.config.INGEST_ALLOW_PRIVATE_URLS };
    switch (intent) {
      case "save-actions": {
        const actions: Record<string, unknown> = {};
        for (const name of CONFIGURABLE) {
          const url = text(`webhookUrl.${name}`);
          actions[name] = {
            enabled: form.get(`enabled.${name}`) === "on",
            backend: text(`backend.${name}`) === "webhook" ? "webhook" : "builtin",
            webhookUrl: url === "" ? null : url,
          };
        }
        const saved = saveActionSettings(db, { actions }, saveOptions);
        auditAdminAction(runtime, tenant, admin, "actions.settings");
        const on = CONFIGURABLE.filter((name) => saved.actions[name].enabled);
        return result(
          intent,
          true,
          on.length === 0
            ? "Saved. The bot only answers questions; no action is on."
            : `Saved. On: ${on.map((name) => ACTIONS[name].title).join(", ")}.`,
        );
      }
      case "save-hours": {
        const hours: Record<string, { open: string; close: string } | null> = {};
        for (const [day] of WEEKDAYS) {
          hours[day] =
            form.get(`open.${day}`) === "on"
              ? { open: text(`from.${day}`), close: text(`to.${day}`) }
              : null;
        }
        saveActionSettings(
          db,
          { hours, slotMinutes: Number(text("slotMinutes")), timezone: text("timezone") },
          saveOptions,
        );
        auditAdminAction(runtime, tenant, admin, "actions.hours");
        return result(intent, true, "Opening hours saved. Visitors see the new free times now.");
      }
      case "rotate-secret": {
        const secret = rotateWebhookSecret(db);
        auditAdminAction(runtime, tenant, admin, "actions.webhook_secret");
        return data<ActionResult>(
          {
            intent,
            ok: true,
            message:
              "New signing secret made. Copy it now: it is not shown again. The old one no longer signs requests.",
            secret,
          },
          { headers: { "Cache-Control": "no-store" } },
        );
      }
      case "set-record-status": {
        const input = recordStatusSchema.parse({
          kind: form.get("kind"),
          id: form.get("id"),
          status: form.get("status"),
        });
        if (!setActionRecordStatus(db, input.kind, input.id, input.status)) {
          return result(intent, false, "That record is not there any more. Reload the page.", 404);
        }
        auditAdminAction(runtime, tenant, admin, "actions.record_status", input);
        return result(
          intent,
          true,
          input.status === "done" ? "Marked done." : "Marked open again.",
        );
      }
    }
  } catch (error) {
    if (error instanceof ApiError) return result(intent, false, error.message, error.status);
    if (error instanceof z.ZodError) return result(intent, false, explain(error), 400);
    if (error instanceof ActionSettingsError) {
      return result(intent, false, explainCombination(error.fields), 400);
    }
    throw error;
  }
}

/** A validation error in the admin's terms: which setting, and what to do. */
function explain(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return "Check the form.";
  const [first, second, third] = issue.path.map(String);
  let where = "";
  if (first === "actions" && second && isConfigurable(second)) {
    where = `${ACTIONS[second].title}${third === "webhookUrl" ? ", webhook URL" : ""}: `;
  } else if (first === "hours" && second) {
    where = `${WEEKDAYS.find(([day]) => String(day) === second)?.[1] ?? "Opening hours"}: `;
  } else if (first === "slotMinutes") {
    where = "Slot length: ";
  } else if (first === "timezone") {
    where = "Time zone: ";
  } else if (first === "kind" || first === "id" || first === "status") {
    return "That record is not there any more. Reload the page.";
  }
  return `${where}${issue.message}`;
}

/** Settings that cannot work together, each named by its action: `Track an order: …`. */
function explainCombination(fields: Record<string, string>): string {
  return Object.entries(fields)
    .map(([field, message]) => {
      const name = field.split(".")[1] ?? "";
      return isConfigurable(name) ? `${ACTIONS[name].title}: ${message}` : message;
    })
    .join(" ");
}

function isConfigurable(name: string): name is ActionName {
  return (CONFIGURABLE as readonly string[]).includes(name);
}

export default function TenantActionsPage({ loaderData, actionData }: Route.ComponentProps) {
  const { tenant, settings, actions, filter, records } = loaderData;
  const pending = usePendingIntent();
  const anyWebhook = actions.some((a) => settings.actions[a.name].backend === "webhook");
  return (
    <main className="page">
      <p className="breadcrumbs">
        <Link to="/admin">Tenants</Link> /{" "}
        <Link to={`/admin/tenants/${tenant.id}`}>{tenant.name}</Link> / Actions
      </p>
      <h1>{tenant.name}</h1>
      <TenantNav tenantId={tenant.id} />

      <section className="card" aria-labelledby="actions-heading">
        <h2 id="actions-heading">What the bot may do</h2>
        <p className="muted">
          Searching the knowledge base is always on. An action that changes something (a booking, a
          lead, a hand-off) runs only after the visitor confirms it in the widget, and contact
          details are collected only with their consent. Built in: stored here and listed below.
          Webhook: sent to your own system as a signed HTTPS POST.
        </p>
        <Form method="post" key={JSON.stringify(settings.actions)}>
          <input type="hidden" name="intent" value="save-actions" />
          <div
            className="table-scroll"
            role="region"
            aria-label="Actions (scrolls sideways)"
            tabIndex={0}
          >
            <table>
              <caption className="visually-hidden">Actions and where each one runs</caption>
              <thead>
                <tr>
                  <th scope="col">Action</th>
                  <th scope="col">On</th>
                  <th scope="col">Runs</th>
                  <th scope="col">Webhook URL</th>
                </tr>
              </thead>
              <tbody>
                {actions.map((item) => {
                  const current = settings.actions[item.name];
                  return (
                    <tr key={item.name}>
                      <th scope="row">
                        {item.title}
                        <p className="muted small" style={{ fontWeight: 400 }}>
                          {item.description}
                        </p>
                      </th>
                      <td>
                        <label className="checkbox">
                          <input
                            type="checkbox"
                            name={`enabled.${item.name}`}
                            defaultChecked={current.enabled}
                          />{" "}
                          <span className="visually-hidden">{item.title}: </span>on
                        </label>
                      </td>
                      <td>
                        <label htmlFor={`backend-${item.name}`} className="visually-hidden">
                          Where {item.title} runs
                        </label>
                        <select
                          id={`backend-${item.name}`}
                          name={`backend.${item.name}`}
                          defaultValue={current.backend}
                        >
                          <option value="builtin" disabled={item.webhookOnly}>
                            {item.webhookOnly ? "Built in (needs your system)" : "Built in"}
                          </option>
                          <option value="webhook">Webhook</option>
                        </select>
                      </td>
                      <td>
                        <label htmlFor={`webhook-${item.name}`} className="visually-hidden">
                          Webhook URL for {item.title}
                        </label>
                        <input
                          id={`webhook-${item.name}`}
                          name={`webhookUrl.${item.name}`}
                          type="url"
                          maxLength={2048}
                          placeholder="https://example.com/bitb/actions"
                          defaultValue={current.webhookUrl ?? ""}
                        />
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
          <div className="actions">
            <button type="submit" disabled={pending === "save-actions"}>
              {pending === "save-actions" ? "Saving…" : "Save actions"}
            </button>
          </div>
        </Form>
        <FormMessage intent="save-actions" actionData={actionData} />
      </section>

      <WebhookSecret
        secretSet={settings.webhookSecretSet}
        anyWebhook={anyWebhook}
        actionData={actionData}
        pending={pending === "rotate-secret"}
      />

      <section className="card" aria-labelledby="hours-heading">
        <h2 id="hours-heading">Opening hours for appointments</h2>
        <p className="muted">
          Built-in bookings are offered in slots of this length, within these hours, in this time
          zone. A day left unticked is closed.
        </p>
        <Form
          method="post"
          key={JSON.stringify([settings.hours, settings.slotMinutes, settings.timezone])}
        >
          <input type="hidden" name="intent" value="save-hours" />
          <fieldset>
            <legend>Hours</legend>
            {WEEKDAYS.map(([day, name]) => {
              const hours = settings.hours[day];
              return (
                <div className="row" key={day}>
                  <label className="checkbox">
                    <input type="checkbox" name={`open.${day}`} defaultChecked={hours !== null} />{" "}
                    Open on {name}
                  </label>
                  <label>
                    {name} from
                    <input type="time" name={`from.${day}`} defaultValue={hours?.open ?? "09:00"} />
                  </label>
                  <label>
                    {name} until
                    <input type="time" name={`to.${day}`} defaultValue={hours?.close ?? "17:00"} />
                  </label>
                </div>
              );
            })}
          </fieldset>
          <div className="row">
            <label>
              Slot length (minutes)
              <input
                type="number"
                name="slotMinutes"
                min={5}
                max={480}
                step={5}
                required
                defaultValue={settings.slotMinutes}
              />
            </label>
            <label>
              Time zone
              <input
                name="timezone"
                required
                maxLength={64}
                list="timezones"
                defaultValue={settings.timezone}
                aria-describedby="timezone-hint"
              />
            </label>
            <datalist id="timezones">
              {TIME_ZONES.map((zone) => (
                <option key={zone} value={zone} />
              ))}
            </datalist>
          </div>
          <p id="timezone-hint" className="hint muted">
            An IANA time zone such as Europe/Paris or America/New_York.
          </p>
          <div className="actions">
            <button type="submit" disabled={pending === "save-hours"}>
              {pending === "save-hours" ? "Saving…" : "Save hours"}
            </button>
          </div>
        </Form>
        <FormMessage intent="save-hours" actionData={actionData} />
      </section>

      <section aria-labelledby="records-heading">
        <h2 id="records-heading">What visitors asked for</h2>
        <nav aria-label="Show records" className="row">
          {STATUS_FILTERS.map((status) => (
            <Link
              key={status}
              to={`?status=${status}`}
              aria-current={status === filter ? "page" : undefined}
              className={status === filter ? "button" : "button secondary-button"}
            >
              {status === "open" ? "Open" : status === "done" ? "Done" : "All"}
            </Link>
          ))}
        </nav>
        <FormMessage intent="set-record-status" actionData={actionData} />
        {(Object.keys(KIND_TITLES) as ActionRecordKind[]).map((kind) => (
          <RecordTable
            key={kind}
            tenantId={tenant.id}
            kind={kind}
            filter={filter}
            records={records[kind]}
            pending={pending === "set-record-status"}
          />
        ))}
      </section>
    </main>
  );
}

const TIME_ZONES: readonly string[] =
  typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : ["UTC"];

function WebhookSecret(props: {
  secretSet: boolean;
  anyWebhook: boolean;
  actionData?: ActionResult;
  pending: boolean;
}) {
  const secret = props.actionData?.intent === "rotate-secret" ? props.actionData.secret : undefined;
  return (
    <section className="card" aria-labelledby="secret-heading">
      <h2 id="secret-heading">Webhook signing secret</h2>
      <p className="muted">
        Every webhook request carries an HMAC-SHA256 signature of its timestamp and body made with
        this secret; check it on your side before acting.{" "}
        {props.secretSet
          ? "A secret is set."
          : props.anyWebhook
            ? "No secret yet: make one before your webhooks are called."
            : "No secret yet."}
      </p>
      <Form method="post">
        <input type="hidden" name="intent" value="rotate-secret" />
        <button
          type="submit"
          className="secondary"
          disabled={props.pending}
          onClick={(event) => {
            if (
              props.secretSet &&
              !window.confirm("Make a new secret? Your system must then use the new one.")
            ) {
              event.preventDefault();
            }
          }}
        >
          {props.secretSet ? "Make a new secret" : "Make a secret"}
        </button>
      </Form>
      <FormMessage intent="rotate-secret" actionData={props.actionData} />
      {secret ? (
        <div className="row">
          <pre aria-label="New webhook signing secret">
            <code>{secret}</code>
          </pre>
          <CopyTextButton text={secret} label="Copy secret" />
        </div>
      ) : null}
    </section>
  );
}

function RecordTable(props: {
  tenantId: string;
  kind: ActionRecordKind;
  filter: StatusFilter;
  records: ActionRecord[];
  pending: boolean;
}) {
  const title = KIND_TITLES[props.kind];
  const id = `records-${props.kind}`;
  const csv = `/api/tenants/${props.tenantId}/actions/records?kind=${props.kind}&format=csv`;
  return (
    <section className="card" aria-labelledby={id}>
      <div className="row">
        <h3 id={id} className="grow">
          {title}
        </h3>
        <a className="button secondary-button" href={csv} download>
          Export {title.toLowerCase()} as CSV
        </a>
      </div>
      {props.records.length === 0 ? (
        <p className="muted">
          {props.filter === "open"
            ? `No open ${title.toLowerCase()}.`
            : props.filter === "done"
              ? `No ${title.toLowerCase()} marked done.`
              : `No ${title.toLowerCase()} yet.`}
        </p>
      ) : (
        <div
          className="table-scroll"
          role="region"
          aria-label={`${title} (scrolls sideways)`}
          tabIndex={0}
        >
          <table>
            <caption className="visually-hidden">
              {title} ({props.filter}), newest first
            </caption>
            <thead>
              <tr>
                <th scope="col">Received</th>
                <th scope="col">Request</th>
                <th scope="col">Contact</th>
                <th scope="col">Status</th>
                <th scope="col">
                  <span className="visually-hidden">Change status</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {props.records.map((record) => (
                <tr key={record.id}>
                  <td>
                    {formatTime(record.createdAt)}
                    <br />
                    <code>{record.reference}</code>
                  </td>
                  <td>
                    {record.summary}
                    {Object.keys(record.details).length > 0 ? (
                      <dl className="small muted">
                        {Object.entries(record.details).map(([name, value]) => (
                          <div key={name}>
                            <dt className="visually-hidden">{name}</dt>
                            <dd>
                              {name}: {value}
                            </dd>
                          </div>
                        ))}
                      </dl>
                    ) : null}
                  </td>
                  <td>
                    {record.contact ? (
                      <>
                        {record.contact.name}
                        {record.contact.email ? (
                          <>
                            <br />
                            <a href={`mailto:${record.contact.email}`}>{record.contact.email}</a>
                          </>
                        ) : null}
                        {record.contact.phone ? (
                          <>
                            <br />
                            <a href={`tel:${record.contact.phone}`}>{record.contact.phone}</a>
                          </>
                        ) : null}
                      </>
                    ) : (
                      <span className="muted">—</span>
                    )}
                  </td>
                  <td>
                    <span
                      className={`badge badge-${record.status === "done" ? "done" : "running"}`}
                    >
                      {record.status}
                    </span>
                  </td>
                  <td>
                    <Form method="post">
                      <input type="hidden" name="intent" value="set-record-status" />
                      <input type="hidden" name="kind" value={props.kind} />
                      <input type="hidden" name="id" value={record.id} />
                      <input
                        type="hidden"
                        name="status"
                        value={record.status === "done" ? "open" : "done"}
                      />
                      <button type="submit" className="secondary" disabled={props.pending}>
                        {record.status === "done" ? "Reopen" : "Mark done"}
                        <span className="visually-hidden">: {record.summary}</span>
                      </button>
                    </Form>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
