/**
 * The shape of a message catalogue, shared by the worker and the scripts (Node runs this file as
 * it is: no imports, nothing but erasable types).
 */

/** A plural message: one text per CLDR category the locale uses (`other` always). */
type PluralEntry = Partial<Record<Intl.LDMLPluralRule, string>> & { other: string };

export type Entry = string | PluralEntry;

/** A catalogue as JSON: nested groups of entries. */
export interface CatalogueTree {
  [key: string]: Entry | CatalogueTree;
}

/** A catalogue flattened to dotted keys. */
export type FlatCatalogue = ReadonlyMap<string, Entry>;

const PLURAL_CATEGORIES = new Set(["zero", "one", "two", "few", "many", "other"]);

/** Whether a JSON value is a plural entry rather than a group. */
function isPlural(value: unknown): value is PluralEntry {
  if (typeof value !== "object" || value === null || typeof (value as { other?: unknown }).other !== "string") return false;
  return Object.keys(value).every((k) => PLURAL_CATEGORIES.has(k));
}

/** Dotted keys to entries. */
export function flatten(tree: CatalogueTree, prefix = "", into = new Map<string, Entry>()): Map<string, Entry> {
  for (const [key, value] of Object.entries(tree)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (typeof value === "string" || isPlural(value)) into.set(path, value);
    else flatten(value, path, into);
  }
  return into;
}
