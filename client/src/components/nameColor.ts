/**
 * A stable colour for each person, derived on this device from their name (or, once
 * the server shows identities, from their trip): the same name is the same colour
 * everywhere. The hue comes from a hash; the lightness is then chosen so the colour
 * reads at a contrast of at least 4.5:1 on every background a name is drawn on, in
 * light and in dark mode.
 */

/** Backgrounds names are drawn on (App.css: --panel, --bg, --mine), per theme. */
export const LIGHT_BACKGROUNDS = ["#ffffff", "#f5f6f8", "#e8effd"];
export const DARK_BACKGROUNDS = ["#1b1f27", "#14171d", "#23304d"];
export const MIN_CONTRAST = 4.5;

export interface NameColor {
  light: string;
  dark: string;
}

function hash(text: string): number {
  let value = 0x811c9dc5; // FNV-1a
  for (let i = 0; i < text.length; i++) {
    value ^= text.charCodeAt(i);
    value = Math.imul(value, 0x01000193);
  }
  return value >>> 0;
}

/** sRGB 0-255 triple of an HSL colour (h in degrees, s and l in 0..1). */
export function hslToRgb(h: number, s: number, l: number): [number, number, number] {
  const k = (n: number) => (n + h / 30) % 12;
  const a = s * Math.min(l, 1 - l);
  const f = (n: number) => l - a * Math.max(-1, Math.min(k(n) - 3, Math.min(9 - k(n), 1)));
  return [Math.round(f(0) * 255), Math.round(f(8) * 255), Math.round(f(4) * 255)];
}

export function hexToRgb(hex: string): [number, number, number] {
  const value = parseInt(hex.slice(1), 16);
  return [(value >> 16) & 255, (value >> 8) & 255, value & 255];
}

function luminance([r, g, b]: [number, number, number]): number {
  const linear = (c: number) => {
    const v = c / 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
}

/** WCAG 2 contrast ratio of two colours. */
export function contrast(a: [number, number, number], b: [number, number, number]): number {
  const [high, low] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (high + 0.05) / (low + 0.05);
}

function readable(hue: number, backgrounds: string[], darker: boolean): string {
  const saturation = 0.65;
  // Walk from a lively lightness towards black (light theme) or white (dark theme)
  // until every background gives enough contrast.
  for (let step = 0; step <= 60; step++) {
    const lightness = darker ? 0.5 - step * 0.01 : 0.62 + step * 0.01;
    const rgb = hslToRgb(hue, saturation, Math.max(0, Math.min(1, lightness)));
    if (backgrounds.every((bg) => contrast(rgb, hexToRgb(bg)) >= MIN_CONTRAST)) {
      return `rgb(${rgb.join(" ")})`;
    }
  }
  return darker ? "rgb(0 0 0)" : "rgb(255 255 255)";
}

const cache = new Map<string, NameColor>();

export function nameColor(seed: string): NameColor {
  const known = cache.get(seed);
  if (known) return known;
  const hue = hash(seed) % 360;
  const color = {
    light: readable(hue, LIGHT_BACKGROUNDS, true),
    dark: readable(hue, DARK_BACKGROUNDS, false),
  };
  if (cache.size > 2000) cache.clear();
  cache.set(seed, color);
  return color;
}
