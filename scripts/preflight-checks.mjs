// The decisions of `npm run preflight` (scripts/preflight.mjs), free of I/O so the node tests can
// run them on fixture configs: a parsed wrangler.toml, the environment name, and the names of the
// secrets the deployed worker has.

/** @typedef {{ mode?: string, error?: string }} ReplicationFinding */

/** The ids wrangler.toml ships with: they work locally and nowhere else. */
export const PLACEHOLDER_IDS = ["00000000-0000-0000-0000-000000000000", "00000000000000000000000000000000"];

/**
 * What wrangler deploys for `envName`: `vars`, D1, KV and queues are not inherited by an
 * `[env.<name>]` table (wrangler's rule), so an environment has only what it declares itself.
 * @param {Record<string, any>} config parsed wrangler.toml
 * @param {string | undefined} envName
 */
export function resolveEnv(config, envName) {
  if (!envName) return { name: config.name, vars: config.vars ?? {}, d1: config.d1_databases ?? [], kv: config.kv_namespaces ?? [] };
  const env = config.env?.[envName];
  if (!env) throw new Error(`wrangler.toml has no [env.${envName}]`);
  return { name: env.name ?? `${config.name}-${envName}`, vars: env.vars ?? {}, d1: env.d1_databases ?? [], kv: env.kv_namespaces ?? [] };
}

/**
 * Whether a URL is one the public can reach safely: https, and not a loopback or `*.localhost` name.
 * @param {string} value
 */
function publicUrlProblem(value) {
  let url;
  try {
    url = new URL(value);
  } catch {
    return "is not a URL";
  }
  if (url.protocol !== "https:") return "is not https";
  const host = url.hostname;
  if (host === "localhost" || host.endsWith(".localhost") || host === "[::1]" || host === "0.0.0.0" || /^127\./.test(host)) {
    return "points at this machine (localhost/loopback)";
  }
  return undefined;
}

/**
 * @typedef {{ what: string, fix: string }} Problem
 * @typedef {{ problems: Problem[], notes: string[] }} Report
 */

/**
 * @typedef {object} LanguageFindings what preflight.mjs found about the message catalogues
 * @property {string[]} locales the shipped locales (assets/locales/<locale>.json)
 * @property {Record<string, string[]>} shipped each shipped catalogue's problems against the English source
 * @property {Record<string, string[]> | null} overrides each locale's problems with the operator's
 *   overrides in the deployed AUTH_KV (`i18n:overrides:<locale>`); null when they could not be read
 * @property {string} [overridesError] why they could not be read
 */

/**
 * Checks a deploy before it happens. `secrets` are the names `wrangler secret list` gave, or
 * `null` when the list could not be read (`secretsError` says why): every needed secret is then a
 * problem, since nothing proves it is there. `languages`, when given, are the catalogues' findings.
 * @param {Record<string, any>} config parsed wrangler.toml
 * `replication`, when given, is what `wrangler d1 info` said of the database's read replication.
 * @param {{ envName?: string, secrets: string[] | null, secretsError?: string, languages?: LanguageFindings, replication?: ReplicationFinding }} options
 * @returns {Report}
 */
