import { describe, expect, it } from "vitest";

import { DEFAULT_LEVEL, deserves, notify, notifyLevel, setNotifyLevel } from "./notifications";

describe("notification levels", () => {
  it("are kept per room, mentions by default", () => {
    window.localStorage.clear();
    expect(notifyLevel("a")).toBe(DEFAULT_LEVEL);
    setNotifyLevel("a", "all");
    setNotifyLevel("b", "none");
    expect([notifyLevel("a"), notifyLevel("b"), notifyLevel("c")]).toEqual(["all", "none", "mentions"]);
    window.localStorage.setItem("chat.notify", '{"a": "loud", "b": 3}');
    expect([notifyLevel("a"), notifyLevel("b")]).toEqual(["mentions", "mentions"]);
  });

  it("decide what deserves a notification", () => {
    expect(deserves("all", { mentionsMe: false })).toBe(true);
    expect(deserves("mentions", { mentionsMe: false })).toBe(false);
    expect(deserves("mentions", { mentionsMe: true })).toBe(true);
    expect(deserves("none", { mentionsMe: true })).toBe(false);
  });

  it("show nothing until the browser allows it (opt-in)", () => {
    const shown: string[] = [];
    const original = globalThis.Notification;
    class Recorded {
      static permission: NotificationPermission = "default";
      onclick: (() => void) | null = null;
      constructor(title: string) {
        shown.push(title);
      }
      close() {}
    }
    globalThis.Notification = Recorded as unknown as typeof Notification;
    try {
      notify("hello", "body", "t", () => undefined);
      expect(shown).toEqual([]);
      Recorded.permission = "granted";
      notify("hello", "body", "t", () => undefined);
      expect(shown).toEqual(["hello"]);
    } finally {
      globalThis.Notification = original;
    }
  });
});
