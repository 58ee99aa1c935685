/**
 * The hosted pages' one stylesheet, light and dark (`prefers-color-scheme`), coloured from the
 * configured accent. Only logical properties for anything sided (`inset-inline-start`,
 * `margin-inline-start`), so a right-to-left page (`<html dir="rtl">`) mirrors without a second sheet. The accent is the operator's choice, so the colours drawn from it are adjusted
 * until they meet WCAG AA contrast (4.5:1) on the background they sit on.
 */

import { BLACK, buttonColours, parseHex, readableOn, toHex, WHITE, type Rgb } from "../kernel/accent";

/** The lighter-than-text backgrounds below it sits on that contrast least with links: light page, dark card. */
const LIGHT_CARD: Rgb = [243, 244, 246];
const DARK_CARD: Rgb = [24, 28, 34];

export interface Palette {
  /** The button colour: the accent, darkened or lightened if its text would not be readable. */
  accent: string;
  /** Text on an accent-coloured button: white or near-black, whichever contrasts more. */
  onAccent: string;
  linkLight: string;
  linkDark: string;
}

export function palette(accentHex: string): Palette {
  const accent = parseHex(accentHex);
  const button = buttonColours(accentHex);
  return {
    accent: button.background,
    onAccent: button.label,
    linkLight: toHex(readableOn(accent, LIGHT_CARD, BLACK)),
    linkDark: toHex(readableOn(accent, DARK_CARD, WHITE)),
  };
}

const cache = new Map<string, string>();

