// The public demo: the widget embedded exactly as a customer embeds it (one async script
// tag), answering from the demo tenant, whose knowledge base is BiTB's own README and docs.
// The starter questions drive the widget through its one global, window.BiTB.
import { useSyncExternalStore } from "react";
import { DEMO_TENANT_ID } from "#app/server/tenancy/demo.server.ts";
import { getTenant } from "#app/server/control-db.server.ts";
import { getWidgetKey } from "#app/server/access/keys.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";
import { READY_EVENT } from "#app/shared/widget-contract.ts";
import type { Route } from "./+types/demo";

/** The demo tenant's publishable key (null when the server runs without the demo tenant). */
export async function loader() {
  const { control } = await getRuntime();
  const demo = getTenant(control, DEMO_TENANT_ID);
  return { widgetKey: demo ? getWidgetKey(control, demo.id) : null };
}

export const meta: Route.MetaFunction = () => [
  { title: "Demo · BiTB" },
  { name: "description", content: "Ask BiTB's own documentation through the BiTB chat widget." },
];

const STARTER_QUESTIONS = [
  "How do I deploy on Fly?",
  "How do I add documents to a tenant?",
  "How is the widget isolated from my page?",
];

const SNIPPET = `<script src="https://YOUR-BITB-HOST/widget.js" data-tenant="tn_…" data-key="pk_…" async></script>`;

function subscribeToWidget(onChange: () => void): () => void {
  window.addEventListener(READY_EVENT, onChange);
  return () => window.removeEventListener(READY_EVENT, onChange);
}

/** True once widget.js has loaded and defined window.BiTB. */
function useWidgetReady(): boolean {
  return useSyncExternalStore(
    subscribeToWidget,
    () => window.BiTB !== undefined,
    () => false,
  );
}

export default function Demo({ loaderData }: Route.ComponentProps) {
  const ready = useWidgetReady();
  return (
    <main className="page narrow">
      <h1>BiTB demo</h1>
      <p>
        This page embeds the BiTB widget for the demo tenant, whose knowledge base is BiTB&apos;s
        own README and docs. Try: &ldquo;How do I deploy on Fly?&rdquo;
      </p>
      <p className="muted">
        Open the chat with the button in the corner, or start with a question:
      </p>
      <div className="row">
        {STARTER_QUESTIONS.map((question) => (
          <button
            key={question}
            type="button"
            className="secondary"
            disabled={!ready}
            onClick={() => void window.BiTB?.ask(question)}
          >
            {question}
          </button>
        ))}
      </div>
      <h2>Embed it on your site</h2>
      <p>
        One script tag, with your tenant id and publishable key; the widget talks to the server it
        was loaded from, and only from the sites you allow in the admin.
      </p>
      <pre>
        <code>{SNIPPET}</code>
      </pre>
      <p>
        {/* A full page load on purpose: it also removes the widget, which lives outside React. */}
        <a href="/">Back to the start page</a>
      </p>
      {loaderData.widgetKey && (
        <script src="/widget.js" data-tenant="trial" data-key={loaderData.widgetKey} async />
      )}
    </main>
  );
}
