import type { Context } from "hono";
import type { User } from "../db/schema";
import type { AppEnv } from "../web/context";
import { clearSessionCookies, extendRefreshCookie, refreshCookie, setSessionCookies } from "../web/cookies";
import { keepSessionAlive, sessionAmr, sessionFromRefreshToken, type TokenResponse } from "../sessions/sessions";

/**
 * The page session is the API's cookie session (the HTTP contract "Browser sessions"): the same
 * `__Host-gh_rt` refresh cookie and `__Host-gh_dev` device cookie, so the browser client and the
 * pages share one sign-in. A page finds its user by looking the refresh token up without rotating
 * it (rotation is the API's refresh); a visit keeps the session alive at most once a day, moving
 * its last use and the cookie's Max-Age forward, so a browser that only uses the pages stays signed
 * in while it keeps visiting (up to the session's absolute lifetime).
 */
export interface PageSession {
  user: User;
  sessionId: string;
  /** When the session last authenticated, and how (fresh authentication: accounts/fresh-auth.ts). */
  authTime: Date;
  amr: string[];
}

/** The signed-in user of this browser, or null. */
export async function pageSession(c: Context<AppEnv>): Promise<PageSession | null> {
  const token = refreshCookie(c);
  if (!token || token.length > 256) return null;
  const found = await sessionFromRefreshToken(c.var.deps, token);
  if (!found) return null;
  const maxAge = await keepSessionAlive(c.var.deps, found.session);
  if (maxAge !== null) extendRefreshCookie(c, token, maxAge);
  const { session } = found;
  return { user: found.user, sessionId: session.id, authTime: session.authTime ?? session.createdAt, amr: sessionAmr(session) };
}

/** A page sign-in (login, registration): the cookies of cookie mode, nothing in a body. */
export function signInBrowser(c: Context<AppEnv>, tokens: TokenResponse & { device_token?: string }): void {
  setSessionCookies(c, tokens, c.var.deps.config.cookieDomain);
}

export function signOutBrowser(c: Context<AppEnv>): void {
  clearSessionCookies(c, c.var.deps.config.cookieDomain);
}
