import type { Context } from "hono";
import type { Child, FC, PropsWithChildren } from "hono/jsx";
import type { Config } from "../config";
import { randomToken } from "../crypto";
import type { AppEnv } from "../web/context";
import { CSRF_FIELD, formTokens, type FormName, type FormTokens } from "./csrf";
import { nativeName, person, type Translator } from "../i18n";
import { ADMIN_NOTICES, isAdminNotice } from "./admin-strings";
import { englishTranslator, languageLinks, pageTranslator, type LanguageLink } from "./language";
import type { PageSession } from "./session";
import { stylesheet } from "./theme";

/**
 * The hosted pages' building blocks: the layout, form fields with their errors, and the response
 * every page gets (a per-response CSP nonce for the one stylesheet, nothing from another host, no
 * framing, no caching, the referrer kept to our own origin).
 */

/** What every page needs to render: branding, the CSP nonce, the form tokens, who is signed in. */
export interface Frame {
  nonce: string;
  branding: Config["branding"];
  tokens: FormTokens;
  signedIn: { email: string; superuser: boolean } | null;
  passwordMinLength: number;
  /** The page's language (src/i18n): every text of the page comes from it. */
  t: Translator;
  /** The language switcher's links; null on the administration console, which stays English. */
  languages: LanguageLink[] | null;
  /** Set only on a sign-in page while sign-ins are under attack: the Turnstile widget's site key. */
  turnstileSiteKey?: string;
  /**
   * A progressive enhancement of this one response (a copy button), run under the response's nonce:
   * the CSP allows a script only on a page that sets it, and only this one.
   */
  inlineScript?: string;
  /**
   * A confirmation that shows inside one section of the page (the one its redirect scrolled to),
   * not at the top: see account-notices.tsx.
   */
  placedNotice?: { notice: string; section: string };
}

export interface FrameOptions {
  /** The GET address this page stands for, when a form's POST renders it (the language switcher's target). */
  here?: string;
  /** The administration console: English, without the language switcher. */
  admin?: boolean;
}

export async function frameFor(c: Context<AppEnv>, session: PageSession | null, options: FrameOptions = {}): Promise<Frame> {
  const { config } = c.var.deps;
  const [tokens, t] = await Promise.all([formTokens(c), options.admin ? englishTranslator(c) : pageTranslator(c, session)]);
  return {
    nonce: randomToken(18),
    branding: config.branding,
    tokens,
    signedIn: session ? { email: session.user.email, superuser: session.user.isSuperuser } : null,
    passwordMinLength: config.passwordMinLength,
    t,
    languages: options.admin ? null : languageLinks(c, options.here),
  };
}

/** Field name → message, shown beside the field. */
export type FieldErrors = Record<string, string>;

export interface FormState {
  /** A message about the whole form (lockout, invalid link…), with the field messages listed below it. */
  message?: string | undefined;
  fields?: FieldErrors | undefined;
  /** Values to show again (never passwords). */
  values?: Record<string, string | undefined> | undefined;
}

const TURNSTILE_ORIGIN = "https://challenges.cloudflare.com";

/** The Turnstile widget (https://developers.cloudflare.com/turnstile/get-started/client-side-rendering/). */
export const TurnstileWidget: FC<{ frame: Frame }> = ({ frame }) =>
  frame.turnstileSiteKey ? (
    <>
      <div class="cf-turnstile" data-sitekey={frame.turnstileSiteKey} />
      <script src={`${TURNSTILE_ORIGIN}/turnstile/v0/api.js`} async defer />
    </>
  ) : null;

