import type { Locale } from "../config/languages";
import { loadCatalogue, type CatalogueSource } from "./catalogue";
import { Translator } from "./translator";

export { person, Translator, type CatalogueNotice, type PlainKey } from "./translator";
export { LANGUAGE_COOKIE, nativeName, negotiate, shippedLocale, SHIPPED_LOCALES, type Locale } from "./locales";

/** The translator of `locale`: its catalogue (static assets, with overrides) loaded once per isolate. */
export async function translator(source: CatalogueSource, locale: Locale): Promise<Translator> {
  return new Translator(locale, await loadCatalogue(source, locale));
}
