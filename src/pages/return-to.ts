/**
 * Where a page may send the browser after signing in (the HTTP contract "Hosted pages"): only to the
 * worker's own origin or an origin in CORS_ORIGINS. Same-origin targets become relative paths;
 * anything doubtful is refused rather than repaired, and the caller falls back to `/account`.
 */

export const DEFAULT_RETURN_TO = "/account";

const MAX_LENGTH = 2048;
/** Whitespace, control characters and backslashes: browsers strip or reinterpret them in URLs. */
// eslint-disable-next-line no-control-regex -- refusing control characters is the point
const SUSPICIOUS = /[\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200f\u2028-\u202f\u205f\u2060\u3000\ufeff\\]/;

export interface ReturnToPolicy {
  /** The origin the request reached (and PUBLIC_URL's, when it differs). */
  ownOrigins: readonly string[];
  /** CORS_ORIGINS. */
  allowedOrigins: readonly string[];
}

/**
 * A safe redirect target for `raw`, or null: a relative path (`/x?y#z`) for the worker's own
 * origin, an absolute URL for an allowed one. Refused: protocol-relative (`//evil`), scheme-relative
 * (`https:evil`), backslashes, whitespace and control characters, credentials (`https://a@b`),
 * other schemes (`javascript:`), other origins, and paths that normalise to `//…` (`/.//evil`).
 */
export function safeReturnTo(raw: string | undefined | null, policy: ReturnToPolicy): string | null {
  if (!raw || raw.length > MAX_LENGTH || SUSPICIOUS.test(raw)) return null;
  const own = policy.ownOrigins[0];
  if (!own) return null;
  let url: URL;
  if (raw.startsWith("/")) {
    if (raw.startsWith("//")) return null;
    try {
      url = new URL(raw, own);
    } catch {
      return null;
    }
  } else {
    if (!/^https?:\/\/[^/]/i.test(raw)) return null;
    try {
      url = new URL(raw);
    } catch {
      return null;
    }
  }
  if (url.username !== "" || url.password !== "") return null;
  if (policy.ownOrigins.includes(url.origin)) {
    const relative = `${url.pathname}${url.search}${url.hash}`;
    // "/.//evil.test" normalises to "//evil.test", which a browser reads as another host.
    if (!relative.startsWith("/") || relative.startsWith("//")) return null;
    return relative;
  }
  if (policy.allowedOrigins.includes(url.origin)) return url.href;
  return null;
}