export function checkDeploy(config, { envName, secrets, secretsError, languages, replication }) {
  const target = resolveEnv(config, envName);
  const where = envName ? `[env.${envName}.vars]` : "[vars]";
  const vars = /** @type {Record<string, unknown>} */ (target.vars);
  const str = (/** @type {string} */ name) => (typeof vars[name] === "string" && vars[name] !== "" ? String(vars[name]) : undefined);
  /** @type {Problem[]} */
  const problems = [];
  /** @type {string[]} */
  const notes = [];

  // URLs: the token issuer, the worker's own address, and where mailed links go.
  for (const name of ["JWT_ISSUER", "PUBLIC_URL"]) {
    const value = str(name) ?? "http://localhost:8787";
    const problem = publicUrlProblem(value);
    if (problem)
      problems.push({ what: `${name} = "${value}" ${problem}`, fix: `set ${name} = "https://auth.your-domain.example" in ${where}` });
  }
  const appUrl = str("APP_URL");
  const appProblem = appUrl && publicUrlProblem(appUrl);
  if (appProblem)
    problems.push({ what: `APP_URL = "${appUrl}" ${appProblem}`, fix: `set APP_URL to your site's https URL in ${where}, or remove it` });

  // Storage ids: the placeholders only work locally.
  const d1 = target.d1.find((/** @type {any} */ d) => d.binding === "DB");
  if (!d1?.database_id || PLACEHOLDER_IDS.includes(d1.database_id)) {
    problems.push({
      what: `D1 database DB has ${d1?.database_id ? "the placeholder id" : "no database_id"}`,
      fix: "run `npm run provision` (or `npx wrangler d1 create gatehouse` and put the id in database_id)",
    });
  }
  // Read replication: without it every "near" read (token checks, API keys, a login's account) is a
  // trip to the primary, which far users pay on every request.
  if (replication?.error) {
    problems.push({
      what: `could not check D1 read replication (${replication.error})`,
      fix: "log in with `npx wrangler login` and run again, or pass --force",
    });
  } else if (replication && replication.mode !== "auto") {
    problems.push({
      what: `D1 read replication is ${replication.mode ?? "off"}: token checks, API-key requests and logins far from the primary each pay a far round trip`,
      fix: "run `npm run provision` (it switches replication on), or enable it in the dashboard: D1 → the database → Settings → Read replication",
    });
  }
  const kv = target.kv.find((/** @type {any} */ k) => k.binding === "AUTH_KV");
  if (!kv?.id || PLACEHOLDER_IDS.includes(kv.id)) {
    problems.push({
      what: `KV namespace AUTH_KV has ${kv?.id ? "the placeholder id" : "no id"}`,
      fix: "run `npm run provision` (or `npx wrangler kv namespace create AUTH_KV` and put the id in id)",
    });
  }

  // Mail: without a transport, verification and reset mail is silently dropped.
  if (str("DEV_OUTBOX") === "true" || str("DEV_OUTBOX") === "1") {
    problems.push({
      what: "DEV_OUTBOX is on: mail would go to a readable outbox instead of being sent",
      fix: `remove DEV_OUTBOX from ${where}`,
    });
  }
  if (str("DEV_LOOPBACK_LIMITS") !== undefined) {
    problems.push({
      what: "DEV_LOOPBACK_LIMITS is set: it relaxes per-address limits for local development only (the worker refuses to start with it outside dev mode)",
      fix: `remove DEV_LOOPBACK_LIMITS from ${where}`,
    });
  }
  if (str("MAIL_TRANSPORT") !== "http") {
    problems.push({
      what: `MAIL_TRANSPORT is "${str("MAIL_TRANSPORT") ?? "none"}": no verification or reset mail would be sent`,
      fix: `set MAIL_TRANSPORT = "http" and MAIL_FROM in ${where}, and the MAIL_API_KEY secret`,
    });
  }
  const from = str("MAIL_FROM") ?? "Gatehouse <no-reply@localhost>";
  if (/@localhost>?$/.test(from))
    problems.push({
      what: `MAIL_FROM = "${from}" is not a real sender`,
      fix: `set MAIL_FROM = "Your Site <no-reply@your-domain.example>" in ${where}`,
    });

  // Secrets the configuration needs.
  /** @type {{ name: string, why: string, fix: string }[]} */
  const needed = [];
  if (str("MAIL_TRANSPORT") === "http") needed.push({ name: "MAIL_API_KEY", why: "MAIL_TRANSPORT is http", fix: "your mail API key" });
  if (str("WEBHOOK_URL"))
    needed.push({ name: "WEBHOOK_SECRET", why: "WEBHOOK_URL is set", fix: "`echo whsec_$(openssl rand -base64 32)`" });
  const has = (/** @type {string} */ name) => secrets?.includes(name) ?? false;
  const signingKeys = str("SIGNING_KEYS");
  if (signingKeys === "generated") {
    needed.push({ name: "SIGNING_KEY_ENCRYPTION_SECRET", why: 'SIGNING_KEYS is "generated"', fix: "`openssl rand -base64 32`" });
  } else if (secrets === null || !has("JWT_PRIVATE_JWKS")) {
    problems.push({
      what: secrets === null ? "no way to tell whether JWT_PRIVATE_JWKS is set" : "no signing key: the JWT_PRIVATE_JWKS secret is not set",
      fix: `set the JWT_PRIVATE_JWKS secret (docs/sessions-and-tokens.md#signing-keys), or opt in to generated keys: SIGNING_KEYS = "generated" in ${where} and the SIGNING_KEY_ENCRYPTION_SECRET secret`,
    });
  }
  for (const secret of needed) {
    if (!has(secret.name)) {
      problems.push({
        what: `${secret.why}, but the ${secret.name} secret is ${secrets === null ? "unchecked" : "not set"}`,
        fix: `npx wrangler secret put ${secret.name}${envName ? ` --env ${envName}` : ""}   # ${secret.fix}`,
      });
    }
  }
  if (secrets === null) {
    problems.push({
      what: `could not list the deployed secrets (${secretsError ?? "wrangler secret list failed"})`,
      fix: "log in with `npx wrangler login` (a first deploy: `wrangler secret put` creates the worker), or pass --force",
    });
  }

  if (languages) checkLanguages(languages, str("DEFAULT_LOCALE") ?? "en", where, problems, notes);

  // Features that are a choice: say where each one stands.
  const breached = str("BREACHED_PASSWORD_CHECK") ?? "off";
  notes.push(
    breached === "off"
      ? `breached-password check: off (set BREACHED_PASSWORD_CHECK = "register" in ${where} to refuse known-breached passwords)`
      : `breached-password check: ${breached}, against ${str("HIBP_API_URL") ?? "https://api.pwnedpasswords.com/range/"}`,
  );
  const siteKey = str("TURNSTILE_SITE_KEY") ? "set" : "unset";
  const turnstileSecret = secrets === null ? "unknown" : has("TURNSTILE_SECRET") ? "set" : "unset";
  notes.push(`Turnstile: TURNSTILE_SITE_KEY ${siteKey}, TURNSTILE_SECRET ${turnstileSecret}`);
  for (const [name, why] of [
    ["PASSWORD_PEPPER", "an HMAC key mixed into every password hash"],
    ["API_KEY_HMAC_SECRET", "API-key hashes keyed with a secret"],
  ]) {
    if (secrets !== null && !has(/** @type {string} */ (name)))
      notes.push(`${name} is not set (recommended: ${why}; set it before the first user, see docs/operations.md#deploying-to-cloudflare)`);
  }
  const iterations = Number(str("PBKDF2_ITERATIONS") ?? 100_000);
  notes.push(
    `PBKDF2_ITERATIONS ${iterations}: about ${Math.round((18 * iterations) / 100_000)} ms of CPU per login${iterations * 18 > 10 * 100_000 ? " (above the Free plan's 10 ms: needs Workers Paid)" : ""}`,
  );
  // The second factors: what their configuration decides.
  checkRelyingParty(str("WEBAUTHN_RP_ID"), str("PUBLIC_URL") ?? "http://localhost:8787", where, problems, notes);
  if (secrets !== null && !has("SIGNING_KEY_ENCRYPTION_SECRET")) {
    notes.push(
      "authenticator apps (TOTP) are off until the SIGNING_KEY_ENCRYPTION_SECRET secret is set (their secrets are stored encrypted with it)",
    );
  }
  // Gatehouse as an OpenID provider: its issuer is PUBLIC_URL, so it runs only where JWT_ISSUER says the same.
  const issuer = (str("JWT_ISSUER") ?? "http://localhost:8787").replace(/\/+$/, "");
  const publicUrl = (str("PUBLIC_URL") ?? "http://localhost:8787").replace(/\/+$/, "");
  notes.push(
    issuer === publicUrl
      ? `OpenID provider: on, issuer ${publicUrl} (register clients with POST /api/v1/admin/oauth/clients)`
      : `OpenID provider: off, because JWT_ISSUER (${issuer}) differs from PUBLIC_URL (${publicUrl}); set them equal in ${where} to serve other apps`,
  );
  checkOAuthProviders(str("OAUTH_PROVIDERS"), str("PUBLIC_URL") ?? "http://localhost:8787", { secrets, where, problems, notes });
  const mfaRequired = str("MFA_REQUIRED") ?? "off";
  if (!["off", "superusers", "all"].includes(mfaRequired)) {
    problems.push({
      what: `MFA_REQUIRED = "${mfaRequired}" is not off, superusers or all`,
      fix: `set MFA_REQUIRED to off, superusers or all in ${where}`,
    });
  } else if (mfaRequired !== "off") {
    notes.push(
      `MFA_REQUIRED=${mfaRequired}: ${mfaRequired === "all" ? "every account" : "every superuser"} without a second factor enrols one at its next sign-in; GET /api/v1/admin/users?mfa=none lists who has not yet`,
    );
  }
  return { problems, notes };
}

