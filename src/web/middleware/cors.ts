import { createMiddleware } from "hono/factory";
import { readConfig } from "../../config";
import { log } from "../../log";
import type { AppEnv } from "../context";

const ALLOW_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS";
const ALLOW_HEADERS = "Authorization, Content-Type, Gatehouse-Token-Delivery, Gatehouse-Bookmark, X-Request-Id";
const EXPOSE_HEADERS = "X-Request-Id, Retry-After, RateLimit, RateLimit-Policy, WWW-Authenticate, Gatehouse-Bookmark";
const MAX_AGE = "600";

/**
 * What other origins may read: the JSON API, the browser client, discovery (JWKS, OpenID
 * configuration), the OpenAPI document and the health check. The hosted pages (`/login`,
 * `/account`, `/admin`, the reference page…) are never read cross-origin: they answer no CORS at
 * all, so a listed origin's script cannot read a page (its form tokens, the account's data) with
 * the browser's cookies.
 */
const CORS_PATHS = new Set(["/client/v1/gatehouse.js", "/openapi.json", "/health"]);

function answersCors(path: string): boolean {
  return path.startsWith("/api/") || path.startsWith("/.well-known/") || CORS_PATHS.has(path);
}

/**
 * CORS from the one allowlist, `CORS_ORIGINS` (also the cookie-CSRF allowlist and the `return_to`
 * allowlist), on the paths of {@link answersCors} only. A listed origin is echoed (never `*`), with
 * credentials when allowed; any other origin gets no `Access-Control-*` header at all, preflight
 * included, so a browser refuses it. Hono's `cors()` answers every preflight with the allowed
 * methods and headers, whatever the origin, so this is Gatehouse's own.
 */
/**
 * What any origin may read without credentials (API.md v1.2, an exception to the allowlist): the
 * OpenID provider's discovery, keys, token, userinfo and revocation endpoints, which apps on any
 * domain call with no cookie of Gatehouse's.
 */
const OPEN_PATHS = new Set([
  "/.well-known/openid-configuration",
  "/.well-known/oauth-authorization-server",
  "/.well-known/jwks.json",
  "/oauth/token",
  "/oauth/userinfo",
  "/oauth/revoke",
  "/oauth/register",
]);

/** Origins already explained in this isolate: one log line per origin, not one per request. */
const explained = new Set<string>();

/**
 * Dev mode only: a browser refuses an unlisted origin's read with an error only its console shows
 * (a blank page for the developer), so the dev log says which origin and how to allow it. Not in
 * production, where any page on the web may send an Origin and the log would be theirs to fill.
 */
function explainRefusal(origin: string, self: string): void {
  if (origin === "null" || origin === self || explained.has(origin) || explained.size >= 20) return;
  explained.add(origin);
  log("warn", "dev.cors_origin_refused", {
    origin,
    fix: `allow it: npm run dev -- --site ${origin} (or --var CORS_ORIGINS:${origin}; several origins comma-separated)`,
  });
}

export function createCors() {
  return createMiddleware<AppEnv>(async (c, next) => {
    if (OPEN_PATHS.has(c.req.path)) {
      if (c.req.method === "OPTIONS" && c.req.header("access-control-request-method") !== undefined) {
        c.header("Access-Control-Allow-Origin", "*");
        c.header("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
        c.header("Access-Control-Allow-Headers", "Authorization, Content-Type");
        c.header("Access-Control-Max-Age", MAX_AGE);
        return c.body(null, 204);
      }
      await next();
      c.res.headers.set("Access-Control-Allow-Origin", "*");
      c.res.headers.set("Access-Control-Expose-Headers", "WWW-Authenticate, X-Request-Id");
      return;
    }
    if (!answersCors(c.req.path)) return next();
    const config = readConfig(c.env);
    const origin = c.req.header("origin");
    const listed = origin !== undefined && config.corsOrigins.includes(origin);
    if (!listed && origin !== undefined && config.devOutbox) explainRefusal(origin, new URL(c.req.url).origin);
    const preflight = c.req.method === "OPTIONS" && c.req.header("access-control-request-method") !== undefined;
    if (preflight) {
      if (listed) {
        c.header("Access-Control-Allow-Origin", origin);
        if (config.corsAllowCredentials) c.header("Access-Control-Allow-Credentials", "true");
        c.header("Access-Control-Allow-Methods", ALLOW_METHODS);
        c.header("Access-Control-Allow-Headers", ALLOW_HEADERS);
        c.header("Access-Control-Max-Age", MAX_AGE);
      }
      if (config.corsOrigins.length > 0) c.header("Vary", "Origin");
      return c.body(null, 204);
    }
    await next();
    if (config.corsOrigins.length > 0) c.res.headers.append("Vary", "Origin");
    if (!listed) return;
    c.res.headers.set("Access-Control-Allow-Origin", origin);
    if (config.corsAllowCredentials) c.res.headers.set("Access-Control-Allow-Credentials", "true");
    c.res.headers.set("Access-Control-Expose-Headers", EXPOSE_HEADERS);
  });
}
