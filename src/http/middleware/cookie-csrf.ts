import { createMiddleware } from "hono/factory";
import { readConfig } from "../../config";
import { AppError } from "../../errors";
import type { AppEnv } from "../../web/context";
import { DELIVERY_HEADER, REFRESH_COOKIE, wantsCookies } from "../../web/cookies";

/** Routes that read the refresh cookie (the ones a Gatehouse cookie authenticates). */
const COOKIE_AUTHENTICATED = new Set(["/api/v1/auth/refresh", "/api/v1/auth/logout"]);
const SAFE_FETCH_SITES = new Set(["same-origin", "same-site"]);

/**
 * CSRF defence for cookie mode (the HTTP contract). A request that asks for cookie delivery, or that
 * carries the refresh cookie to a route that reads it, must send `Gatehouse-Token-Delivery: cookie`
 * (a custom header no form or simple request can send), an `Origin` that is this worker's own or in
 * `CORS_ORIGINS`, and, when the browser sends it, `Sec-Fetch-Site` of same-origin or same-site;
 * otherwise 403 `csrf_rejected`, whatever the content type. Both checks must pass, not either
 * (which is why Hono's `csrf()`, which also skips JSON bodies, does not fit). Bearer clients that
 * carry no cookie are not affected.
 */
export function createCookieCsrfGuard() {
  return createMiddleware<AppEnv>(async (c, next) => {
    if (c.req.method !== "POST") return next();
    const cookieMode = wantsCookies(c);
    const carriesRefreshCookie = COOKIE_AUTHENTICATED.has(c.req.path) && (c.req.header("cookie") ?? "").includes(`${REFRESH_COOKIE}=`);
    if (!cookieMode && !carriesRefreshCookie) return next();
    if (!cookieMode) throw rejected(`Requests that a Gatehouse cookie authenticates must send ${DELIVERY_HEADER}: cookie.`);
    const origin = c.req.header("origin");
    const own = new URL(c.req.url).origin;
    const { corsOrigins, publicUrl } = readConfig(c.env);
    if (!origin || (origin !== own && origin !== new URL(publicUrl).origin && !corsOrigins.includes(origin))) {
      throw rejected("The request's Origin is not allowed to use cookie sessions.");
    }
    const fetchSite = c.req.header("sec-fetch-site");
    if (fetchSite !== undefined && !SAFE_FETCH_SITES.has(fetchSite)) throw rejected("Cross-site requests cannot use cookie sessions.");
    await next();
  });
}

function rejected(detail: string): AppError {
  return new AppError("csrf_rejected", { detail });
}
