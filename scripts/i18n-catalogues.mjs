// The message catalogues as files: the English source (src/i18n/en.ts), the shipped catalogues
// (assets/locales/<locale>.json), and their checks. Pure apart from reading files; used by
// `npm run i18n`, `npm run preflight` and the node tests. Node 24 runs the TypeScript it imports.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { catalogueProblems, validateOverrides } from "../src/i18n/validate.ts";
import { flatten } from "../src/i18n/tree.ts";

export const LOCALES_DIR = "assets/locales";

/** The English source as JSON text, exactly as `assets/locales/en.json` must hold it. */
export async function englishJson(root = process.cwd()) {
  const { en } = await import(join(root, "src/i18n/en.ts"));
  return `${JSON.stringify(en, null, 2)}\n`;
}

/** The shipped locales: the catalogues in assets/locales. */
export function shippedLocales(root = process.cwd()) {
  return readdirSync(join(root, LOCALES_DIR))
    .filter((f) => f.endsWith(".json"))
    .map((f) => f.slice(0, -5))
    .sort();
}

/** Every shipped catalogue's problems against the English source, by locale (empty: all good). */
export function shippedProblems(root = process.cwd()) {
  const source = flatten(JSON.parse(readFileSync(join(root, LOCALES_DIR, "en.json"), "utf8")));
  const problems = {};
  for (const file of readdirSync(join(root, LOCALES_DIR)).filter((f) => f.endsWith(".json") && f !== "en.json")) {
    const locale = file.slice(0, -5);
    let tree;
    try {
      tree = JSON.parse(readFileSync(join(root, LOCALES_DIR, file), "utf8"));
    } catch (error) {
      problems[locale] = [`not JSON: ${error.message}`];
      continue;
    }
    const found = catalogueProblems(flatten(tree), source, locale);
    if (found.length) problems[locale] = found;
  }
  return problems;
}

/** An operator's overrides file for `locale`: the accepted texts and the problems. */
export function overrideProblems(raw, locale, root = process.cwd()) {
  const source = flatten(JSON.parse(readFileSync(join(root, LOCALES_DIR, "en.json"), "utf8")));
  const { accepted, problems } = validateOverrides(raw, source, locale);
  return { accepted: Object.fromEntries(accepted), problems };
}
