import { getCookie } from "hono/cookie";
import { createMiddleware } from "hono/factory";
import { readConfig } from "../../config";
import { LANGUAGE_COOKIE, negotiate, type Locale } from "../../i18n";
import { matchedRoutes } from "hono/route";
import { createDeps, type RequestPlace } from "../../kernel/deps";
import { log } from "../../log";
import { BOOKMARK_HEADER, type AppEnv } from "../context";

/** What a D1 bookmark looks like (opaque, short, printable); anything else is ignored. */
const BOOKMARK = /^[\w.:-]{1,128}$/;

/**
 * Builds the per-request service dependencies (with the caller's metadata) and, once the response
 * is ready, writes the request's one log line (every request, or only refusals and failures: REQUEST_LOG). The client IP comes only from `CF-Connecting-IP`
 * (set by Cloudflare); X-Forwarded-For and friends are client-controlled and ignored.
 *
 * The line names the route pattern, never the URL: mailed tokens travel in query strings.
 */
export function createRequestContext() {
  return createMiddleware<AppEnv>(async (c, next) => {
    const started = Date.now();
    let waitUntil: (p: Promise<unknown>) => void;
    try {
      const ctx = c.executionCtx;
      waitUntil = (p) => ctx.waitUntil(p);
    } catch {
      // No execution context (a direct app.fetch in a unit test): keep the promise alive ourselves.
      waitUntil = (p) => void p.catch(() => undefined);
    }
    const bookmark = c.req.header(BOOKMARK_HEADER);
    // Where the client is and which language it reads: worked out on first use, since most requests
    // (a token check, an API call) need neither, and `request.cf` is parsed anew on each access.
    let place: RequestPlace | null | undefined;
    let locale: Locale | undefined;
    const deps = createDeps(c.env, {
      waitUntil,
      bookmark: bookmark && BOOKMARK.test(bookmark) ? bookmark : null,
      meta: {
        ip: c.req.header("cf-connecting-ip")?.trim().slice(0, 64) || null,
        userAgent: c.req.header("user-agent")?.slice(0, 512) ?? null,
        requestId: c.get("requestId"),
        get place() {
          return (place ??= placeOf(c.req.raw.cf));
        },
        get locale() {
          return (locale ??= negotiate(
            { cookie: getCookie(c, LANGUAGE_COOKIE), acceptLanguage: c.req.header("accept-language") },
            readConfig(c.env).defaultLocale,
          ));
        },
      },
    });
    c.set("deps", deps);
    try {
      await next();
    } finally {
      // Read your own writes elsewhere too: a client that sends this back gets replicas at least this new.
      const caller = c.get("principal")?.user ?? c.get("enrolment")?.user;
      const written = deps.replicas.settle(caller?.id ?? null);
      if (written !== null) {
        try {
          c.res.headers.set(BOOKMARK_HEADER, written);
        } catch {
          // A response with immutable headers (none of ours today) goes out without it.
        }
      }
      const { calls, roundTrips } = deps.meter;
      if (deps.config.requestLog === "all" || c.res.status >= 400)
        log("info", "request", {
          method: c.req.method,
          route: matchedRoutes(c).findLast((r) => r.method !== "ALL")?.path ?? null,
          status: c.res.status,
          duration_ms: Date.now() - started,
          request_id: deps.meta.requestId,
          client_request_id: c.get("clientRequestId") ?? null,
          user_id: caller?.id ?? null,
          storage: { ...calls, round_trips: roundTrips },
        });
    }
  });
}

/** Cloudflare's location fields (strings in `request.cf`, absent locally unless a test sets them). */
function placeOf(cf: Record<string, unknown> | undefined): RequestPlace | null {
  if (!cf) return null;
  const text = (v: unknown, max: number) => (typeof v === "string" && v !== "" ? v.slice(0, max) : null);
  const number = (v: unknown) => {
    const n = typeof v === "number" ? v : typeof v === "string" && v !== "" ? Number(v) : Number.NaN;
    return Number.isFinite(n) ? n : null;
  };
  return {
    country: text(cf.country, 2),
    city: text(cf.city, 80),
    latitude: number(cf.latitude),
    longitude: number(cf.longitude),
    timezone: text(cf.timezone, 64),
    asn: number(cf.asn),
  };
}
