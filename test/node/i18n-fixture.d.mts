// Types for i18n-fixture.mjs.

/** A catalogue as JSON: groups of groups and texts. */
export interface CatalogueJson {
  [key: string]: CatalogueJson | string;
}

export function catalogueText(locale: string): string;

export function withEditedCatalogue<T>(
  locale: string,
  edit: (catalogue: Record<string, CatalogueJson>) => void,
  check: (root: string) => T,
): T;