/** The stylesheet for one accent colour (cached: the accent changes only with the configuration). */
export function stylesheet(accentHex: string): string {
  const hit = cache.get(accentHex);
  if (hit) return hit;
  const p = palette(accentHex);
  const css = `:root{color-scheme:light dark;--bg:#f3f4f6;--card:#fff;--fg:#16191d;--muted:#4f5863;--line:#8c959f;--soft:#d8dde3;--accent:${p.accent};--on-accent:${p.onAccent};--link:${p.linkLight};--err:#b3261e;--ok:#1a6b34}
@media (prefers-color-scheme:dark){:root{--bg:#0e1115;--card:#181c22;--fg:#e8ebef;--muted:#a7b0ba;--line:#6e7781;--soft:#333a43;--link:${p.linkDark};--err:#ff9b91;--ok:#7fd99b}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:1rem/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
a{color:var(--link)}
:focus-visible{outline:3px solid var(--link);outline-offset:2px}
.skip{position:absolute;inset-inline-start:-999px}.skip:focus{inset-inline-start:1rem;top:1rem;background:var(--card);padding:.5rem}
header,main,footer{width:100%;max-width:30rem;margin:0 auto;padding:1rem;overflow-wrap:break-word}
body.wide header,body.wide main,body.wide footer{max-width:52rem}
body:not(.wide) main{background:var(--card);border:1px solid var(--soft);border-radius:.75rem;padding:1.5rem}
body:not(.wide) section{border:0;border-top:1px solid var(--soft);border-radius:0;padding:1.25rem 0 0;margin:1.5rem 0 0}
header .brand{display:inline-flex;gap:.5rem;align-items:center;color:var(--fg);font-weight:700;font-size:1.15rem;text-decoration:none}
header img{height:2rem;width:auto}
footer{color:var(--muted);font-size:.9rem}
nav.languages ul{list-style:none;display:flex;flex-wrap:wrap;gap:.25rem .9rem;padding:0;margin:.75rem 0 0}
nav.languages [aria-current]{font-weight:600;color:var(--fg)}
h1{font-size:1.6rem;margin:.5rem 0 1rem}
h2{font-size:1.2rem;margin:0 0 .75rem}
section,.card{background:var(--card);border:1px solid var(--soft);border-radius:.6rem;padding:1.25rem;margin:0 0 1.25rem}
label{display:block;font-weight:600;margin:.9rem 0 .25rem}
.hint{display:block;color:var(--muted);font-size:.9rem;margin:.1rem 0 .3rem}
input[type=text],input[type=email],input[type=password],input[type=number],select{width:100%;font:inherit;color:var(--fg);background:var(--card);border:1px solid var(--line);border-radius:.4rem;padding:.55rem .65rem;min-height:2.75rem}
input[aria-invalid=true]{border:2px solid var(--err)}
textarea{display:block;width:100%;font:inherit;font-family:ui-monospace,monospace;color:var(--fg);background:var(--card);border:1px solid var(--line);border-radius:.4rem;padding:.55rem .65rem;min-height:5.5rem}textarea[aria-invalid=true]{border:2px solid var(--err)}
fieldset{border:0;padding:0;margin:.9rem 0 0}legend{font-weight:600}
.check{display:flex;gap:.5rem;align-items:center;font-weight:400;margin:.35rem 0}
button{font:inherit;font-weight:600;border-radius:.4rem;padding:.6rem 1.1rem;min-height:2.75rem;cursor:pointer;margin-top:1rem;border:2px solid var(--accent);background:var(--accent);color:var(--on-accent)}
button.secondary,a.button.secondary{background:transparent;color:var(--link);border-color:var(--line)}
.providers{display:flex;flex-direction:column;align-items:flex-start;gap:0;margin-top:.5rem}
a.button{display:inline-block;font-weight:600;border-radius:.4rem;padding:.6rem 1.1rem;min-height:2.75rem;margin-top:1rem;border:2px solid var(--accent);background:var(--accent);color:var(--on-accent);text-decoration:none}
button.danger{background:transparent;color:var(--err);border-color:var(--err)}
.inline{display:inline}.inline button{margin:0}
.field-error{display:block;color:var(--err);font-weight:600;margin:.25rem 0 0}
.alert{border:2px solid var(--err);border-radius:.5rem;padding:.75rem 1rem;margin:0 0 1rem;color:var(--fg);background:var(--card)}
.alert p,.notice p{margin:.25rem 0}
.notice{border:2px solid var(--ok);border-radius:.5rem;padding:.75rem 1rem;margin:0 0 1rem;background:var(--card)}
.secret{font-family:ui-monospace,monospace;word-break:break-all;background:var(--bg);padding:.6rem;border-radius:.4rem;border:1px solid var(--line)}
.qr{width:100%;max-width:13rem;margin:.5rem 0 .75rem}.qr svg{display:block;width:100%;height:auto}
code.secret{display:inline-block;font-size:1rem;margin:.25rem 0;padding:.3rem .6rem;word-break:normal}
ol.codes{columns:2 10rem;padding-inline-start:1.75rem}ol.codes code{font-size:1rem;word-break:normal}
.links{align-items:center}.links>button{margin:0}
.links{display:flex;flex-wrap:wrap;gap:.5rem 1.25rem;margin:1rem 0 0}
ul.items{list-style:none;padding:0;margin:0}
ul.items li{border-top:1px solid var(--soft);padding:.75rem 0;display:flex;flex-wrap:wrap;justify-content:space-between;gap:.5rem;align-items:center}
ul.items li>span{min-width:0;overflow-wrap:anywhere}
.muted{color:var(--muted);font-size:.9rem}
.badge{font-size:.8rem;border:1px solid var(--line);border-radius:1rem;padding:0 .5rem;margin-inline-start:.35rem;white-space:nowrap}
nav.toc{display:flex;flex-wrap:wrap;gap:.25rem 1rem;margin:0 0 1rem}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(12rem,1fr));gap:0 1rem}
code{font-family:ui-monospace,monospace;font-size:.85rem;word-break:break-all}
dl{display:grid;grid-template-columns:minmax(7rem,auto) 1fr;gap:.25rem 1rem;margin:0}dt{font-weight:600}dd{margin:0;word-break:break-word}
@media (max-width:30rem){header,main,footer{padding:.75rem}body:not(.wide) main{border-width:1px 0;border-radius:0;padding:1rem .75rem}section,.card{padding:1rem}button{width:100%}.inline button{width:auto}}`;
  cache.set(accentHex, css);
  return css;
}