const PRESETS = ["google", "github", "apple", "microsoft"];
const DEV_ONLY = ["authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri"];

/**
 * OAUTH_PROVIDERS as a deploy sees it (the worker checks every field again where it reads its
 * configuration, and refuses to start on a bad entry): JSON, known types, unique ids, no dev-only
 * endpoint overrides, a client secret for every entry that needs one (in the OAUTH_CLIENT_SECRETS
 * secret, not a readable var), and the redirect URI each provider must have registered.
 * @param {string | undefined} raw
 * @param {string} publicUrl
 * @param {{ secrets: string[] | null, where: string, problems: Problem[], notes: string[] }} out
 */
function checkOAuthProviders(raw, publicUrl, { secrets, where, problems, notes }) {
  if (!raw) return;
  /** @type {unknown} */
  let parsed;
  try {
    parsed = JSON.parse(raw);
  } catch {
    problems.push({
      what: "OAUTH_PROVIDERS is not JSON",
      fix: `set OAUTH_PROVIDERS to a JSON array of provider entries in ${where} (docs/sign-in-methods.md#external-providers)`,
    });
    return;
  }
  if (!Array.isArray(parsed)) {
    problems.push({
      what: "OAUTH_PROVIDERS is not a JSON array",
      fix: `set OAUTH_PROVIDERS to a JSON array of provider entries in ${where}`,
    });
    return;
  }
  const seen = new Set();
  let needsSecret = false;
  parsed.forEach((/** @type {any} */ entry, index) => {
    const id = typeof entry?.id === "string" ? entry.id : undefined;
    const name = `OAUTH_PROVIDERS[${index}]${id ? ` ("${id}")` : ""}`;
    const type = entry?.type ?? (PRESETS.includes(id ?? "") ? id : undefined);
    if (!id || !/^[a-z][a-z0-9_-]{0,31}$/.test(id))
      problems.push({ what: `${name} has no valid id`, fix: "give it an id matching ^[a-z][a-z0-9_-]{0,31}$" });
    else if (seen.has(id)) problems.push({ what: `${name} repeats an id`, fix: "make every id unique" });
    seen.add(id);
    if (![...PRESETS, "oidc"].includes(type)) {
      problems.push({ what: `${name} has no known type`, fix: `use a preset id (${PRESETS.join(", ")}) or "type": "oidc" with an issuer` });
      return;
    }
    if (typeof entry.client_id !== "string" || entry.client_id === "")
      problems.push({ what: `${name} has no client_id`, fix: "copy the client id from the provider's console" });
    const overrides = DEV_ONLY.filter((key) => key in entry).concat(type !== "oidc" && "issuer" in entry ? ["issuer"] : []);
    if (overrides.length) {
      problems.push({
        what: `${name} overrides ${overrides.join(", ")}: for loopback fakes in dev mode only`,
        fix: `remove ${overrides.join(", ")} from the entry`,
      });
    }
    if (type === "oidc" && !String(entry.issuer ?? "").startsWith("https://")) {
      problems.push({ what: `${name} needs an https issuer`, fix: "set issuer to the provider's https issuer (its discovery document's)" });
    }
    if (type === "microsoft" && entry.link_by_verified_email) {
      problems.push({
        what: `${name} sets link_by_verified_email: Microsoft's email is never verified`,
        fix: "remove link_by_verified_email",
      });
    }
    if ("client_secret" in entry || "private_key" in entry) {
      problems.push({
        what: `${name} has its secret in a readable var`,
        fix: `move it to the OAUTH_CLIENT_SECRETS secret ({"${id}": "…"})`,
      });
    } else if (type !== "oidc") needsSecret = true;
    if (id)
      notes.push(`${id}: register the redirect URI ${publicUrl.replace(/\/+$/, "")}/api/v1/auth/oauth/${id}/callback with the provider`);
  });
  if (needsSecret && secrets !== null && !secrets.includes("OAUTH_CLIENT_SECRETS")) {
    problems.push({
      what: "OAUTH_PROVIDERS names providers that need a client secret, but the OAUTH_CLIENT_SECRETS secret is not set",
      fix: `npx wrangler secret put OAUTH_CLIENT_SECRETS   # {"<id>": "<client secret>", "apple": "<the .p8 key's PEM>"}`,
    });
  }
}

