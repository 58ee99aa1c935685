/**
 * The one coloured thing in a mail, its button, drawn from BRAND_ACCENT_COLOR: the accent, darkened
 * or lightened until its label (white or near-black, whichever contrasts more) meets WCAG AA. Both
 * colours are set together, so a mail client's dark mode that recolours one recolours the other,
 * and everything else keeps the client's own colours (readable in light and dark alike). The same
 * rule as the hosted pages' palette (src/pages/theme.ts), which mail may not import.
 */

type Rgb = [number, number, number];

const WHITE: Rgb = [255, 255, 255];
const NEAR_BLACK: Rgb = [17, 17, 17];
const AA = 4.6;

/** The button's background and label colours, `#rrggbb`. */
export interface ButtonColours {
  background: string;
  label: string;
}

const cache = new Map<string, ButtonColours>();

/** The button colours for an accent `#rrggbb` (cached: the accent changes only with the configuration). */
export function buttonColours(accentHex: string): ButtonColours {
  const hit = cache.get(accentHex);
  if (hit) return hit;
  const accent = parseHex(accentHex);
  const label = contrast(accent, WHITE) >= contrast(accent, NEAR_BLACK) ? WHITE : NEAR_BLACK;
  const toward = label === WHITE ? ([0, 0, 0] as Rgb) : WHITE;
  let background = toward;
  for (let t = 0; t <= 1; t += 0.05) {
    const candidate = accent.map((v, i) => v + (toward[i]! - v) * t) as Rgb;
    if (contrast(candidate, label) >= AA) {
      background = candidate;
      break;
    }
  }
  const colours = { background: toHex(background), label: toHex(label) };
  cache.set(accentHex, colours);
  return colours;
}

function parseHex(hex: string): Rgb {
  const n = Number.parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function toHex(rgb: Rgb): string {
  return `#${rgb.map((v) => Math.round(v).toString(16).padStart(2, "0")).join("")}`;
}

/** WCAG 2 contrast ratio, 1 to 21. */
function contrast(a: Rgb, b: Rgb): number {
  const luminance = (rgb: Rgb) => {
    const [r, g, b] = rgb.map((v) => {
      const c = v / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    }) as Rgb;
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}
