import type { Locale } from "../config/languages";
import { describeError, log } from "../log";
import { flatten, type CatalogueTree, type Entry, type FlatCatalogue } from "./tree";
import { validateOverrides } from "./validate";

/**
 * Message catalogues: one JSON file per shipped locale in `assets/locales/` (static assets, read
 * through the ASSETS binding: never modules of the worker's bundle), loaded for the locale a
 * request needs and kept per isolate. English is the source (src/i18n/en.ts, from which
 * `assets/locales/en.json` is built); a key a catalogue lacks falls back to English.
 *
 * Operators override any message per locale without forking: `i18n:overrides:<locale>` in KV, a
 * JSON object of dotted keys to texts (`npm run i18n -- override`). Overrides are validated where
 * they are read (same holes as the source, no markup, length caps, subjects on one line); an
 * invalid entry is dropped with a warning and the shipped text stays.
 */

/** Where catalogues come from: the static assets, and KV for the operator's overrides. */
export interface CatalogueSource {
  assets: Fetcher | undefined;
  kv: KVNamespace;
}

/** How long an isolate keeps a catalogue (overrides change at most this much later). */
const CACHE_MS = 5 * 60_000;
const cache = new Map<Locale, { catalogue: FlatCatalogue; at: number }>();

/** The catalogue of `locale` with the operator's overrides, English filling any gap. */
export async function loadCatalogue(source: CatalogueSource, locale: Locale, now = Date.now()): Promise<FlatCatalogue> {
  const hit = cache.get(locale);
  if (hit && now - hit.at < CACHE_MS) return hit.catalogue;
  const english = locale === "en" ? null : await loadCatalogue(source, "en", now);
  const [shipped, overrides] = await Promise.all([readShipped(source, locale), readOverrides(source, locale, english)]);
  const catalogue = new Map(english ?? []);
  for (const [key, entry] of shipped) catalogue.set(key, entry);
  for (const [key, text] of overrides) catalogue.set(key, text);
  cache.set(locale, { catalogue, at: now });
  return catalogue;
}

/** Forgets every cached catalogue (tests that change overrides; nothing else needs it). */
export function forgetCatalogues(): void {
  cache.clear();
}

async function readShipped(source: CatalogueSource, locale: Locale): Promise<Map<string, Entry>> {
  if (!source.assets) throw new Error("the ASSETS binding is missing: the message catalogues are static assets");
  const res = await source.assets.fetch(`https://assets.gatehouse.invalid/locales/${locale}.json`);
  if (!res.ok) throw new Error(`catalogue ${locale}: ${res.status}`);
  return flatten(await res.json<CatalogueTree>());
}

async function readOverrides(source: CatalogueSource, locale: Locale, english: FlatCatalogue | null): Promise<Map<string, string>> {
  let raw: unknown;
  try {
    raw = await source.kv.get(`i18n:overrides:${locale}`, "json");
  } catch (error) {
    // The shipped text is always there: an unreadable override is logged, never a failed page.
    log("warn", "i18n.overrides_unreadable", { locale, ...describeError(error) });
    return new Map();
  }
  if (raw === null) return new Map();
  const reference = english ?? (await readShipped(source, "en"));
  const { accepted, problems } = validateOverrides(raw, reference, locale);
  if (problems.length > 0) log("warn", "i18n.overrides_refused", { locale, problems: problems.slice(0, 20) });
  return accepted;
}
