// What every admin page's forms share: the intent being posted (to disable its button and say
// "Saving…"), the message a post answered with, shown next to the form that sent it, a copy
// button, and how sizes and times read (times in UTC, so the server's and the browser's
// rendering agree).
import { useEffect, useState } from "react";
import { useNavigation } from "react-router";

/** What a page's action answers a form with. */
export interface FormResult {
  intent: string | null;
  ok: boolean;
  message: string;
}

/** The `intent` of the form being posted right now, or null. */
export function usePendingIntent(): string | null {
  const navigation = useNavigation();
  if (navigation.state === "idle" || navigation.formMethod !== "POST") return null;
  const intent = navigation.formData?.get("intent");
  return typeof intent === "string" ? intent : null;
}

/** The action's message, when it answers the form with this intent. */
export function FormMessage({ intent, actionData }: { intent: string; actionData?: FormResult }) {
  if (!actionData || actionData.intent !== intent) return null;
  return actionData.ok ? (
    <p className="ok" role="status">
      {actionData.message}
    </p>
  ) : (
    <p className="error" role="alert">
      {actionData.message}
    </p>
  );
}

/** A button that copies `text` and says "Copied" for two seconds. */
export function CopyTextButton({ text, label }: { text: string; label: string }) {
  const [copied, setCopied] = useState(false);
  useEffect(() => {
    if (!copied) return;
    const timer = setTimeout(() => setCopied(false), 2000);
    return () => clearTimeout(timer);
  }, [copied]);
  return (
    <button
      type="button"
      className="secondary"
      onClick={() => {
        void navigator.clipboard.writeText(text).then(() => setCopied(true));
      }}
    >
      <span aria-live="polite">{copied ? "Copied" : label}</span>
    </button>
  );
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

export function formatTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace("T", " ")} UTC`;
}
