// File plumbing of the catalogue tests (the project's type check has no @types/node; types in
// i18n-fixture.d.mts): the shipped files as text, and a scratch project with an edited catalogue.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A shipped catalogue's text. */
export function catalogueText(/** @type {string} */ locale) {
  return readFileSync(`assets/locales/${locale}.json`, "utf8");
}

/**
 * Runs `check(root)` on a scratch project holding the English source and `locale`'s catalogue as
 * `edit` leaves it; the scratch project is removed afterwards.
 * @template T
 * @param {string} locale
 * @param {(catalogue: Record<string, any>) => void} edit
 * @param {(root: string) => T} check
 * @returns {T}
 */
export function withEditedCatalogue(locale, edit, check) {
  const root = mkdtempSync(join(tmpdir(), "gatehouse-i18n-"));
  try {
    mkdirSync(join(root, "assets/locales"), { recursive: true });
    copyFileSync("assets/locales/en.json", join(root, "assets/locales/en.json"));
    const catalogue = JSON.parse(catalogueText(locale));
    edit(catalogue);
    writeFileSync(join(root, `assets/locales/${locale}.json`), JSON.stringify(catalogue));
    return check(root);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