/**
 * Passkeys' relying party: a domain (never an IP address or a single label), PUBLIC_URL's host or a
 * parent of it. The worker refuses a bad one at start; here the deploy hears it first, and is told
 * that the choice is for good (passkeys are bound to it).
 * @param {string | undefined} configured
 * @param {string} publicUrl
 * @param {string} where
 * @param {Problem[]} problems
 * @param {string[]} notes
 */
function checkRelyingParty(configured, publicUrl, where, problems, notes) {
  // A PUBLIC_URL with a problem of its own is reported above; the RP ID follows from a good one.
  if (publicUrlProblem(publicUrl)) return;
  const host = new URL(publicUrl).hostname;
  const id = (configured ?? host).toLowerCase();
  const ip = /^\d{1,3}(\.\d{1,3}){3}$/.test(id) || id.includes(":") || id.startsWith("[");
  const within = host === id || host.endsWith(`.${id}`);
  if (ip || (!id.includes(".") && id !== "localhost") || !within) {
    problems.push({
      what: `WEBAUTHN_RP_ID = "${id}" is not a domain equal to PUBLIC_URL's host (${host}) or a parent of it`,
      fix: `set WEBAUTHN_RP_ID = "${host.split(".").slice(-2).join(".")}" (or remove it) in ${where}`,
    });
    return;
  }
  notes.push(`passkeys: relying party "${id}"; changing WEBAUTHN_RP_ID later orphans every passkey registered under it`);
}

