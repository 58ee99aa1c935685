// The argument logic of `npm run seed` (scripts/seed.mjs), free of I/O so it can be unit-tested.
import { readFlags } from "./dev-args.mjs";

export const USAGE = `Usage: npm run seed [-- --url <dev server URL> | --port <port>] [--persist-to <dir>] [--config <file>] [--env <name>]

Makes demo accounts (one with two-step verification: its TOTP secret is printed) and an API key on a
running \`npm run dev\` server (default http://localhost:8787; *.localhost URLs work),
and makes the first one a superuser in the local database (as \`npm run admin -- grant\` does: pass the
same --persist-to/--config/--env as to npm run dev). Safe to run again: existing accounts are kept,
and the demo API key is replaced (a key's secret is shown only once). Prints every credential.`;

/** The demo accounts; the first becomes a superuser. Local data only: these passwords are public. */
export const DEMO_USERS = [
  { email: "admin@example.com", fullName: "Demo Admin", superuser: true },
  { email: "alice@example.com", fullName: "Alice Demo", superuser: false },
  { email: "bob@example.com", fullName: "Bob Demo", superuser: false },
];
/** The account seed turns two-step verification (TOTP) on for; its secret is printed, and renewed on each run. */
export const DEMO_TOTP_USER = { email: "carol@example.com", fullName: "Carol Demo" };
export const DEMO_PASSWORD = "local seed password 2026";
/** The name of the API key seed makes for the second account; one of that name is replaced on each run. */
export const DEMO_KEY_NAME = "seed demo key";

/** An argument error: the script prints the message and the usage. */
export class UsageError extends Error {}

/**
 * @param {string[]} argv
 * @returns {{ base: string, adminFlags: string[] }} the server's URL and the flags `npm run admin` gets
 */
export function planSeed(argv) {
  if (argv.includes("--help") || argv.includes("-h")) throw new UsageError("");
  const known = /^(--?(url|port|persist-to|persistTo|config|c|env|e)(=.*)?)$/;
  const flags = readFlags(argv.filter((w) => !/^--(url|port)(=|$)/.test(w)));
  // --url and --port are ours; readFlags knows wrangler's flags (where --port is also one).
  const valueOf = (/** @type {string} */ name) => {
    const i = argv.findIndex((w) => w === `--${name}` || w.startsWith(`--${name}=`));
    if (i < 0) return undefined;
    const word = /** @type {string} */ (argv[i]);
    return word.includes("=") ? word.slice(word.indexOf("=") + 1) : argv[i + 1];
  };
  for (let i = 0; i < argv.length; i++) {
    const word = /** @type {string} */ (argv[i]);
    if (word.startsWith("-") && !known.test(word)) throw new UsageError(`Unknown option ${word}.`);
    if (known.test(word) && !word.includes("="))
      i++; // its value
    else if (!word.startsWith("-")) throw new UsageError(`Unexpected argument ${word}.`);
  }
  const url = valueOf("url");
  const port = valueOf("port");
  if (url && port) throw new UsageError("Give --url or --port, not both.");
  if (port !== undefined && !/^\d{1,5}$/.test(port)) throw new UsageError(`--port must be a number, not ${port}.`);
  let base = url ?? `http://localhost:${port ?? "8787"}`;
  if (!URL.canParse(base) || !/^https?:$/.test(new URL(base).protocol)) throw new UsageError(`--url must be an http(s) URL, not ${base}.`);
  base = new URL(base).origin;
  const host = new URL(base).hostname;
  if (!(host === "localhost" || host.endsWith(".localhost") || host === "[::1]" || /^127\./.test(host))) {
    throw new UsageError(`seed is for a local dev server; ${host} is not this machine.`);
  }
  /** @type {string[]} */
  const adminFlags = [];
  for (const name of ["persist-to", "config", "env"]) for (const value of flags.get(name) ?? []) adminFlags.push(`--${name}`, value);
  return { base, adminFlags };
}
