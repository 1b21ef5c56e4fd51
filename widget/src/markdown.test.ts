import { describe, expect, it } from "vitest";
import { type Inline, parseInline, parseMarkdown, plainText } from "./markdown.ts";

const text = (value: string): Inline => ({ type: "text", text: value });
const cites =
  (...numbers: number[]) =>
  (n: number) =>
    numbers.includes(n);

describe("parseMarkdown", () => {
  it("splits paragraphs on blank lines and keeps single newlines as line breaks", () => {
    expect(parseMarkdown("First line\nsecond line\n\n\r\n  \nNext paragraph\n")).toEqual([
      {
        type: "paragraph",
        children: [text("First line"), { type: "break" }, text("second line")],
      },
      { type: "paragraph", children: [text("Next paragraph")] },
    ]);
  });

  it("returns nothing for an empty or blank answer", () => {
    expect(parseMarkdown("")).toEqual([]);
    expect(parseMarkdown(" \n\n \n")).toEqual([]);
  });
});

describe("parseInline", () => {
  it("parses bold, italic and code", () => {
    expect(parseInline("Run **fly deploy** or *maybe* `npm run build`.")).toEqual([
      text("Run "),
      { type: "strong", children: [text("fly deploy")] },
      text(" or "),
      { type: "em", children: [text("maybe")] },
      text(" "),
      { type: "code", text: "npm run build" },
      text("."),
    ]);
  });

  it("nests emphasis", () => {
    expect(parseInline("**bold *and italic* text**")).toEqual([
      {
        type: "strong",
        children: [text("bold "), { type: "em", children: [text("and italic")] }, text(" text")],
      },
    ]);
    expect(parseInline("*it **strong** it*")).toEqual([
      {
        type: "em",
        children: [text("it "), { type: "strong", children: [text("strong")] }, text(" it")],
      },
    ]);
    expect(parseInline("***both***")).toEqual([
      { type: "strong", children: [{ type: "em", children: [text("both")] }] },
    ]);
  });

  it("leaves unmatched or space-flanked stars as text", () => {
    expect(parseInline("2 * 3 * 4")).toEqual([text("2 * 3 * 4")]);
    expect(parseInline("**not closed")).toEqual([text("**not closed")]);
    expect(parseInline("a *b")).toEqual([text("a *b")]);
    expect(parseInline("**")).toEqual([text("**")]);
    expect(parseInline("*x *")).toEqual([text("*x *")]);
    expect(parseInline("**a*")).toEqual([text("*"), { type: "em", children: [text("a")] }]);
  });

  it("does not parse markup inside code, nor close emphasis inside a code span", () => {
    expect(parseInline("`**not bold** [1]`", cites(1))).toEqual([
      { type: "code", text: "**not bold** [1]" },
    ]);
    expect(parseInline("*see `a*b` here*")).toEqual([
      { type: "em", children: [text("see "), { type: "code", text: "a*b" }, text(" here")] },
    ]);
    expect(parseInline("*open `unclosed")).toEqual([text("*open `unclosed")]);
    expect(parseInline("run **`fly launch`** then `fly deploy`")).toEqual([
      text("run "),
      { type: "strong", children: [{ type: "code", text: "fly launch" }] },
      text(" then "),
      { type: "code", text: "fly deploy" },
    ]);
  });

  it("treats a lone or empty backtick pair as text", () => {
    expect(parseInline("a ` b")).toEqual([text("a ` b")]);
    expect(parseInline("``")).toEqual([text("``")]);
  });

  it("honours backslash escapes", () => {
    expect(parseInline("\\*not italic\\* and \\[1] and \\q")).toEqual([
      text("*not italic* and [1] and \\q"),
    ]);
  });

  it("turns [n] into citation markers only for known sources", () => {
    expect(parseInline("Deploy with Fly [1][2], see [3] and [1, 2].", cites(1, 2))).toEqual([
      text("Deploy with Fly "),
      { type: "cite", n: 1 },
      { type: "cite", n: 2 },
      text(", see [3] and "),
      { type: "cite", n: 1 },
      { type: "cite", n: 2 },
      text("."),
    ]);
  });

  it("leaves brackets that are not citations alone", () => {
    expect(parseInline("array[0] and [link](x) and [1, 9]", cites(1))).toEqual([
      text("array[0] and [link](x) and [1, 9]"),
    ]);
  });

  it("parses citations inside emphasis", () => {
    expect(parseInline("**Yes [2]**", cites(2))).toEqual([
      { type: "strong", children: [text("Yes "), { type: "cite", n: 2 }] },
    ]);
  });

  it("never produces HTML: tags are just text", () => {
    expect(parseInline('<img src=x onerror="alert(1)">')).toEqual([
      text('<img src=x onerror="alert(1)">'),
    ]);
  });
});

describe("plainText", () => {
  it("strips the markup but keeps the words, breaks and markers", () => {
    const [paragraph] = parseMarkdown("**Bold** *it* `code`\nnext [1]", cites(1));
    expect(plainText(paragraph!.children)).toBe("Bold it code\nnext [1]");
  });
});