/**
 * The languages: DEFAULT_LOCALE one of the shipped ones, every shipped catalogue complete, and the
 * operator's overrides in KV valid (an invalid one is dropped at run time with a warning: the
 * deploy would not show what the operator meant).
 * @param {LanguageFindings} languages
 * @param {string} defaultLocale
 * @param {string} where
 * @param {Problem[]} problems
 * @param {string[]} notes
 */
function checkLanguages(languages, defaultLocale, where, problems, notes) {
  if (!languages.locales.includes(defaultLocale)) {
    problems.push({
      what: `DEFAULT_LOCALE = "${defaultLocale}" is not a shipped language`,
      fix: `set DEFAULT_LOCALE to one of ${languages.locales.join(", ")} in ${where}`,
    });
  }
  for (const [locale, found] of Object.entries(languages.shipped)) {
    problems.push({
      what: `assets/locales/${locale}.json: ${found.slice(0, 5).join("; ")}${found.length > 5 ? ` (and ${found.length - 5} more)` : ""}`,
      fix: "run `npm run i18n -- check` and give every message of src/i18n/en.ts, with its placeholders",
    });
  }
  if (languages.overrides === null) {
    notes.push(`message overrides: not checked (${languages.overridesError ?? "AUTH_KV could not be read"})`);
    return;
  }
  const overridden = Object.keys(languages.overrides);
  for (const [locale, found] of Object.entries(languages.overrides)) {
    if (found.length === 0) continue;
    problems.push({
      what: `overrides of ${locale} in AUTH_KV: ${found.slice(0, 5).join("; ")}${found.length > 5 ? ` (and ${found.length - 5} more)` : ""}`,
      fix: `fix the file and put it again: npm run i18n -- override ${locale} <file.json> --remote`,
    });
  }
  notes.push(
    `languages: ${languages.locales.length} shipped, default ${defaultLocale}; overrides for ${overridden.length ? overridden.join(", ") : "none"}`,
  );
}

/**
 * The report as printed, and whether the deploy may go ahead.
 * @param {Report} report
 * @param {{ force: boolean, target: string }} options
 * @returns {{ text: string, ok: boolean }}
 */
export function formatReport({ problems, notes }, { force, target }) {
  const lines = [`Deploy preflight for ${target}`];
  if (problems.length === 0) lines.push("", "No problems found.");
  else {
    lines.push("", `${problems.length} problem${problems.length === 1 ? "" : "s"}:`);
    for (const p of problems) lines.push(`  ✗ ${p.what}`, `      → ${p.fix}`);
  }
  lines.push("", "Settings:", ...notes.map((n) => `  · ${n}`));
  if (problems.length > 0) {
    lines.push(
      "",
      force ? "--force: going ahead despite the problems above." : "Refusing to deploy. Fix the above, or pass --force to deploy anyway.",
    );
  }
  return { text: lines.join("\n"), ok: problems.length === 0 || force };
}

/**
 * Secret names from `wrangler secret list --format json` (`[{"name":…,"type":"secret_text"},…]`).
 * @param {string} stdout
 * @returns {string[]}
 */
export function parseSecretList(stdout) {
  const start = stdout.indexOf("[");
  const parsed = JSON.parse(start >= 0 ? stdout.slice(start) : stdout);
  if (!Array.isArray(parsed)) throw new Error("not a list");
  return parsed.map((s) => String(s.name));
}
