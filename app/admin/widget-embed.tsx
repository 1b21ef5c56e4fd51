// Putting the widget on a site, shared by the trial's step 4 (/signup/embed) and the tenant's
// "Widget" tab: the embed snippet with a copy button, the allowed domains (the tenant's allowed
// origins; the form posts intent "set-origins", handled by tenant-security.server.ts), and a
// test page served by BiTB that embeds the snippet as a customer's site does.
import { useRef } from "react";
import { Form } from "react-router";
import { CopyButton } from "./copy-button.tsx";
import "./trial.css";

export interface EmbedPanelProps {
  snippet: string;
  appOrigin: string;
  allowedOrigins: string[];
  testPageUrl: string;
  /** The outcome of the last "set-origins" post. */
  originsResult?: { ok: boolean; message: string };
  pending: boolean;
}

export function EmbedPanel(props: EmbedPanelProps) {
  const code = useRef<HTMLElement>(null);
  const originsError = props.originsResult && !props.originsResult.ok;
  return (
    <>
      <section className="card" aria-labelledby="embed-code">
        <h2 id="embed-code">Your embed code</h2>
        <p>
          Paste this tag into every page where the chat should appear, just before the closing{" "}
          <code>&lt;/body&gt;</code> tag. It loads a 300-byte script; the chat itself follows in the
          background.
        </p>
        <pre aria-label="Embed code" className="embed-code">
          <code ref={code}>{props.snippet}</code>
        </pre>
        <div className="row">
          <CopyButton
            text={props.snippet}
            label="Copy the embed code"
            selectTarget={() => code.current}
          />
        </div>
      </section>

      <section className="card" aria-labelledby="allowed-domains">
        <h2 id="allowed-domains">Allowed domains</h2>
        <p className="muted">
          The chat answers only on the sites listed here (and on BiTB&apos;s own pages at{" "}
          <code>{props.appOrigin}</code>), so nobody can put your assistant on their site. Write
          each site&apos;s address as it appears in the browser, without a path:{" "}
          <code>https://www.example.com</code>. A site reached both with and without{" "}
          <code>www.</code> needs both lines.
        </p>
        <Form method="post">
          <input type="hidden" name="intent" value="set-origins" />
          <label htmlFor="allowed-origins">Allowed domains, one per line</label>
          <textarea
            id="allowed-origins"
            name="origins"
            rows={3}
            defaultValue={props.allowedOrigins.join("\n")}
            placeholder="https://www.example.com"
            aria-invalid={originsError ? true : undefined}
            aria-describedby={originsError ? "allowed-origins-result" : undefined}
          />
          <div className="actions">
            <button type="submit" disabled={props.pending}>
              {props.pending ? "Saving…" : "Save allowed domains"}
            </button>
          </div>
          <p
            id="allowed-origins-result"
            className={`form-result ${props.originsResult ? (props.originsResult.ok ? "ok" : "error") : ""}`}
            role={originsError ? "alert" : "status"}
          >
            {props.originsResult?.message ?? ""}
          </p>
        </Form>
      </section>

      <section className="card" aria-labelledby="test-page">
        <h2 id="test-page">Try it on a test page</h2>
        <p>
          BiTB serves a plain page that contains nothing but your embed code, as your own site
          would. Open it, click the chat button in the corner and ask a question.
        </p>
        <p className="muted">
          The test page lives at BiTB&apos;s own address, where the widget is always allowed: it
          proves the embed code works, not that your domain is in the list above. To test the list,
          paste the code into a page of your site — or open the test page under another name of this
          server (for example 127.0.0.1 instead of localhost), which the browser treats as a
          different site.
        </p>
        <p>
          <a
            className="button secondary-button"
            href={props.testPageUrl}
            target="_blank"
            rel="noopener"
          >
            Open the test page<span className="visually-hidden"> (opens in a new tab)</span>
          </a>
        </p>
      </section>
    </>
  );
}
