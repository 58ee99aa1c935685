import type { Context } from "hono";
import type { AppEnv } from "../web/context";
import { describeError, log } from "../log";
import { findCause, isDependencyError } from "../errors";
import type { FormName } from "./csrf";
import { readForm, type FormData } from "./forms";
import { frameFor, Layout, renderPage } from "./kit";
import { DEFAULT_RETURN_TO, safeReturnTo } from "./return-to";
import { pageSession, type PageSession } from "./session";
import { isNoticeKey, strings as s, type NoticeKey } from "./strings";

/** Shared steps of the page handlers: refusing forged forms, redirects, notices, error pages. */

/** A page that only says something went wrong, with a way back. */
export async function messagePage(
  c: Context<AppEnv>,
  status: number,
  title: string,
  message: string,
  headers: Record<string, string> = {},
) {
  const frame = await frameFor(c, null);
  return renderPage(
    c,
    frame,
    <Layout frame={frame} title={title} failed>
      <div class="alert" role="alert">
        <p>{message}</p>
      </div>
      <p>
        <a href="/login">{s.errors.back}</a>
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
    if (!data) return messagePage(c, 403, s.errors.csrfTitle, s.errors.csrf);
    return handle(c, data, await pageSession(c));
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

/** `?notice=` of a page reached by a redirect: only the fixed messages in strings.ts. */
export function noticeOf(c: Context<AppEnv>): NoticeKey | null {
  const notice = c.req.query("notice");
  return isNoticeKey(notice) ? notice : null;
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

export function redirectWithNotice(c: Context<AppEnv>, path: string, notice: NoticeKey, anchor = ""): Response {
  return c.redirect(`${path}?notice=${notice}${anchor}`, 303);
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
    return messagePage(c, 503, s.errors.serverTitle, s.errors.unavailable, { "Retry-After": "5" });
  }
  log("error", "request.failed", { request_id: requestId, path: c.req.path, ...describeError(error) });
  return messagePage(c, 500, s.errors.serverTitle, s.errors.server);
}
