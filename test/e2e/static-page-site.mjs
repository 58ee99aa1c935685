// examples/static-page as the e2e journey serves it: the file as written, with its gatehouse-url
// meta tag pointed at the test's Gatehouse. In .mjs for node:fs (types in static-page-site.d.mts).
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

const FILE = resolve(import.meta.dirname, "../../examples/static-page/index.html");

/** @param {string} authBase */
export function staticPage(authBase) {
  const html = readFileSync(FILE, "utf8");
  const meta = '<meta name="gatehouse-url" content="https://auth.example.com" />';
  if (!html.includes(meta)) throw new Error(`examples/static-page/index.html no longer has ${meta}`);
  return html.replace(meta, `<meta name="gatehouse-url" content="${authBase}" />`);
}
