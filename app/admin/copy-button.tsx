// A button that copies text to the clipboard and says so. Where the Clipboard API is missing
// (plain http on another host than localhost), it selects the text it was given, so Ctrl+C
// or the long-press menu copies it, and says that instead.
import { useEffect, useState } from "react";

export function CopyButton({
  text,
  label = "Copy",
  selectTarget,
}: {
  text: string;
  label?: string;
  /** The element showing the text, selected when the clipboard cannot be written. */
  selectTarget?: () => HTMLElement | null;
}) {
  const [status, setStatus] = useState<"idle" | "copied" | "selected">("idle");
  useEffect(() => {
    if (status === "idle") return;
    const timer = setTimeout(() => setStatus("idle"), 4000);
    return () => clearTimeout(timer);
  }, [status]);

  function selectByHand() {
    const target = selectTarget?.();
    const selection = window.getSelection();
    if (target && selection) {
      const range = document.createRange();
      range.selectNodeContents(target);
      selection.removeAllRanges();
      selection.addRange(range);
    }
    setStatus("selected");
  }

  return (
    <span className="copy-button">
      <button
        type="button"
        className="secondary"
        onClick={() => {
          if (!navigator.clipboard) return selectByHand();
          navigator.clipboard.writeText(text).then(() => setStatus("copied"), selectByHand);
        }}
      >
        {label}
      </button>
      {/* Always in the page, so the announcement is heard and nothing moves when it appears. */}
      <span className="muted small copy-status" role="status">
        {status === "copied"
          ? "Copied to the clipboard."
          : status === "selected"
            ? "Selected: press Ctrl+C (⌘C on a Mac) to copy."
            : ""}
      </span>
    </span>
  );
}
