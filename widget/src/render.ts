// Builds the DOM of an answer: its Markdown-subset paragraphs with citation markers, and the
// numbered list of the sources it cites. Every piece of model or knowledge-base text goes in
// through textContent (createTextNode); no HTML string is ever parsed. Only http(s) URLs
// become links.
import type { Citation } from "#app/shared/ask-events.ts";
import { type Inline, parseMarkdown } from "./markdown.ts";

/** The words the answer's DOM needs, in the widget's language. */
export interface AnswerLabels {
  sources: string;
  source: string;
}

const ENGLISH: AnswerLabels = { sources: "Sources", source: "Source" };

/** The href a source may link to: http(s) only, so a `javascript:` URL in a document is inert. */
export function safeHref(url: string | null | undefined): string | null {
  if (!url) return null;
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}

/** The id of a citation's list item; ids are scoped to the widget's shadow root. */
export function citationId(messageId: string, n: number): string {
  return `bitb-${messageId}-source-${n}`;
}

export function renderAnswer(
  doc: Document,
  messageId: string,
  answer: string,
  citations: readonly Citation[],
  labels: AnswerLabels = ENGLISH,
): DocumentFragment {
  const byNumber = new Map(citations.map((citation) => [citation.n, citation]));
  const fragment = doc.createDocumentFragment();
  for (const paragraph of parseMarkdown(answer, (n) => byNumber.has(n))) {
    const p = doc.createElement("p");
    appendInlines(doc, p, paragraph.children, messageId, byNumber, labels);
    fragment.append(p);
  }
  if (citations.length > 0) fragment.append(renderCitations(doc, messageId, citations, labels));
  return fragment;
}

function appendInlines(
  doc: Document,
  parent: Element,
  inlines: Inline[],
  messageId: string,
  byNumber: Map<number, Citation>,
  labels: AnswerLabels,
): void {
  for (const inline of inlines) {
    switch (inline.type) {
      case "text":
        parent.append(doc.createTextNode(inline.text));
        break;
      case "break":
        parent.append(doc.createElement("br"));
        break;
      case "code": {
        const code = doc.createElement("code");
        code.textContent = inline.text;
        parent.append(code);
        break;
      }
      case "cite": {
        // A link to the numbered source below; the view scrolls to it (the host page's URL
        // hash is left alone, and a document id could not reach into the shadow root anyway).
        const sup = doc.createElement("sup");
        const link = doc.createElement("a");
        link.className = "cite";
        link.href = `#${citationId(messageId, inline.n)}`;
        link.textContent = `[${inline.n}]`;
        link.setAttribute("data-source", citationId(messageId, inline.n));
        link.setAttribute(
          "aria-label",
          `${labels.source} ${inline.n}: ${byNumber.get(inline.n)?.title ?? ""}`,
        );
        sup.append(link);
        parent.append(sup);
        break;
      }
      default: {
        const element = doc.createElement(inline.type);
        appendInlines(doc, element, inline.children, messageId, byNumber, labels);
        parent.append(element);
      }
    }
  }
}

export function renderCitations(
  doc: Document,
  messageId: string,
  citations: readonly Citation[],
  labels: AnswerLabels = ENGLISH,
): HTMLElement {
  const sources = doc.createElement("div");
  sources.className = "sources";
  const heading = doc.createElement("p");
  heading.className = "sources-title";
  heading.textContent = labels.sources;
  const list = doc.createElement("ol");
  for (const citation of [...citations].sort((a, b) => a.n - b.n)) {
    const item = doc.createElement("li");
    item.id = citationId(messageId, citation.n);
    item.setAttribute("value", String(citation.n));
    item.setAttribute("tabindex", "-1");
    const title = citation.title || citation.fileName || `${labels.source} ${citation.n}`;
    const href = safeHref(citation.url);
    if (href) {
      const link = doc.createElement("a");
      link.href = href;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      link.textContent = title;
      item.append(link);
    } else {
      item.append(doc.createTextNode(title));
    }
    if (citation.headingPath && citation.headingPath !== title) {
      const where = doc.createElement("span");
      where.className = "where";
      where.textContent = citation.headingPath;
      item.append(doc.createTextNode(" "), where);
    }
    list.append(item);
  }
  sources.append(heading, list);
  return sources;
}
