import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { AppEnv } from "./context";
import { DEVICE_TOKEN_LIFETIME_MS } from "../devices/device-tokens";
import type { TokenResponse } from "../sessions/sessions";

/**
 * Cookie mode (the HTTP contract "Browser sessions"): a client that sends `Gatehouse-Token-Delivery:
 * cookie` gets its refresh and device tokens in HttpOnly cookies JavaScript cannot read, instead of
 * the JSON body. `__Host-` cookies are bound to this exact host (Secure, Path=/, no Domain);
 * browsers treat http://localhost and *.localhost as secure, so `npm run dev` works as is.
 */
export const REFRESH_COOKIE = "__Host-gh_rt";
export const DEVICE_COOKIE = "__Host-gh_dev";
/** The access token for the site's own server, on COOKIE_DOMAIN; Gatehouse's API never reads it. */
export const ACCESS_COOKIE = "__Secure-gh_at";
export const DELIVERY_HEADER = "Gatehouse-Token-Delivery";

const hostCookie = { httpOnly: true, secure: true, sameSite: "Lax", path: "/" } as const;

export function wantsCookies<E extends AppEnv>(c: Context<E>): boolean {
  return c.req.header(DELIVERY_HEADER)?.trim().toLowerCase() === "cookie";
}

export function refreshCookie<E extends AppEnv>(c: Context<E>): string | undefined {
  return getCookie(c, REFRESH_COOKIE);
}

export function deviceCookie<E extends AppEnv>(c: Context<E>): string | undefined {
  return getCookie(c, DEVICE_COOKIE);
}

/** Puts a sign-in's tokens in cookies; the caller leaves `refresh_token` and `device_token` out of the body. */
export function setSessionCookies<E extends AppEnv>(
  c: Context<E>,
  tokens: {
    refresh_token: string;
    refresh_expires_in: number;
    access_token: string;
    expires_in: number;
    device_token?: string | undefined;
  },
  cookieDomain: string | undefined,
): void {
  setCookie(c, REFRESH_COOKIE, tokens.refresh_token, { ...hostCookie, maxAge: tokens.refresh_expires_in });
  if (tokens.device_token) setDeviceCookie(c, tokens.device_token);
  if (cookieDomain) {
    setCookie(c, ACCESS_COOKIE, tokens.access_token, { ...hostCookie, domain: cookieDomain, maxAge: tokens.expires_in });
  }
}

/** The device cookie, living as long as its token: at a sign-in, or a new token for this browser after a password change. */
export function setDeviceCookie<E extends AppEnv>(c: Context<E>, deviceToken: string): void {
  setCookie(c, DEVICE_COOKIE, deviceToken, { ...hostCookie, maxAge: DEVICE_TOKEN_LIFETIME_MS / 1000 });
}

/** The same refresh cookie with a new lifetime: a page visit that kept its session alive. */
export function extendRefreshCookie<E extends AppEnv>(c: Context<E>, refreshToken: string, maxAge: number): void {
  setCookie(c, REFRESH_COOKIE, refreshToken, { ...hostCookie, maxAge });
}

/** Ends the browser session: the refresh and access cookies go; the device cookie stays (the device is still known). */
export function clearSessionCookies<E extends AppEnv>(c: Context<E>, cookieDomain: string | undefined): void {
  deleteCookie(c, REFRESH_COOKIE, { ...hostCookie });
  if (cookieDomain) deleteCookie(c, ACCESS_COOKIE, { ...hostCookie, domain: cookieDomain });
}

/**
 * The tokens of a sign-in or refresh as the client asked for them: in the body (bearer clients), or
 * with the refresh and device tokens in HttpOnly cookies and out of the body (cookie mode).
 */
export function deliver<E extends AppEnv, T extends TokenResponse & { device_token?: string }>(
  c: Context<E>,
  tokens: T,
  cookieDomain: string | undefined,
) {
  if (!wantsCookies(c)) return tokens;
  setSessionCookies(c, tokens, cookieDomain);
  const body: Omit<T, "refresh_token" | "device_token"> & Partial<Pick<T, "refresh_token" | "device_token">> = { ...tokens };
  delete body.refresh_token;
  delete body.device_token;
  return body;
}
