// The widget styling form with a live preview of the real widget beside it, shared by the
// trial's step 3 (/signup/widget) and the tenant's "Widget" tab. Every change re-renders the
// preview (the real /widget.js bundle in an iframe, app/routes/admin.tenant-widget-preview.ts)
// with the draft settings before anything is saved. The form posts the fields that
// app/server/widget-config/style.server.ts parses.
import { useEffect, useId, useRef, useState } from "react";
import { Form } from "react-router";
import type { WidgetSettings } from "#app/server/widget-config/settings.server.ts";
import "./trial.css";

export type WidgetStyleErrors = Partial<Record<keyof WidgetSettings, string>>;

const POSITIONS = [
  { value: "bottom-right", label: "Bottom right" },
  { value: "bottom-left", label: "Bottom left" },
  { value: "top-right", label: "Top right" },
  { value: "top-left", label: "Top left" },
] as const;

const LANGUAGES = [
  { value: "", label: "The visitor's browser language" },
  { value: "en", label: "English" },
  { value: "fr", label: "Français" },
  { value: "de", label: "Deutsch" },
  { value: "es", label: "Español" },
] as const;

const MAX_STARTERS = 6;
const HEX6 = /^#[0-9a-f]{6}$/i;

/** The preview follows typing after this pause, so it does not reload on every key. */
const PREVIEW_DELAY_MS = 350;

function useDebounced<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return settled;
}

export function WidgetStyleForm(props: {
  tenantId: string;
  settings: WidgetSettings;
  errors?: WidgetStyleErrors;
  /** The outcome of the last save, shown under the button. */
  result?: { ok: boolean; message: string };
  intent: string;
  submitLabel: string;
  pending: boolean;
  /** Shown next to the submit button (e.g. a link back to the previous step). */
  secondary?: React.ReactNode;
}) {
  const { errors = {} } = props;
  const [draft, setDraft] = useState<WidgetSettings>(props.settings);
  const [startersText, setStartersText] = useState(props.settings.starterQuestions.join("\n"));
  // A save reloads the settings: start again from what was stored.
  const saved = JSON.stringify(props.settings);
  useEffect(() => {
    const stored = JSON.parse(saved) as WidgetSettings;
    setDraft(stored);
    setStartersText(stored.starterQuestions.join("\n"));
  }, [saved]);

  const firstError = useRef<HTMLElement | null>(null);
  useEffect(() => {
    firstError.current?.focus();
  }, [props.errors]);

  const set = <K extends keyof WidgetSettings>(key: K, value: WidgetSettings[K]) =>
    setDraft((current) => ({ ...current, [key]: value }));
  const id = useId();
  const field = (name: keyof WidgetSettings) => ({
    id: `${id}-${name}`,
    "aria-invalid": errors[name] ? true : undefined,
    "aria-describedby": [errors[name] ? `${id}-${name}-error` : "", `${id}-${name}-hint`]
      .join(" ")
      .trim(),
  });
  // The first field with an error takes the focus after a refused save.
  let focusAssigned = false;
  const errorRef = (name: keyof WidgetSettings) => (element: HTMLElement | null) => {
    if (errors[name] && !focusAssigned && element) {
      firstError.current = element;
      focusAssigned = true;
    }
  };
  const ErrorText = ({ name }: { name: keyof WidgetSettings }) =>
    errors[name] ? (
      <p id={`${id}-${name}-error`} className="error field-error">
        {errors[name]}
      </p>
    ) : null;
  const starterCount = startersText.split(/\r?\n/).filter((line) => line.trim() !== "").length;

  return (
    <div className="widget-style">
      <Form method="post" className="card widget-style-form" noValidate>
        <input type="hidden" name="intent" value={props.intent} />
        <label htmlFor={`${id}-title`}>Chat title</label>
        <input
          {...field("title")}
          ref={errorRef("title")}
          name="title"
          type="text"
          maxLength={60}
          required
          value={draft.title}
          onChange={(event) => set("title", event.target.value)}
        />
        <p id={`${id}-title-hint`} className="hint muted">
          Shown at the top of the chat panel.
        </p>
        <ErrorText name="title" />

        <label htmlFor={`${id}-color`}>Accent colour</label>
        <div className="color-row">
          <input
            type="color"
            aria-label="Pick the accent colour"
            value={HEX6.test(draft.color) ? draft.color : "#2546d8"}
            onChange={(event) => set("color", event.target.value)}
          />
          <input
            {...field("color")}
            ref={errorRef("color")}
            name="color"
            type="text"
            maxLength={40}
            required
            value={draft.color}
            onChange={(event) => set("color", event.target.value)}
          />
        </div>
        <p id={`${id}-color-hint`} className="hint muted">
          The launcher, the header and your visitor&apos;s messages. Text on it turns black or
          white, whichever reads better.
        </p>
        <ErrorText name="color" />

        <fieldset
          className="corner-picker"
          aria-describedby={errors.position ? `${id}-position-error` : undefined}
        >
          <legend>Position on the page</legend>
          {POSITIONS.map((position, i) => (
            <label key={position.value} className="checkbox">
              <input
                ref={i === 0 ? errorRef("position") : undefined}
                type="radio"
                name="position"
                value={position.value}
                checked={draft.position === position.value}
                onChange={() => set("position", position.value)}
              />
              {position.label}
            </label>
          ))}
        </fieldset>
        <ErrorText name="position" />

        <label htmlFor={`${id}-greeting`}>Greeting</label>
        <textarea
          {...field("greeting")}
          ref={errorRef("greeting")}
          name="greeting"
          rows={3}
          maxLength={500}
          required
          value={draft.greeting}
          onChange={(event) => set("greeting", event.target.value)}
        />
        <p id={`${id}-greeting-hint`} className="hint muted">
          The first thing visitors read when they open the chat.
        </p>
        <ErrorText name="greeting" />

        <label htmlFor={`${id}-starterQuestions`}>Starter questions</label>
        <textarea
          {...field("starterQuestions")}
          ref={errorRef("starterQuestions")}
          name="starterQuestions"
          rows={4}
          value={startersText}
          onChange={(event) => {
            setStartersText(event.target.value);
            set(
              "starterQuestions",
              event.target.value
                .split(/\r?\n/)
                .map((line) => line.trim())
                .filter((line) => line !== "")
                .slice(0, MAX_STARTERS),
            );
          }}
        />
        <p id={`${id}-starterQuestions-hint`} className="hint muted">
          One per line, up to {MAX_STARTERS} ({starterCount} now). Visitors start with one click.
        </p>
        <ErrorText name="starterQuestions" />

        <label htmlFor={`${id}-language`}>Language</label>
        <select
          {...field("language")}
          ref={errorRef("language")}
          name="language"
          value={draft.language ?? ""}
          onChange={(event) =>
            set("language", (event.target.value || null) as WidgetSettings["language"])
          }
        >
          {LANGUAGES.map((language) => (
            <option key={language.value} value={language.value}>
              {language.label}
            </option>
          ))}
        </select>
        <p id={`${id}-language-hint`} className="hint muted">
          The language of the widget&apos;s buttons and messages.
        </p>
        <ErrorText name="language" />

        <label className="checkbox">
          <input
            type="checkbox"
            name="voiceGreeting"
            checked={draft.voiceGreeting}
            onChange={(event) => set("voiceGreeting", event.target.checked)}
            aria-describedby={`${id}-voiceGreeting-hint`}
          />
          Speak the greeting aloud
        </label>
        <p id={`${id}-voiceGreeting-hint`} className="hint muted">
          When a visitor first opens the chat; they can mute it. The preview stays silent.
        </p>

        <div className="actions">
          <button type="submit" disabled={props.pending}>
            {props.pending ? "Saving…" : props.submitLabel}
          </button>
          {props.secondary}
        </div>
        <p
          className={`form-result ${props.result ? (props.result.ok ? "ok" : "error") : ""}`}
          role={props.result && !props.result.ok ? "alert" : "status"}
        >
          {props.result?.message ?? ""}
        </p>
      </Form>
      <WidgetPreview
        tenantId={props.tenantId}
        draft={draft}
        changed={JSON.stringify(draft) !== saved}
      />
    </div>
  );
}

