import type { Context } from "hono";
import type { Child, FC, PropsWithChildren } from "hono/jsx";
import type { Config } from "../config";
import { randomToken } from "../crypto";
import type { AppEnv } from "../web/context";
import { CSRF_FIELD, formTokens, type FormName, type FormTokens } from "./csrf";
import type { PageSession } from "./session";
import { strings as s, type NoticeKey } from "./strings";
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
  /** Set only on a sign-in page while sign-ins are under attack: the Turnstile widget's site key. */
  turnstileSiteKey?: string;
}

export async function frameFor(c: Context<AppEnv>, session: PageSession | null): Promise<Frame> {
  const { config } = c.var.deps;
  return {
    nonce: randomToken(18),
    branding: config.branding,
    tokens: await formTokens(c),
    signedIn: session ? { email: session.user.email, superuser: session.user.isSuperuser } : null,
    passwordMinLength: config.passwordMinLength,
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
  return [
    "default-src 'none'",
    `style-src 'nonce-${frame.nonce}'`,
    // Turnstile's script and frame, only on the page that shows the widget (see src/abuse/challenge.ts).
    ...(frame.turnstileSiteKey ? [`script-src ${TURNSTILE_ORIGIN}`, `frame-src ${TURNSTILE_ORIGIN}`] : []),
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
  const { branding, signedIn } = frame;
  return (
    <html lang={s.lang}>
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="robots" content="noindex, nofollow" />
        <title>{`${props.failed ? s.errorTitlePrefix : ""}${title} · ${branding.productName}`}</title>
        <style nonce={frame.nonce} dangerouslySetInnerHTML={{ __html: stylesheet(branding.accentColor) }} />
      </head>
      <body class={props.wide ? "wide" : undefined}>
        <a class="skip" href="#main">
          {s.skipToContent}
        </a>
        <header>
          <a class="brand" href={signedIn ? "/account" : "/login"}>
            {branding.logoUrl ? <img src={branding.logoUrl} alt="" /> : null}
            <span>{branding.productName}</span>
          </a>
          {signedIn ? (
            <p class="muted">
              {s.signedInAs(signedIn.email)} · {signedIn.superuser ? <a href="/admin">{s.admin.nav}</a> : null}
              {signedIn.superuser ? " · " : null}
              <a href="/logout">{s.nav.signOut}</a>
            </p>
          ) : null}
        </header>
        <main id="main">
          <h1>{title}</h1>
          {props.children}
        </main>
        <footer>{branding.supportEmail ? <a href={`mailto:${branding.supportEmail}`}>{s.contactSupport}</a> : null}</footer>
      </body>
    </html>
  );
};

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
  value?: string | undefined;
  error?: string | undefined;
  hint?: string | undefined;
  autocomplete?: string;
  required?: boolean;
  maxlength?: number;
  min?: number;
  max?: number;
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
      <input
        id={id}
        name={p.name}
        type={p.type ?? "text"}
        value={p.type === "password" ? undefined : p.value}
        autocomplete={p.autocomplete}
        required={p.required ?? false}
        maxlength={p.maxlength}
        min={p.min}
        max={p.max}
        aria-invalid={p.error ? "true" : undefined}
        aria-describedby={describedBy || undefined}
      />
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
export const ErrorSummary: FC<{ state: FormState | undefined; form: string }> = ({ state, form }) => {
  const fields = Object.entries(state?.fields ?? {});
  if (!state || (!state.message && fields.length === 0)) return null;
  return (
    <div class="alert" role="alert" tabindex={-1} autofocus>
      <h2>{s.errorSummary}</h2>
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

export const Notice: FC<{ notice: NoticeKey | null | undefined }> = ({ notice }) =>
  notice ? (
    <div class="notice" role="status">
      <p>{s.notices[notice]}</p>
    </div>
  ) : null;

/** A timestamp as text: "2026-11-22 03:25 UTC" (no script, so no local time zone). */
export function whenText(at: string | null): string {
  return at ? `${at.slice(0, 10)} ${at.slice(11, 16)} ${s.time.utc}` : s.time.never;
}
