// `npm run dev -- --site <origin>`: the variables that make the dev server the auth subdomain of a
// local site (Gatehouse on auth.example.localhost beside app.example.localhost), kept free of I/O so
// the node tests can check it. dev-args.mjs takes the flag out before wrangler sees the rest.

/** An argument error: dev.mjs prints it and stops before wrangler starts. */
export class SiteError extends Error {}

/**
 * Takes `--site <url>` / `--site=<url>` out of the arguments (only before a `--`, which ends the
 * flags wrangler reads).
 * @param {string[]} argv
 * @returns {{ argv: string[], site: string | undefined }}
 */
export function takeSiteFlag(argv) {
  const end = argv.includes("--") ? argv.indexOf("--") : argv.length;
  /** @type {string[]} */
  const rest = [];
  /** @type {string | undefined} */
  let site;
  for (let i = 0; i < argv.length; i++) {
    const word = /** @type {string} */ (argv[i]);
    if (i < end && (word === "--site" || word.startsWith("--site="))) {
      if (site !== undefined) throw new SiteError("Give --site once (one site per dev server; CORS_ORIGINS takes more).");
      site = word.includes("=") ? word.slice("--site=".length) : argv[++i];
      if (site === undefined || site.startsWith("-"))
        throw new SiteError("--site needs your site's URL, e.g. --site http://app.example.localhost:5173");
      continue;
    }
    rest.push(word);
  }
  return { argv: rest, site };
}

/**
 * What `--site` sets, for a site at `site` and a dev server on `port`:
 *
 * - Gatehouse answers as `auth.<the site's parent domain>` (`app.example.localhost` → `auth.example.localhost`),
 *   same site as the app, so cookie mode's SameSite cookies travel; `*.localhost` names are loopback
 *   in browsers (RFC 6761) and secure contexts, so Secure cookies and passkeys work over plain http.
 * - PUBLIC_URL and JWT_ISSUER name that URL; CORS_ORIGINS allows the site (CORS, cookie-mode CSRF,
 *   `return_to`); WEBAUTHN_RP_ID is the parent domain, so a passkey works on both subdomains.
 * - DEV_LOOPBACK_LIMITS relaxes the per-address limits for the developer's own loopback address.
 *
 * @param {string} site the site's URL, e.g. http://app.example.localhost:5173
 * @param {string} port the dev server's port
 * @returns {{ origin: string, authUrl: string, rpId: string, vars: Record<string, string> }}
 */
export function siteSetup(site, port) {
  if (!URL.canParse(site)) throw new SiteError(`--site must be a URL like http://app.example.localhost:5173, not ${site}.`);
  const url = new URL(site);
  if (!/^https?:$/.test(url.protocol)) throw new SiteError(`--site must be an http(s) URL, not ${site}.`);
  const host = url.hostname;
  if (host !== "localhost" && !host.endsWith(".localhost")) {
    throw new SiteError(
      `--site is for a site on this machine under a localhost name (like http://app.example.localhost:5173), not ${url.origin}: ` +
        "browsers bind cookies and passkeys to names, and *.localhost names always mean this machine. " +
        "For a deployed site, set PUBLIC_URL, JWT_ISSUER and CORS_ORIGINS in wrangler.toml (docs/browser-sites.md).",
    );
  }
  if (port === "0") throw new SiteError("--site needs a known port: give --port <number>, not 0.");
  const labels = host.split(".");
  // app.example.localhost → example.localhost; app.localhost → localhost; localhost → localhost (ports differ).
  const parent = labels.length > 1 ? labels.slice(1).join(".") : host;
  const authHost = host === "localhost" ? "localhost" : `auth.${parent}`;
  if (host === "localhost" && url.port === port)
    throw new SiteError(`--site ${url.origin}: Gatehouse itself listens on port ${port}; give it another with --port.`);
  if (host !== "localhost" && authHost === host)
    throw new SiteError(`--site ${url.origin}: that is where Gatehouse would answer; run your site on another name, like app.${parent}.`);
  const authUrl = `http://${authHost}:${port}`;
  return {
    origin: url.origin,
    authUrl,
    rpId: parent,
    vars: {
      PUBLIC_URL: authUrl,
      JWT_ISSUER: authUrl,
      CORS_ORIGINS: url.origin,
      WEBAUTHN_RP_ID: parent,
      DEV_LOOPBACK_LIMITS: "relaxed",
    },
  };
}
