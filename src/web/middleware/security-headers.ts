import { secureHeaders } from "hono/secure-headers";
import { createMiddleware } from "hono/factory";

/**
 * The headers the HTTP contract requires on every response, errors included. The JSON API serves no
 * documents, so the CSP allows nothing at all and forbids framing.
 */
export function createSecurityHeaders() {
  return secureHeaders({
    contentSecurityPolicy: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
    xFrameOptions: "DENY",
    strictTransportSecurity: "max-age=31536000; includeSubDomains",
    referrerPolicy: "no-referrer",
    xContentTypeOptions: true,
    crossOriginResourcePolicy: "same-origin",
    crossOriginOpenerPolicy: "same-origin",
    originAgentCluster: true,
    xDnsPrefetchControl: true,
    xDownloadOptions: true,
    xPermittedCrossDomainPolicies: true,
    xXssProtection: false,
    removePoweredBy: true,
    // A page that needs more than "nothing" (the /docs reference) sets its own, stricter-than-usual CSP.
    overwrite: false,
  });
}

/**
 * Responses carry tokens or user data unless a route says otherwise (the JWKS sets its own
 * public caching), so nothing is cacheable by default.
 */
export function createNoStore() {
  return createMiddleware(async (c, next) => {
    await next();
    if (!c.res.headers.has("Cache-Control")) c.res.headers.set("Cache-Control", "no-store");
  });
}
