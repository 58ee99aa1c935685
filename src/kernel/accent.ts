/**
 * Colours drawn from BRAND_ACCENT_COLOR, shared by the hosted pages' stylesheet (src/pages/theme.ts)
 * and the mail's button (src/mail/layout.tsx), which may not import each other. The accent is the
 * operator's choice, so a colour drawn from it is moved until it meets WCAG AA contrast with what
 * it sits on or carries.
 */

export type Rgb = [number, number, number];

export const WHITE: Rgb = [255, 255, 255];
export const BLACK: Rgb = [0, 0, 0];
const NEAR_BLACK: Rgb = [17, 17, 17];
const AA = 4.6;

export function parseHex(hex: string): Rgb {
  const n = Number.parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

export function toHex([r, g, b]: Rgb): string {
  return `#${[r, g, b].map((v) => Math.round(v).toString(16).padStart(2, "0")).join("")}`;
}

/** WCAG 2 relative luminance. */
function luminance(rgb: Rgb): number {
  const [r, g, b] = rgb.map((v) => {
    const c = v / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  }) as Rgb;
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** WCAG 2 contrast ratio, 1 to 21. */
export function contrast(a: Rgb, b: Rgb): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}

const mix = (a: Rgb, b: Rgb, t: number): Rgb => [0, 1, 2].map((i) => a[i]! + (b[i]! - a[i]!) * t) as Rgb;

/** `color` moved towards `toward` just far enough to reach AA contrast on `background`. */
export function readableOn(color: Rgb, background: Rgb, toward: Rgb): Rgb {
  for (let t = 0; t <= 1; t += 0.05) {
    const candidate = mix(color, toward, t);
    if (contrast(candidate, background) >= AA) return candidate;
  }
  return toward;
}

/** An accent-coloured button, `#rrggbb` each. */
export interface ButtonColours {
  /** The accent, darkened or lightened if its label would not be readable. */
  background: string;
  /** White or near-black, whichever contrasts more with the accent. */
  label: string;
}

export function buttonColours(accentHex: string): ButtonColours {
  const accent = parseHex(accentHex);
  const label = contrast(accent, WHITE) >= contrast(accent, BLACK) ? WHITE : NEAR_BLACK;
  return { background: toHex(readableOn(accent, label, label === WHITE ? BLACK : WHITE)), label: toHex(label) };
}