function contentSecurityPolicy(frame: Frame, formTargets: readonly string[]): string {
  const logo = frame.branding.logoUrl;
  const img = logo ? (logo.startsWith("data:") ? "data:" : "'self'") : null;
  const scripts = [
    // Turnstile's script and frame, only on the page that shows the widget (see src/abuse/challenge.ts).
    ...(frame.turnstileSiteKey ? [TURNSTILE_ORIGIN] : []),
    ...(frame.inlineScript ? [`'nonce-${frame.nonce}'`] : []),
  ];
  return [
    "default-src 'none'",
    `style-src 'nonce-${frame.nonce}'`,
    ...(scripts.length > 0 ? [`script-src ${scripts.join(" ")}`] : []),
    ...(frame.turnstileSiteKey ? [`frame-src ${TURNSTILE_ORIGIN}`] : []),
    // The passkey script asks this worker for WebAuthn options (only pages with a script can fetch at all).
    ...(frame.inlineScript ? ["connect-src 'self'"] : []),
    ...(img ? [`img-src ${img}`] : []),
    // A sign-in may redirect to an allowed site (return_to); form-action also governs that redirect.
    `form-action 'self'${formTargets.map((o) => ` ${o}`).join("")}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join("; ");
}

/** Renders a page with its headers. */
export async function renderPage(c: Context<AppEnv>, frame: Frame, page: Child, status = 200, headers: Record<string, string> = {}) {
  const html = `<!DOCTYPE html>${(await (page as { toString(): string | Promise<string> }).toString()).toString()}`;
  return c.html(html, status as 200, {
    "Content-Security-Policy": contentSecurityPolicy(frame, c.var.deps.config.corsOrigins),
    // Not the API's no-referrer: with it, browsers send `Origin: null` on form posts, which the CSRF check needs.
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    ...headers,
  });
}

export const Layout: FC<PropsWithChildren<{ frame: Frame; title: string; wide?: boolean; failed?: boolean }>> = (props) => {
  const { frame, title } = props;
  const { branding, signedIn, t } = frame;
  return (
    <html lang={t.locale} dir={t.dir}>
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="robots" content="noindex, nofollow" />
        <title>{`${props.failed ? t.text("errorTitlePrefix") : ""}${title} · ${branding.productName}`}</title>
        <style nonce={frame.nonce} dangerouslySetInnerHTML={{ __html: stylesheet(branding.accentColor) }} />
      </head>
      <body class={props.wide ? "wide" : undefined}>
        <a class="skip" href="#main">
          {t.text("skipToContent")}
        </a>
        <header>
          <a class="brand" href={signedIn ? "/account" : "/login"}>
            {branding.logoUrl ? <img src={branding.logoUrl} alt="" /> : null}
            <span>{branding.productName}</span>
          </a>
          {signedIn ? (
            <p class="muted">
              {t.rich("signedInAs", { email: person(signedIn.email) })} ·{" "}
              {signedIn.superuser ? <a href="/admin">{t.text("nav.administration")}</a> : null}
              {signedIn.superuser ? " · " : null}
              <a href="/logout">{t.text("nav.signOut")}</a>
            </p>
          ) : null}
        </header>
        <main id="main">
          <h1>{title}</h1>
          {props.children}
        </main>
        <footer>
          {branding.supportEmail ? (
            <p>
              <a href={`mailto:${branding.supportEmail}`}>{t.text("contactSupport")}</a>
            </p>
          ) : null}
          {frame.languages ? <LanguageSwitcher t={t} links={frame.languages} /> : null}
        </footer>
        {frame.inlineScript ? <script nonce={frame.nonce} dangerouslySetInnerHTML={{ __html: frame.inlineScript }} /> : null}
      </body>
    </html>
  );
};

/**
 * Links to this page in every shipped language, each named in its own language (and marked as
 * such for screen readers); plain links, so the switch works without script.
 */
const LanguageSwitcher: FC<{ t: Translator; links: LanguageLink[] }> = ({ t, links }) => (
  <nav class="languages" aria-label={t.text("language.label")}>
    <ul>
      {links.map(({ locale, href }) => {
        const name = nativeName(locale);
        return locale === t.locale ? (
          <li lang={locale}>
            <span aria-current="true">{name}</span>
          </li>
        ) : (
          <li lang={locale}>
            <a href={href} hreflang={locale} rel="alternate">
              {name}
            </a>
          </li>
        );
      })}
    </ul>
  </nav>
);

/** A POST form with its CSRF token. `id` prefixes the ids of its fields (several forms share a page). */
export const Form: FC<PropsWithChildren<{ frame: Frame; name: FormName; action: string; class?: string; label?: string }>> = (props) => (
  <form method="post" action={props.action} novalidate class={props.class} aria-label={props.label}>
    <input type="hidden" name={CSRF_FIELD} value={props.frame.tokens[props.name]} />
    {props.children}
  </form>
);

export const Hidden: FC<{ name: string; value: string | undefined | null }> = ({ name, value }) =>
  value ? <input type="hidden" name={name} value={value} /> : null;

interface FieldProps {
  form: string;
  name: string;
  label: string;
  type?: "text" | "email" | "password" | "number";
  /** The keyboard a phone shows: digits for an authenticator's code. */
  inputmode?: "numeric" | "text";
  /** Off for codes: neither spelling nor capitals mean anything in them. */
  spellcheck?: boolean;
  value?: string | undefined;
  error?: string | undefined;
  hint?: string | undefined;
  autocomplete?: string;
  required?: boolean;
  maxlength?: number;
  min?: number;
  max?: number;
  /** A text area of this many rows instead of an input (a list, one item per line). */
  rows?: number;
}

/** A labelled input; its error sits between the label and the input and is tied to it for screen readers. */
export const Field: FC<FieldProps> = (p) => {
  const id = `${p.form}-${p.name}`;
  const describedBy = [p.hint ? `${id}-hint` : "", p.error ? `${id}-error` : ""].filter(Boolean).join(" ");
  return (
    <div>
      <label for={id}>{p.label}</label>
      {p.hint ? (
        <span class="hint" id={`${id}-hint`}>
          {p.hint}
        </span>
      ) : null}
      {p.error ? (
        <span class="field-error" id={`${id}-error`}>
          {p.error}
        </span>
      ) : null}
      {p.rows ? (
        <textarea
          id={id}
          name={p.name}
          rows={p.rows}
          spellcheck={p.spellcheck}
          autocapitalize={p.spellcheck === false ? "none" : undefined}
          required={p.required ?? false}
          aria-invalid={p.error ? "true" : undefined}
          aria-describedby={describedBy || undefined}
        >
          {p.value ?? ""}
        </textarea>
      ) : (
        <input
          id={id}
          name={p.name}
          type={p.type ?? "text"}
          value={p.type === "password" ? undefined : p.value}
          autocomplete={p.autocomplete}
          inputmode={p.inputmode}
          spellcheck={p.spellcheck}
          autocapitalize={p.spellcheck === false ? "none" : undefined}
          required={p.required ?? false}
          maxlength={p.maxlength}
          min={p.min}
          max={p.max}
          aria-invalid={p.error ? "true" : undefined}
          aria-describedby={describedBy || undefined}
        />
      )}
    </div>
  );
};

/** A labelled drop-down, with its error tied to it like a Field's. */
export const Select: FC<{
  form: string;
  name: string;
  label: string;
  options: readonly (readonly [value: string, label: string])[];
  value?: string | undefined;
  error?: string | undefined;
}> = (p) => {
  const id = `${p.form}-${p.name}`;
  return (
    <div>
      <label for={id}>{p.label}</label>
      {p.error ? (
        <span class="field-error" id={`${id}-error`}>
          {p.error}
        </span>
      ) : null}
      <select id={id} name={p.name} aria-invalid={p.error ? "true" : undefined} aria-describedby={p.error ? `${id}-error` : undefined}>
        {p.options.map(([value, label]) => (
          <option value={value} selected={value === (p.value ?? "")}>
            {label}
          </option>
        ))}
      </select>
    </div>
  );
};

/**
 * The form's problems, first on the page: announced (role=alert), focused on load so keyboard and
 * screen-reader users start there, and linking to each field in error.
 */
export const ErrorSummary: FC<{ t: Translator; state: FormState | undefined; form: string }> = ({ t, state, form }) => {
  const fields = Object.entries(state?.fields ?? {});
  if (!state || (!state.message && fields.length === 0)) return null;
  return (
    <div class="alert" role="alert" tabindex={-1} autofocus>
      <h2>{t.text("errorSummary")}</h2>
      {state.message ? <p>{state.message}</p> : null}
      {fields.length > 0 ? (
        <ul>
          {fields.map(([name, message]) => (
            <li>
              <a href={`#${form}-${name}`}>{message}</a>
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
};

/**
 * The fixed confirmation a redirect named (`?notice=`): a catalogue notice in the page's language,
 * or one of the administration console's (English). Any other value shows nothing.
 */
export const Notice: FC<{ t: Translator; notice: string | null | undefined }> = ({ t, notice }) => {
  const text = !notice ? null : isAdminNotice(notice) ? ADMIN_NOTICES[notice] : t.maybe(`notices.${notice}`);
  return text ? (
    <div class="notice" role="status">
      <p>{text}</p>
    </div>
  ) : null;
};

/** A timestamp as people of the page's language write it, in UTC (no script, so no local time zone). */
export function whenText(t: Translator, at: string | null): string {
  return at ? t.date(at) : t.text("time.never");
}
