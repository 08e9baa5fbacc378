import { act, render } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import { completeName, parseLine } from "../chat/commands";
import { splitMentions } from "../chat/mentions";
import Markdown, { MAX_LINES } from "./Markdown";

function html(text: string, myName?: string): string {
  const { container } = render(<Markdown text={text} myName={myName} />);
  return container.innerHTML;
}

describe("markdown in messages", () => {
  it("renders the chat subset", () => {
    const { container } = render(
      <Markdown text={"**bold** *it* ~~gone~~ `x < y`\n> quoted\n\n```\nconst a = 1;\n```"} />,
    );
    expect(container.querySelector("strong")?.textContent).toBe("bold");
    expect(container.querySelector("em")?.textContent).toBe("it");
    expect(container.querySelector("s")?.textContent).toBe("gone");
    expect(container.querySelector("p code")?.textContent).toBe("x < y");
    expect(container.querySelector("blockquote")?.textContent).toBe("quoted");
    expect(container.querySelector(".md-code pre code")?.textContent).toBe("const a = 1;");
    expect(container.querySelector(".md-code button")?.textContent).toBe("Copy");
  });

  it("leaves headings, images, lists and tables as text", () => {
    const { container } = render(<Markdown text={"# not a title\n1. one\n![img](https://x.test/a.png)"} />);
    expect(container.querySelector("h1, img, ol, ul, table")).toBeNull();
    expect(container.textContent).toContain("# not a title");
  });

  it.each([
    ["<script>alert(1)</script>", "script"],
    ["<img src=x onerror=alert(1)>", "img"],
    ['<a href="javascript:alert(1)">x</a>', "a"],
    ["<iframe src=https://evil.test></iframe>", "iframe"],
  ])("never passes raw HTML: %s", (text, tag) => {
    const { container } = render(<Markdown text={text} />);
    expect(container.querySelector(tag)).toBeNull();
    expect(container.textContent).toContain(text);
  });

  it.each([
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[click](vbscript:msgbox)",
    "[click]( javascript:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "<javascript:alert(1)>",
  ])("links only to http(s): %s", (text) => {
    const { container } = render(<Markdown text={text} />);
    for (const link of container.querySelectorAll("a")) {
      expect(link.getAttribute("href")).toMatch(/^https?:\/\//u);
    }
    expect(html(text)).not.toMatch(/href="(?!https?:)/u);
  });

  it("makes safe links open in a new tab without the opener", () => {
    const { container } = render(<Markdown text="[docs](https://example.com/a?b=1) and https://bare.test/x" />);
    const links = [...container.querySelectorAll("a")];
    expect(links.map((a) => a.getAttribute("href"))).toEqual(["https://example.com/a?b=1", "https://bare.test/x"]);
    for (const link of links) expect(link.getAttribute("rel")).toBe("noopener noreferrer");
  });

  it("survives an emphasis bomb without nesting deeper than its text", () => {
    const bomb = "*".repeat(2000) + "a" + "_".repeat(2000);
    const started = performance.now();
    const { container } = render(<Markdown text={bomb} />);
    expect(performance.now() - started).toBeLessThan(5000); // a hang, not a timing
    expect(container.querySelectorAll("em, strong").length).toBeLessThan(10);
  });

  it("folds long messages behind Show more", () => {
    const text = Array.from({ length: MAX_LINES + 5 }, (_, n) => `line ${n}`).join("\n");
    const { container, getByRole } = render(<Markdown text={text} />);
    expect(container.textContent).not.toContain(`line ${MAX_LINES + 4}`);
    act(() => getByRole("button", { name: "Show 5 more lines" }).click());
    expect(container.textContent).toContain(`line ${MAX_LINES + 4}`);
  });

  it("marks mentions, yours standing out", () => {
    const { container } = render(<Markdown text="**hi** @bob and @alice!" myName="Alice" />);
    const mentions = [...container.querySelectorAll(".mention")].map((m) => [m.textContent, m.className]);
    expect(mentions).toEqual([
      ["@bob", "mention"],
      ["@alice", "mention mention--me"],
    ]);
  });
});

describe("composer lines", () => {
  it.each([
    ["hello", { kind: "message", text: "hello" }],
    ["//etc/passwd is a path", { kind: "message", text: "/etc/passwd is a path" }],
    ["/me waves", { kind: "action", text: "waves" }],
    ["/ME  waves twice", { kind: "action", text: "waves twice" }],
    ["/w bob hi there", { kind: "whisper", to: "bob", text: "hi there" }],
    ["/msg @bob hi", { kind: "whisper", to: "bob", text: "hi" }],
    ["/join #Games", { kind: "join", room: "Games" }],
    ["/leave", { kind: "leave" }],
    ["/help", { kind: "help" }],
    ["/nick al", { kind: "nick", name: "al" }],
  ])("%s", (line, expected) => {
    expect(parseLine(line)).toEqual(expected);
  });

  it("explains commands it cannot do", () => {
    expect(parseLine("/w bob")).toMatchObject({ kind: "problem" });
    expect(parseLine("/me")).toMatchObject({ kind: "problem" });
    expect(parseLine("/dance")).toEqual({
      kind: "problem",
      message: "There is no /dance command. /help lists them; //dance sends it as text.",
    });
  });

  it("completes names after @ and at the start, cycling on repeats", () => {
    const names = ["bob", "Bobby", "carol", "two words"];
    expect(completeName("hi @bo", 6, names)).toEqual({ text: "hi @bob ", caret: 8 });
    expect(completeName("hi @bo", 6, names, 1)).toEqual({ text: "hi @Bobby ", caret: 10 });
    expect(completeName("ca", 2, names)).toEqual({ text: "carol: ", caret: 7 });
    expect(completeName("hi ca", 5, names)).toBeNull();
    expect(completeName("@tw", 3, names)).toBeNull();
  });

  it("finds mentions as the server does", () => {
    expect(splitMentions("mail a@b.c, @carol.").map((p) => p.text)).toEqual(["mail a@b.c, ", "@carol", "."]);
  });
});
