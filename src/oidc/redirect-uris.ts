/**
 * Redirect URIs of OAuth clients (API.md v1.2, RFC 8252 and OAuth 2.1): https, a loopback `http:`
 * (native apps), or a private-use scheme (`com.example.app:/callback`); never `javascript:`,
 * `data:`, `file:`, a fragment, or `http:` to anything but a loopback address. Matching is exact,
 * except the port of a loopback IP literal, which a native app picks at run time.
 */

const LOOPBACK_IPS = new Set(["127.0.0.1", "[::1]"]);
const FORBIDDEN_SCHEMES = new Set(["javascript:", "data:", "file:", "vbscript:", "blob:", "about:"]);

/** What is wrong with a redirect URI a client registers, or null. */
export function redirectUriProblem(uri: string): string | null {
  if (uri.length > 2000) return "is too long";
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return "is not an absolute URI";
  }
  if (url.hash || uri.includes("#")) return "has a fragment";
  if (FORBIDDEN_SCHEMES.has(url.protocol)) return `uses the ${url.protocol} scheme`;
  if (url.protocol === "https:") return url.username || url.password ? "carries credentials" : null;
  if (url.protocol === "http:")
    return LOOPBACK_IPS.has(url.hostname) || url.hostname === "localhost" ? null : "uses http: to a host that is not loopback";
  // A private-use scheme: reverse domain notation (RFC 8252 7.1), so it names the app's own domain.
  return /^[a-z][a-z0-9+-]*(\.[a-z0-9+-]+)+:$/.test(url.protocol)
    ? null
    : "uses a scheme that is not https, loopback http or a reverse-domain private-use scheme";
}

/** Whether `requested` is one of the client's registered redirect URIs. */
export function redirectUriMatches(registered: readonly string[], requested: string): boolean {
  if (registered.includes(requested)) return true;
  let url: URL;
  try {
    url = new URL(requested);
  } catch {
    return false;
  }
  if (url.protocol !== "http:" || !LOOPBACK_IPS.has(url.hostname)) return false;
  const withoutPort = (u: URL) => `${u.protocol}//${u.hostname}${u.pathname}${u.search}`;
  return registered.some((r) => URL.canParse(r) && new URL(r).protocol === "http:" && withoutPort(new URL(r)) === withoutPort(url));
}
