import { SHIPPED_LOCALES, type Locale } from "../config/languages";

/**
 * Which shipped locale a request gets, and how it is written. The order of the negotiation is the
 * HTTP contract's: `?lang=`, then the `gh_lang` cookie, the account's `locale`, `Accept-Language`,
 * then DEFAULT_LOCALE. Each candidate counts only when it names a shipped locale, exactly or by
 * its language (`de-CH` → `de`, `zh-Hans-CN` → `zh`, `pt-BR` → `pt`).
 */

export type { Locale };
export { SHIPPED_LOCALES };

const RIGHT_TO_LEFT: ReadonlySet<Locale> = new Set(["ar"]);

/** The cookie that remembers a language chosen with `?lang=` (`Secure; SameSite=Lax; Path=/`). */
export const LANGUAGE_COOKIE = "gh_lang";

/** The shipped locale a language tag names, or null. */
export function shippedLocale(tag: string | null | undefined): Locale | null {
  if (!tag) return null;
  const lower = tag.trim().toLowerCase();
  if (lower.length === 0 || lower.length > 35 || !/^[a-z]{2,3}(-[a-z0-9]{1,8})*$/.test(lower)) return null;
  const language = lower.split("-")[0]!;
  return (SHIPPED_LOCALES as readonly string[]).includes(language) ? (language as Locale) : null;
}

/** Text direction of a locale, for `<html dir>`. */
export function direction(locale: Locale): "ltr" | "rtl" {
  return RIGHT_TO_LEFT.has(locale) ? "rtl" : "ltr";
}

/** The locales an `Accept-Language` header asks for, best first (q=0 means "not this one"). */
function acceptedLocales(header: string | null | undefined): Locale[] {
  if (!header) return [];
  const ranked = header
    .split(",")
    .slice(0, 20)
    .map((part, index) => {
      const [tag = "", ...params] = part.trim().split(";");
      const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)?.[1]).find((v) => v !== undefined);
      return { locale: shippedLocale(tag), q: q === undefined ? 1 : Number(q), index };
    })
    .filter((r): r is { locale: Locale; q: number; index: number } => r.locale !== null && r.q > 0)
    .sort((a, b) => b.q - a.q || a.index - b.index);
  return ranked.map((r) => r.locale);
}

export interface LanguageSignals {
  /** `?lang=` of this request. */
  query?: string | null | undefined;
  /** The `gh_lang` cookie. */
  cookie?: string | null | undefined;
  /** The signed-in account's `locale`. */
  account?: string | null | undefined;
  /** The `Accept-Language` header. */
  acceptLanguage?: string | null | undefined;
}

/** The locale of a request (see the module comment). */
export function negotiate(signals: LanguageSignals, fallback: Locale): Locale {
  return (
    shippedLocale(signals.query) ??
    shippedLocale(signals.cookie) ??
    shippedLocale(signals.account) ??
    acceptedLocales(signals.acceptLanguage)[0] ??
    fallback
  );
}

/** A locale's name in its own language, for the language switcher ("Deutsch", "日本語"). */
export function nativeName(locale: Locale): string {
  const name = new Intl.DisplayNames([locale], { type: "language" }).of(locale) ?? locale;
  return name.charAt(0).toLocaleUpperCase(locale) + name.slice(1);
}
