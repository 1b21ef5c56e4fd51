// The renderer runs against linkedom's DOM (a dependency of the ingestion pipeline), so the
// tests can check the real nodes it builds: text stays text, links are only http(s).
import { parseHTML } from "linkedom";
import { describe, expect, it } from "vitest";
import { citation } from "../test/fake-ask-server.ts";
import { citationId, renderAnswer, renderCitations, safeHref } from "./render.ts";

function render(answer: string, citations = [citation(1), citation(2)]) {
  const { document } = parseHTML("<!doctype html><html><body></body></html>");
  const container = document.createElement("div");
  container.append(renderAnswer(document, "m2", answer, citations));
  return container;
}

describe("safeHref", () => {
  it("allows http and https URLs only", () => {
    expect(safeHref("https://docs.example.com/a b")).toBe("https://docs.example.com/a%20b");
    expect(safeHref("http://docs.example.com/")).toBe("http://docs.example.com/");
    expect(safeHref("javascript:alert(1)")).toBeNull();
    expect(safeHref(" JAVASCRIPT:alert(1)")).toBeNull();
    expect(safeHref("data:text/html,<script>alert(1)</script>")).toBeNull();
    expect(safeHref("/relative/path")).toBeNull();
    expect(safeHref(null)).toBeNull();
    expect(safeHref("")).toBeNull();
  });
});

describe("renderAnswer", () => {
  it("renders paragraphs, emphasis, code and line breaks as elements", () => {
    const container = render("Run **fly deploy** *now*:\n`fly launch`\n\nDone.", []);
    expect(container.querySelectorAll("p")).toHaveLength(2);
    expect(container.querySelector("strong")?.textContent).toBe("fly deploy");
    expect(container.querySelector("em")?.textContent).toBe("now");
    expect(container.querySelector("code")?.textContent).toBe("fly launch");
    expect(container.querySelectorAll("br")).toHaveLength(1);
  });

  it("keeps HTML in the answer as visible text", () => {
    const container = render('<img src=x onerror="alert(1)"> **<b>hi</b>**');
    expect(container.querySelector("img")).toBeNull();
    expect(container.querySelector("b")).toBeNull();
    expect(container.textContent).toContain('<img src=x onerror="alert(1)">');
    expect(container.querySelector("strong")?.textContent).toBe("<b>hi</b>");
  });

  it("links citation markers to the numbered sources", () => {
    const container = render("Use Fly [1] and LiteFS [2]. Not [3].");
    const markers = [...container.querySelectorAll("sup a.cite")];
    expect(markers.map((a) => a.textContent)).toEqual(["[1]", "[2]"]);
    expect(markers[0]?.getAttribute("href")).toBe(`#${citationId("m2", 1)}`);
    expect(markers[0]?.getAttribute("data-source")).toBe(citationId("m2", 1));
    expect(markers[1]?.getAttribute("aria-label")).toBe("Source 2: Document 2");
    expect(container.querySelector(`#${citationId("m2", 2)}`)?.textContent).toContain("Document 2");
    expect(container.textContent).toContain("Not [3].");
  });

  it("leaves out the source list when there are no citations", () => {
    const container = render("I could not find that in the documentation.", []);
    expect(container.querySelector(".sources")).toBeNull();
  });
});

describe("renderCitations", () => {
  const { document } = parseHTML("<!doctype html><html><body></body></html>");

  it("lists sources by number, linking those with a safe URL in a new tab", () => {
    const list = renderCitations(document, "m4", [
      citation(3, { title: "Fly guide", headingPath: "Deploy > Fly" }),
      citation(1, { title: "README", url: null }),
      citation(2, { title: "", fileName: "notes.pdf", url: "javascript:alert(1)" }),
    ]);
    const items = [...list.querySelectorAll("li")];
    expect(items.map((li) => li.getAttribute("value"))).toEqual(["1", "2", "3"]);
    expect(items.map((li) => li.id)).toEqual([
      "bitb-m4-source-1",
      "bitb-m4-source-2",
      "bitb-m4-source-3",
    ]);
    expect(items[0]?.querySelector("a")).toBeNull();
    expect(items[0]?.textContent).toBe("README");
    expect(items[1]?.querySelector("a")).toBeNull();
    expect(items[1]?.textContent).toBe("notes.pdf");
    const link = items[2]?.querySelector("a");
    expect(link?.getAttribute("href")).toBe("https://docs.example.com/3");
    expect(link?.getAttribute("target")).toBe("_blank");
    expect(link?.getAttribute("rel")).toBe("noopener noreferrer");
    expect(link?.textContent).toBe("Fly guide");
    expect(items[2]?.querySelector(".where")?.textContent).toBe("Deploy > Fly");
  });

  it("names an untitled source by its number", () => {
    const list = renderCitations(document, "m6", [citation(5, { title: "", fileName: null })]);
    expect(list.querySelector("li")?.textContent).toBe("Source 5");
  });
});
