import type { Context } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { base64url, hmacSha256, randomToken, timingSafeEqual, utf8 } from "../crypto";
import type { AppEnv } from "../web/context";

/**
 * CSRF for the hosted pages (the HTTP contract: "`Origin` (or `Sec-Fetch-Site`) checked against the
 * request's own origin and `CORS_ORIGINS`, plus a per-form token"). Both must pass.
 *
 * The token is a double-submit one: a random `__Host-gh_csrf` cookie (HttpOnly; `__Host-` means no
 * subdomain or plain-http page can plant it), and in each form `HMAC(cookie, form name)`, so a token
 * lifted from one form does not work in another. Signed-out forms (login, register) are covered
 * too: login CSRF would sign the victim in to the attacker's account.
 */
const CSRF_COOKIE = "__Host-gh_csrf";
export const CSRF_FIELD = "csrf_token";

const FORMS = [
  "login",
  "login_verify",
  "login_passkey",
  "login_verify_passkey",
  "email_code_request",
  "email_code",
  "email_link",
  "enrol_totp_start",
  "enrol_totp_confirm",
  "enrol_passkey",
  "register",
  "forgot",
  "reset",
  "verify",
  "verify_new_password",
  "resend",
  "revert",
  "revert_sign_in",
  "logout",
  "profile",
  "email",
  "password",
  "session_revoke",
  "device_revoke",
  "api_key_create",
  "api_key_revoke",
  "mfa_start",
  "mfa_confirm",
  "mfa_disable",
  "email_code_setting",
  "recovery_codes",
  "passkey_add",
  "passkey_prove",
  "passkey_rename",
  "passkey_remove",
  "identity_link",
  "oauth_consent",
  "oauth_logout",
  "grant_revoke",
  "identity_unlink",
  "external_link",
  "external_email",
  "external_code",
  "delete",
  "admin_deactivate",
  "admin_reactivate",
  "admin_password_reset",
  "admin_unlock",
  "admin_superuser",
  "admin_roles",
  "admin_session_revoke",
  "admin_sessions_revoke",
  "admin_redeliver",
  "admin_mfa_reset",
  "admin_oauth_client_create",
  "admin_oauth_client_delete",
] as const;
export type FormName = (typeof FORMS)[number];
export type FormTokens = Record<FormName, string>;

const cookieOptions = { httpOnly: true, secure: true, sameSite: "Lax", path: "/" } as const;

async function tokenFor(secret: string, form: FormName): Promise<string> {
  return base64url(await hmacSha256(utf8(secret), `gatehouse-page-form:${form}`));
}

/** The browser's CSRF secret, set now when it has none (a session cookie: it goes with the browser). */
function ensureSecret(c: Context<AppEnv>): string {
  const existing = getCookie(c, CSRF_COOKIE);
  if (existing && /^[A-Za-z0-9_-]{43}$/.test(existing)) return existing;
  const secret = randomToken(32);
  setCookie(c, CSRF_COOKIE, secret, cookieOptions);
  return secret;
}

/** Every form's token for this browser, for a page about to render its forms. */
export async function formTokens(c: Context<AppEnv>): Promise<FormTokens> {
  const secret = ensureSecret(c);
  const entries = await Promise.all(FORMS.map(async (form) => [form, await tokenFor(secret, form)] as const));
  return Object.fromEntries(entries) as FormTokens;
}

/** True when the request's `Origin` (or, without one, `Sec-Fetch-Site`) says it came from our own pages. */
function fromAllowedOrigin(c: Context<AppEnv>, allowedOrigins: readonly string[]): boolean {
  const origin = c.req.header("origin");
  const fetchSite = c.req.header("sec-fetch-site");
  if (origin !== undefined && origin !== "null") {
    const own = new URL(c.req.url).origin;
    return origin === own || allowedOrigins.includes(origin);
  }
  // No usable Origin (or "null", as sandboxed frames and some redirects send): the browser's word.
  if (fetchSite !== undefined) return fetchSite === "same-origin";
  // Neither header: not a browser (browsers send Origin on every form POST), so nothing to forge.
  return origin === undefined;
}

/** Whether a form POST passes both checks. */
export async function formIsGenuine(
  c: Context<AppEnv>,
  form: FormName,
  submitted: string | undefined,
  allowedOrigins: readonly string[],
): Promise<boolean> {
  if (!fromAllowedOrigin(c, allowedOrigins)) return false;
  const secret = getCookie(c, CSRF_COOKIE);
  if (!secret || !submitted) return false;
  return timingSafeEqual(utf8(await tokenFor(secret, form)), utf8(submitted));
}
