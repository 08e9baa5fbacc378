/**
 * Message text as safe markdown: bold, italic, strikethrough, inline code, fenced
 * code blocks, block quotes and http(s) links. Parsed by markdown-it with raw HTML
 * off (`html: false`: tags stay text) and turned into React elements here, token by
 * token, so no string of HTML ever reaches the page. Headings, images, tables,
 * lists, rules and indented code are switched off: in a chat they are mostly
 * accidents ("# 1", "1. ok"). Loaded lazily (RichText.tsx): the first load stays
 * small, and messages show as plain text for the moment it takes.
 */
import markdownit, { type Token } from "markdown-it";
import { useState, type ReactNode } from "react";

import { MessageText } from "./MessageText";

const parser = markdownit("commonmark", { html: false, linkify: false, breaks: true });
parser.enable(["strikethrough"]);
parser.disable(["heading", "lheading", "image", "list", "hr", "reference", "code", "html_block", "html_inline"]);
parser.validateLink = (url: string) => /^https?:\/\//iu.test(url.trim());

/** Lines of a message shown before "Show more": one message cannot fill a screen. */
export const MAX_LINES = 18;

/** A node under construction: an element kind and its children. */
interface Frame {
  tag: "root" | "strong" | "em" | "s" | "a" | "p" | "blockquote";
  href?: string;
  children: ReactNode[];
}

function renderInline(tokens: readonly Token[], myName: string | undefined, keyBase: string): ReactNode[] {
  const stack: Frame[] = [{ tag: "root", children: [] }];
  const top = () => stack[stack.length - 1]!;
  tokens.forEach((token, index) => {
    const key = `${keyBase}-${index}`;
    switch (token.type) {
      case "text":
        top().children.push(<MessageText key={key} text={token.content} myName={myName} />);
        break;
      case "code_inline":
        top().children.push(<code key={key}>{token.content}</code>);
        break;
      case "softbreak":
      case "hardbreak":
        top().children.push(<br key={key} />);
        break;
      case "strong_open":
      case "em_open":
      case "s_open":
        stack.push({ tag: token.type.replace("_open", "") as Frame["tag"], children: [] });
        break;
      case "link_open":
        stack.push({ tag: "a", href: String(token.attrGet("href") ?? ""), children: [] });
        break;
      case "strong_close":
      case "em_close":
      case "s_close":
      case "link_close": {
        const frame = stack.pop();
        if (!frame) break;
        top().children.push(element(frame, key));
        break;
      }
      default:
        // Anything else (an entity, an escaped character) is shown as its text.
        if (token.content) top().children.push(token.content);
    }
  });
  // Unclosed frames (never produced by markdown-it, but cheap to be sure of).
  while (stack.length > 1) {
    const frame = stack.pop()!;
    top().children.push(element(frame, `${keyBase}-end-${stack.length}`));
  }
  return stack[0]!.children;
}

function element(frame: Frame, key: string): ReactNode {
  switch (frame.tag) {
    case "strong":
      return <strong key={key}>{frame.children}</strong>;
    case "em":
      return <em key={key}>{frame.children}</em>;
    case "s":
      return <s key={key}>{frame.children}</s>;
    case "a":
      return (
        <a key={key} href={frame.href} target="_blank" rel="noopener noreferrer">
          {frame.children}
        </a>
      );
    case "blockquote":
      return <blockquote key={key}>{frame.children}</blockquote>;
    case "p":
      return (
        <p key={key} className="md-p">
          {frame.children}
        </p>
      );
    default:
      return frame.children;
  }
}

function CodeBlock({ code }: { code: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <div className="md-code">
      <pre tabIndex={0}>
        <code>{code}</code>
      </pre>
      <button
        type="button"
        className="md-code__copy"
        onClick={() =>
          void navigator.clipboard?.writeText(code).then(
            () => setCopied(true),
            () => setCopied(false),
          )
        }
      >
        {copied ? "Copied" : "Copy"}
      </button>
    </div>
  );
}

/** The blocks of a message: paragraphs, quotes and code. */
function renderBlocks(tokens: readonly Token[], myName: string | undefined): ReactNode[] {
  const stack: Frame[] = [{ tag: "root", children: [] }];
  const top = () => stack[stack.length - 1]!;
  tokens.forEach((token, index) => {
    const key = `b${index}`;
    switch (token.type) {
      case "paragraph_open":
        stack.push({ tag: "p", children: [] });
        break;
      case "blockquote_open":
        stack.push({ tag: "blockquote", children: [] });
        break;
      case "paragraph_close":
      case "blockquote_close": {
        const frame = stack.pop();
        if (frame) top().children.push(element(frame, key));
        break;
      }
      case "inline":
        top().children.push(...renderInline(token.children ?? [], myName, key));
        break;
      case "fence":
        top().children.push(<CodeBlock key={key} code={token.content.replace(/\n$/u, "")} />);
        break;
      default:
        if (token.content) top().children.push(token.content);
    }
  });
  return stack[0]!.children;
}

/** Whether `text` could hold markdown at all: most chat lines do not. */
function mayHaveMarkdown(text: string): boolean {
  return /[*_~`>[\\&]/u.test(text);
}

export default function Markdown({ text, myName }: { text: string; myName?: string }) {
  const [expanded, setExpanded] = useState(false);
  const lines = text.split("\n");
  const long = lines.length > MAX_LINES;
  const shown = long && !expanded ? lines.slice(0, MAX_LINES).join("\n") : text;
  const body = mayHaveMarkdown(shown) ? (
    renderBlocks(parser.parse(shown, {}), myName)
  ) : (
    <MessageText text={shown} myName={myName} />
  );
  return (
    <>
      <span className="md">{body}</span>
      {long ? (
        <button type="button" className="link-button md-more" onClick={() => setExpanded((open) => !open)}>
          {expanded ? "Show less" : `Show ${lines.length - MAX_LINES} more lines`}
        </button>
      ) : null}
    </>
  );
}
