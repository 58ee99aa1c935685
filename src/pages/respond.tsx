import type { Context } from "hono";
import type { AppEnv } from "../web/context";
import { describeError, log } from "../log";
import { findCause, isDependencyError } from "../errors";
import type { FormName } from "./csrf";
import { readForm, type FormData } from "./forms";
import { frameFor, Layout, renderPage } from "./kit";
import { DEFAULT_RETURN_TO, safeReturnTo } from "./return-to";
import { pageSession, type PageSession } from "./session";
import type { CatalogueNotice, PlainKey } from "../i18n";
import type { AdminNoticeKey } from "./admin-strings";
import { pageTranslator } from "./language";

/** A confirmation a redirect names: the catalogue's, or the administration console's. */
export type NoticeKey = CatalogueNotice | AdminNoticeKey;

/** Shared steps of the page handlers: refusing forged forms, redirects, notices, error pages. */

/** What a message page says: a catalogue key, or the English administration console's own words. */
type Said = PlainKey | { english: string };

/** A page that only says something went wrong, with a way back. */
export async function messagePage(c: Context<AppEnv>, status: number, title: Said, message: Said, headers: Record<string, string> = {}) {
  const frame = await frameFor(c, null);
  const { t } = frame;
  const say = (said: Said) => (typeof said === "string" ? t.text(said) : said.english);
  return renderPage(
    c,
    frame,
    <Layout frame={frame} title={say(title)} failed>
      <div class="alert" role="alert">
        <p>{say(message)}</p>
      </div>
      <p>
        <a href="/login">{t.text("errors.back")}</a>
      </p>
    </Layout>,
    status,
    headers,
  );
}

type FormHandler = (c: Context<AppEnv>, data: FormData, session: PageSession | null) => Promise<Response>;

/**
 * A form POST: refused with a 403 page unless its Origin and per-form token check out (csrf.ts),
 * then handled with the browser's session (null when signed out). `form` may depend on the posted
 * fields (one page, two forms).
 */
export function formPost(form: FormName | ((data: FormData) => FormName), handle: FormHandler) {
  return async (c: Context<AppEnv>): Promise<Response> => {
    const data = await readForm(c, form);
    if (!data) return messagePage(c, 403, "errors.csrfTitle", "errors.csrf");
    const session = await pageSession(c);
    // Negotiated now, with the account's language: the handler's messages and its page agree.
    await pageTranslator(c, session);
    return handle(c, data, session);
  };
}

/** An account form: signed-out browsers go to the sign-in page instead. */
export function accountPost(form: FormName, handle: (c: Context<AppEnv>, data: FormData, session: PageSession) => Promise<Response>) {
  return formPost(form, (c, data, session) => (session ? handle(c, data, session) : Promise.resolve(toSignIn(c))));
}

/** To the sign-in page, coming back to `returnTo` (a path of this worker) afterwards. */
export function toSignIn(c: Context<AppEnv>, returnTo = DEFAULT_RETURN_TO): Response {
  return c.redirect(`/login?return_to=${encodeURIComponent(returnTo)}`, 303);
}

/** `?notice=` of a page reached by a redirect: a name; the page shows it only if it is one of its fixed messages. */
export function noticeOf(c: Context<AppEnv>): string | null {
  const notice = c.req.query("notice");
  return notice && /^[a-z_]{1,40}$/.test(notice) ? notice : null;
}

/** A checked `return_to` (see return-to.ts), or null. */
export function returnToOf(c: Context<AppEnv>, raw: string | undefined): string | null {
  const { publicUrl, corsOrigins } = c.var.deps.config;
  const own = new URL(c.req.url).origin;
  return safeReturnTo(raw, { ownOrigins: [own, new URL(publicUrl).origin], allowedOrigins: corsOrigins });
}

/** After a sign-in: the checked `return_to`, or the account page (with a notice, if any). */
export function afterSignIn(c: Context<AppEnv>, raw: string | undefined, notice?: NoticeKey): Response {
  const target = returnToOf(c, raw);
  return c.redirect(target ?? `${DEFAULT_RETURN_TO}${notice ? `?notice=${notice}` : ""}`, 303);
}

/** To `path` with a notice (the account page's notices go through account-notices.tsx, which adds their section). */
export function redirectWithNotice(c: Context<AppEnv>, path: string, notice: NoticeKey): Response {
  return c.redirect(`${path}?notice=${notice}`, 303);
}

/**
 * The pages' `onError`: a service failure the handler did not expect becomes a page, not
 * problem+json. A dependency that is down is a 503 with `Retry-After`; anything else is logged and
 * a bland 500, like the API.
 */
export async function pageError(error: unknown, c: Context<AppEnv>): Promise<Response> {
  const requestId = c.get("requestId");
  const dependency = findCause(error, isDependencyError);
  if (dependency) {
    log("error", "dependency.unavailable", { request_id: requestId, dependency: dependency.dependency, ...describeError(error) });
    return messagePage(c, 503, "errors.unavailableTitle", "errors.unavailable", { "Retry-After": "5" });
  }
  log("error", "request.failed", { request_id: requestId, path: c.req.path, ...describeError(error) });
  return messagePage(c, 500, "errors.serverTitle", "errors.server");
}

/**
 * A page that moves the browser on to `url` (a meta refresh, and a link for a browser that ignores
 * it), for a navigation a redirect cannot make: after a form submission, the page's CSP `form-action`
 * governs every redirect, so a 303 to another site is blocked. `refreshHeader` also sends the
 * `Refresh` header, a navigation of its own that no form-action governs.
 */
export async function continuePage(
  c: Context<AppEnv>,
  url: string,
  label: string,
  { refreshHeader = false }: { refreshHeader?: boolean } = {},
): Promise<Response> {
  const frame = await frameFor(c, null);
  return renderPage(
    c,
    frame,
    <Layout frame={frame} title={label}>
      <meta http-equiv="refresh" content={`0;url=${url}`} />
      <p>
        <a href={url}>{label}</a>
      </p>
    </Layout>,
    200,
    refreshHeader ? { Refresh: `0;url=${url}` } : {},
  );
}
