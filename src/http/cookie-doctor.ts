import type { Config } from "../config";
import { ACCESS_COOKIE, DELIVERY_HEADER, DEVICE_COOKIE, REFRESH_COOKIE } from "../web/cookies";

/**
 * The cookie doctor (development, or superusers): explains, for the request it receives, which of
 * Gatehouse's cookies a browser would store and send, and why not. Subdomain cookies are the first
 * support question of every auth service; this answers it from the request itself. It names
 * cookies, never their values.
 */
export interface CookieDiagnosis {
  request: { origin: string | null; host: string; secure_context: boolean; sec_fetch_site: string | null; cookie_mode: boolean };
  cookies_received: string[];
  cookies: { name: string; attributes: string; stored: boolean; sent_with_this_request: boolean; why: string[] }[];
  cors: { origin_listed: boolean; credentials: boolean };
  csrf: { cookie_requests_pass: boolean; why: string[] };
  advice: string[];
}

export interface DoctorRequest {
  url: string;
  origin: string | undefined;
  secFetchSite: string | undefined;
  deliveryHeader: string | undefined;
  cookieNames: string[];
}

const isLocalhost = (host: string) => host === "localhost" || host.endsWith(".localhost") || host === "127.0.0.1" || host === "[::1]";

export function diagnoseCookies(
  request: DoctorRequest,
  config: Pick<Config, "corsOrigins" | "corsAllowCredentials" | "cookieDomain" | "publicUrl">,
): CookieDiagnosis {
  const url = new URL(request.url);
  const host = url.hostname;
  const secure = url.protocol === "https:" || isLocalhost(host);
  const crossSite = request.secFetchSite === "cross-site";
  const listed = request.origin !== undefined && config.corsOrigins.includes(request.origin);
  const ownOrigin = request.origin === url.origin || request.origin === new URL(config.publicUrl).origin;
  const advice: string[] = [];

  const hostCookie = (name: string) => {
    const why: string[] = [];
    if (!secure) why.push("Secure cookies are stored only over https (or on localhost / *.localhost); this request is plain http.");
    if (crossSite)
      why.push("SameSite=Lax: a cross-site fetch never carries it; put the app on the same site (a sibling subdomain) or use bearer mode.");
    if (!request.cookieNames.includes(name))
      why.push(
        `Not in this request: none set yet for ${host}, expired, or the request did not include credentials (fetch: credentials: "include").`,
      );
    return {
      name,
      attributes: "HttpOnly; Secure; SameSite=Lax; Path=/ (host-only: this exact host)",
      stored: secure,
      sent_with_this_request: request.cookieNames.includes(name),
      why,
    };
  };
  const cookies = [hostCookie(REFRESH_COOKIE), hostCookie(DEVICE_COOKIE)];
  if (config.cookieDomain) {
    const inDomain = host === config.cookieDomain || host.endsWith(`.${config.cookieDomain}`);
    const why = inDomain ? [] : [`This host is not within COOKIE_DOMAIN (${config.cookieDomain}).`];
    if (!secure) why.push("Secure cookies need https (or localhost).");
    cookies.push({
      name: ACCESS_COOKIE,
      attributes: `HttpOnly; Secure; SameSite=Lax; Path=/; Domain=${config.cookieDomain} (for your own servers)`,
      stored: inDomain && secure,
      sent_with_this_request: request.cookieNames.includes(ACCESS_COOKIE),
      why,
    });
  } else {
    advice.push(
      `Set COOKIE_DOMAIN (a parent of ${new URL(config.publicUrl).hostname}) if your own servers should receive the access token as ${ACCESS_COOKIE}.`,
    );
  }

  const csrfWhy: string[] = [];
  const cookieMode = request.deliveryHeader?.trim().toLowerCase() === "cookie";
  if (!cookieMode) csrfWhy.push(`Send ${DELIVERY_HEADER}: cookie with every cookie-mode request.`);
  if (!request.origin) csrfWhy.push("No Origin header: cookie-mode requests must come from a page (fetch sends Origin on POST).");
  else if (!ownOrigin && !listed) csrfWhy.push(`Origin ${request.origin} is not this worker's and not in CORS_ORIGINS.`);
  if (request.secFetchSite !== undefined && !["same-origin", "same-site"].includes(request.secFetchSite)) {
    csrfWhy.push(`Sec-Fetch-Site is ${request.secFetchSite}; only same-origin or same-site may use cookie sessions.`);
  }
  if (request.origin && !ownOrigin && !listed)
    advice.push(`Add ${request.origin} to CORS_ORIGINS (the one allowlist for CORS, cookie CSRF and return_to).`);
  if (listed && !config.corsAllowCredentials) advice.push("CORS_ALLOW_CREDENTIALS is false: browsers will not send cookies cross-origin.");

  return {
    request: {
      origin: request.origin ?? null,
      host,
      secure_context: secure,
      sec_fetch_site: request.secFetchSite ?? null,
      cookie_mode: cookieMode,
    },
    cookies_received: request.cookieNames.filter((n) => n.startsWith("__Host-gh_") || n.startsWith("__Secure-gh_")),
    cookies,
    cors: { origin_listed: listed, credentials: listed && config.corsAllowCredentials },
    csrf: { cookie_requests_pass: csrfWhy.length === 0, why: csrfWhy },
    advice,
  };
}
