import { describe, expect, it } from "vitest";

import { linkify } from "./linkify";

describe("linkify", () => {
  it("turns http and https URLs into links and keeps the rest as text", () => {
    expect(linkify("see https://example.com/a?b=1, and http://x.org.")).toEqual([
      { kind: "text", text: "see " },
      { kind: "link", text: "https://example.com/a?b=1", href: "https://example.com/a?b=1" },
      { kind: "text", text: ", and " },
      { kind: "link", text: "http://x.org", href: "http://x.org/" },
      { kind: "text", text: "." },
    ]);
  });

  it("never links other schemes", () => {
    expect(linkify("javascript:alert(1) data:text/html,x")).toEqual([
      { kind: "text", text: "javascript:alert(1) data:text/html,x" },
    ]);
  });
});
