// The argument logic of `npm run dev` (scripts/dev.mjs), kept free of I/O so it can be unit-tested.
// The flag grammar mirrors what wrangler 4's yargs accepts, checked against `wrangler dev --help`
// and `wrangler d1 migrations apply --help`.
import { isIPv6 } from "node:net";
import { dirname, resolve } from "node:path";
import { siteSetup, takeSiteFlag } from "./dev-site.mjs";

/** Vars the local URL feeds; the worker links to PUBLIC_URL and stamps JWT_ISSUER into tokens. */
const URL_VARS = ["PUBLIC_URL", "JWT_ISSUER"];

/**
 * Flags whose values we read, by every name wrangler accepts for them. `array` flags are yargs
 * arrays: like wrangler, they swallow every following word that is not a flag (`--var A:1 B:2`).
 * @type {Record<string, { name: string, array?: boolean }>}
 */
const FLAGS = {
  port: { name: "port" },
  ip: { name: "ip" },
  "local-protocol": { name: "local-protocol" },
  var: { name: "var", array: true },
  "persist-to": { name: "persist-to" },
  env: { name: "env" },
  e: { name: "env" },
  config: { name: "config" },
  c: { name: "config" },
  cwd: { name: "cwd" },
  "env-file": { name: "env-file", array: true },
};

/** Flags that decide which config, environment and local state wrangler uses; `d1 migrations apply` takes them all. */
const MIGRATE_FLAGS = ["config", "cwd", "env", "env-file", "persist-to"];

/**
 * Plans the two wrangler runs of `npm run dev`: the local D1 migrations, then `wrangler dev`.
 *
 * - The migrations get the flags that choose config, environment and state directory, so they
 *   land in the database the dev server will open; dev-only flags (port, ip, var, …) stay out.
 * - When `--port`, `--ip` or `--local-protocol` is given, PUBLIC_URL and JWT_ISSUER follow the
 *   address the server listens on, unless the user set them: with `--var`, or in the file wrangler
 *   reads vars from (`--env-file` files, else `.dev.vars.<env>` or `.dev.vars`, else `.env*`).
 *   A `--var` we add would beat those files, so we must not add one.
 *
 * - `--site <url>` (ours, taken out before wrangler sees the flags; dev-site.mjs) makes the server
 *   the auth subdomain of a local site: the URL vars name `auth.<its parent domain>:<port>`, and
 *   CORS_ORIGINS, WEBAUTHN_RP_ID and DEV_LOOPBACK_LIMITS are set, each unless the user set it.
 *
 * @param {string[]} argvWithSite the user's `wrangler dev` flags, as given to `npm run dev -- …`, plus ours (`--site`)
 * @param {{ cwd: string, readFile: (path: string) => string | undefined, env?: Record<string, string | undefined> }} io
 *   `readFile` returns undefined for a missing file; `env` is the environment wrangler will see.
 * @returns {{ migrate: string[], dev: string[], publicUrl: string, derived: string[], site?: { origin: string, rpId: string, vars: Record<string, string>, kept: string[] } }}
 *   wrangler argument lists, the URL the dev server answers on, the vars set to it, and with
 *   `--site` the site's origin, the passkey domain, the vars added and those the user's own values kept.
 */
export function planDev(argvWithSite, { cwd, readFile, env = {} }) {
  const { argv, site: siteUrl } = takeSiteFlag(argvWithSite);
  const flags = readFlags(argv);
  const last = (/** @type {string} */ name) => flags.get(name)?.at(-1);

  const migrate = ["d1", "migrations", "apply", "DB", "--local"];
  for (const name of MIGRATE_FLAGS) for (const value of flags.get(name) ?? []) migrate.push(`--${name}`, value);

  const site = siteUrl === undefined ? undefined : siteSetup(siteUrl, last("port") ?? "8787");
  const publicUrl = site?.authUrl ?? localUrl(last("ip"), last("port"), last("local-protocol"));
  // No listen flag: wrangler.toml's values already name the default address. Port 0: unknown until bound.
  const known = site !== undefined || (["ip", "port", "local-protocol"].some((name) => flags.has(name)) && last("port") !== "0");
  const userSet = known ? varsSetByUser(flags, { cwd, readFile, env }) : new Set();
  /** @type {Record<string, string>} */
  const wanted = site ? site.vars : Object.fromEntries(URL_VARS.map((name) => [name, publicUrl]));
  const added = known ? Object.entries(wanted).filter(([name]) => !userSet.has(name)) : [];
  const derived = added.map(([name]) => name).filter((name) => URL_VARS.includes(name));

  // Ours go after the user's flags: `--var` is greedy, so placed first it would swallow a leading
  // positional (the script path). A user's own `--var DEV_OUTBOX:…` still wins, as it did before.
  const ours = [...(varNames(flags).has("DEV_OUTBOX") ? [] : ["DEV_OUTBOX:true"]), ...added.map(([name, value]) => `${name}:${value}`)];
  const end = argv.includes("--") ? argv.indexOf("--") : argv.length;
  const dev = ["dev", ...argv.slice(0, end), ...ours.flatMap((pair) => ["--var", pair]), ...argv.slice(end)];
  const siteInfo = site && {
    origin: site.origin,
    rpId: site.rpId,
    vars: Object.fromEntries(added),
    kept: Object.keys(site.vars).filter((name) => userSet.has(name)),
  };
  return { migrate, dev, publicUrl, derived, ...(siteInfo ? { site: siteInfo } : {}) };
}

