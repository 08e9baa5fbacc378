import { describe, expect, it } from "vitest";

import { contrast, DARK_BACKGROUNDS, hexToRgb, LIGHT_BACKGROUNDS, MIN_CONTRAST, nameColor } from "./nameColor";

function rgb(css: string): [number, number, number] {
  const [r, g, b] = css.match(/\d+/g)!.map(Number);
  return [r!, g!, b!];
}

describe("nameColor", () => {
  it("gives a name the same colour every time, and different names different ones", () => {
    expect(nameColor("alice")).toEqual(nameColor("alice"));
    const hues = new Set(["alice", "bob", "carol", "dave", "erin", "frank"].map((n) => nameColor(n).light));
    expect(hues.size).toBeGreaterThan(4);
  });

  it("reads at 4.5:1 or better on every background, in light and dark mode", () => {
    const names = Array.from({ length: 500 }, (_, i) => `person-${i}`);
    for (const name of names) {
      const color = nameColor(name);
      for (const bg of LIGHT_BACKGROUNDS) {
        expect(contrast(rgb(color.light), hexToRgb(bg))).toBeGreaterThanOrEqual(MIN_CONTRAST);
      }
      for (const bg of DARK_BACKGROUNDS) {
        expect(contrast(rgb(color.dark), hexToRgb(bg))).toBeGreaterThanOrEqual(MIN_CONTRAST);
      }
    }
  });
});