/** The real widget, drawn with the draft settings in a frame of fixed size (no layout shift). */
export function WidgetPreview({
  tenantId,
  draft,
  changed,
}: {
  tenantId: string;
  draft: WidgetSettings;
  /** Whether the draft differs from the saved settings. */
  changed: boolean;
}) {
  const [open, setOpen] = useState(true);
  const frame = useRef<HTMLIFrameElement>(null);
  const settled = useDebounced(JSON.stringify(draft), PREVIEW_DELAY_MS);
  const src = `/admin/tenants/${tenantId}/widget/preview?${new URLSearchParams({
    draft: settled,
    open: open ? "1" : "0",
  })}`;
  const [loadedSrc, setLoadedSrc] = useState<string | null>(null);
  // The first page may have loaded before React hydrated (and so before onLoad existed).
  useEffect(() => {
    if (frame.current?.contentDocument?.readyState === "complete") {
      setLoadedSrc(frame.current.getAttribute("src"));
    }
  }, []);
  return (
    <section className="card widget-preview" aria-labelledby="widget-preview-heading">
      <div className="preview-bar">
        <h2 id="widget-preview-heading">Live preview</h2>
        <label className="checkbox">
          <input
            type="checkbox"
            checked={open}
            onChange={(event) => setOpen(event.target.checked)}
          />
          Show the chat open
        </label>
      </div>
      <p className="muted small preview-status" aria-live="polite">
        {loadedSrc !== src
          ? "Updating the preview…"
          : changed
            ? "Showing your changes, not saved yet."
            : "Showing your saved settings."}
      </p>
      <iframe
        ref={frame}
        title="Live preview of your chat widget"
        src={src}
        onLoad={() => setLoadedSrc(src)}
        data-testid="widget-preview"
      />
    </section>
  );
}
