import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { LANGUAGE_COOKIE, negotiate, shippedLocale, SHIPPED_LOCALES, translator, type Locale, type Translator } from "../i18n";
import type { AppEnv } from "../web/context";
import type { PageSession } from "./session";

/**
 * Which language a page speaks (the HTTP contract "Languages"): `?lang=`, then the `gh_lang`
 * cookie, the signed-in account's `locale`, `Accept-Language`, then DEFAULT_LOCALE. A shipped
 * `?lang=` is remembered in the cookie, so the pages after it (and the forms they post) keep the
 * choice. The administration console stays English.
 */

/** A year: the choice outlives sessions, as a language setting should. */
const COOKIE_OPTIONS = { secure: true, sameSite: "Lax", path: "/", maxAge: 365 * 86_400 } as const;

/** One translator per request: the form handler and the page it renders must agree. */
const chosen = new WeakMap<Request, Translator>();

/** The translator of this request's page, negotiated once (see the module comment). */
export async function pageTranslator(c: Context<AppEnv>, session: PageSession | null): Promise<Translator> {
  const known = chosen.get(c.req.raw);
  if (known) return known;
  const { deps } = c.var;
  const query = shippedLocale(c.req.query("lang"));
  const cookie = getCookie(c, LANGUAGE_COOKIE);
  if (query && query !== cookie) {
    setCookie(c, LANGUAGE_COOKIE, query, COOKIE_OPTIONS);
  }
  const locale = negotiate(
    { query, cookie, account: session?.user.locale, acceptLanguage: c.req.header("accept-language") },
    deps.config.defaultLocale,
  );
  const t = await translator(deps, locale);
  chosen.set(c.req.raw, t);
  return t;
}

/**
 * After the account's language was saved on the account page: this browser's cookie follows it
 * (set to it, or gone for "as my browser asks"), so the next page speaks it at once.
 */
export function rememberLanguage(c: Context<AppEnv>, locale: string | null): void {
  const chosenLocale = shippedLocale(locale);
  if (chosenLocale) setCookie(c, LANGUAGE_COOKIE, chosenLocale, COOKIE_OPTIONS);
  else deleteCookie(c, LANGUAGE_COOKIE, { secure: true, path: "/" });
}

/** The translator `formPost` negotiated before it ran a form's handler (see respond.tsx). */
export function formTranslator(c: Context<AppEnv>): Translator {
  const t = chosen.get(c.req.raw);
  if (!t) throw new Error("formTranslator outside formPost");
  return t;
}

/** The administration console's translator: English (operators read it), whatever the browser asks. */
export async function englishTranslator(c: Context<AppEnv>): Promise<Translator> {
  const t = await translator(c.var.deps, "en");
  chosen.set(c.req.raw, t);
  return t;
}

/** One link of the language switcher. */
export interface LanguageLink {
  locale: Locale;
  href: string;
}

/**
 * This page in every shipped locale: `here` (the request's own path and query; a page rendered by
 * a form's POST names the GET address it stands for) with `lang` set, so the switcher works
 * without script and keeps a mailed link's token.
 */
export function languageLinks(c: Context<AppEnv>, here?: string): LanguageLink[] {
  const url = new URL(here ?? (c.req.method === "GET" ? c.req.url : c.req.path), c.req.url);
  return SHIPPED_LOCALES.map((locale) => {
    const query = new URLSearchParams(url.search);
    query.set("lang", locale);
    return { locale, href: `${url.pathname}?${query.toString()}` };
  });
}