/**
 * Values of the flags in FLAGS, by canonical name, in the order given, and under "_" (as yargs
 * names them) the words that are neither a flag nor a flag's value. Flags not in FLAGS take no value
 * here. Also used by scripts/admin-args.mjs, whose wrangler command takes the same config flags.
 * @param {string[]} argv
 * @returns {Map<string, string[]>}
 */
export function readFlags(argv) {
  /** @type {Map<string, string[]>} */
  const flags = new Map();
  /** @type {string[]} */
  const positionals = [];
  flags.set("_", positionals);
  const isFlag = (/** @type {string | undefined} */ word) => word !== undefined && /^-/.test(word) && !/^-\d/.test(word);
  for (let i = 0; i < argv.length; i++) {
    const word = /** @type {string} */ (argv[i]);
    if (word === "--") break; // what follows is positional for wrangler
    if (!isFlag(word)) {
      positionals.push(word);
      continue;
    }
    const match = /^--?([^=]+)(?:=(.*))?$/s.exec(word);
    if (!match) continue;
    // yargs also accepts the camelCase spelling (`--persistTo`).
    const spec = FLAGS[/** @type {string} */ (match[1]).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)];
    if (!spec) continue;
    const values = [];
    if (match[2] !== undefined) values.push(match[2]);
    else if (i + 1 < argv.length && !isFlag(argv[i + 1])) values.push(/** @type {string} */ (argv[++i]));
    if (spec.array)
      while (i + 1 < argv.length && !isFlag(argv[i + 1]) && argv[i + 1] !== "--") values.push(/** @type {string} */ (argv[++i]));
    if (values.length === 0) continue;
    flags.set(spec.name, [...(flags.get(spec.name) ?? []), ...values]);
  }
  return flags;
}

/**
 * Where a wrangler command's local D1 state lives, from its arguments: the `--persist-to` directory,
 * else wrangler's default. `npm run dev`, `seed` and `admin` all say it, since a dev server started
 * with another directory has a database of its own.
 * @param {string[]} args
 */
export function localStateDir(args) {
  const at = args.lastIndexOf("--persist-to");
  return at >= 0 && args[at + 1] !== undefined ? args[at + 1] : ".wrangler/state (the default)";
}

/**
 * Names given with `--var NAME:value`.
 * @param {Map<string, string[]>} flags
 * @returns {Set<string>}
 */
function varNames(flags) {
  return new Set((flags.get("var") ?? []).map((pair) => /** @type {string} */ (pair.split(":")[0])));
}

/**
 * The URL a browser opens for a server bound to `ip`: a wildcard bind address (0.0.0.0, ::)
 * is not one anyone can open, so it becomes localhost; IPv6 literals are bracketed.
 * @param {string | undefined} ip
 * @param {string | undefined} port
 * @param {string | undefined} protocol
 */
function localUrl(ip, port = "8787", protocol) {
  let host = ip?.replace(/^\[(.*)\]$/, "$1") || "localhost";
  if (isIPv6(host)) host = new URL(`http://[${host}]`).hostname; // canonical form, so every spelling of :: matches
  if (host === "0.0.0.0" || host === "[::]") host = "localhost";
  return `${protocol === "https" ? "https" : "http"}://${host}:${port}`;
}

/**
 * Which of URL_VARS the user set, where wrangler dev would read them from (getVarsForDev in
 * wrangler 4): files sit next to the config file, or in the working directory.
 * @param {Map<string, string[]>} flags
 * @param {{ cwd: string, readFile: (path: string) => string | undefined, env: Record<string, string | undefined> }} io
 * @returns {Set<string>}
 */
function varsSetByUser(flags, { cwd, readFile, env }) {
  const set = varNames(flags);
  const root = resolve(cwd, flags.get("cwd")?.at(-1) ?? ".");
  const config = flags.get("config")?.at(-1);
  const dir = config ? dirname(resolve(root, config)) : root;
  const envName = flags.get("env")?.at(-1);
  const envFiles = flags.get("env-file");

  const flag = (/** @type {string} */ name) => env[name]?.toLowerCase();
  // wrangler takes `.dev.vars.<env>` instead of `.dev.vars`, not on top of it, and falls back to
  // the `.env` files (or the `--env-file` ones, which also skip `.dev.vars`) when neither exists.
  const devVars = envFiles
    ? undefined
    : [envName && `.dev.vars.${envName}`, ".dev.vars"].find((name) => name && readFile(resolve(dir, name)) !== undefined);
  /** @type {string[]} */
  let files = [];
  if (devVars) files = [devVars];
  else if (flag("CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV") !== "false") {
    files = envFiles ?? [".env", ".env.local", ...(envName ? [`.env.${envName}`, `.env.${envName}.local`] : [])];
    if (flag("CLOUDFLARE_INCLUDE_PROCESS_ENV") === "true") for (const name of URL_VARS) if (env[name] !== undefined) set.add(name);
  }
  for (const file of files) for (const key of dotenvKeys(readFile(resolve(dir, file)) ?? "")) set.add(key);
  return set;
}

/**
 * Keys a dotenv file assigns (`KEY=value`, `export KEY=value`, `KEY: value`); values are not needed.
 * @param {string} text
 */
function dotenvKeys(text) {
  return [...text.matchAll(/^[ \t]*(?:export[ \t]+)?([\w.-]+)[ \t]*(?:=|:[ \t])/gm)].map((m) => /** @type {string} */ (m[1]));
}
