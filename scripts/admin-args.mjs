// The logic of `npm run admin` (scripts/admin.mjs), kept free of I/O so it can be unit-tested:
// arguments → one `wrangler d1 execute` run, and its JSON output → what to tell the operator.
import { readFlags } from "./dev-args.mjs";

export const USAGE = `Usage: npm run admin -- <grant|revoke> <email> [--remote] [--persist-to <dir>] [--config <file>] [--env <name>]

  grant <email>    make the account a superuser (administrator)
  revoke <email>   take it back (never from the last active superuser)

Runs against the local dev database (as npm run dev uses it) unless --remote is given. If your
dev server runs with --persist-to <dir> (or --config/--env), pass the same flags here.`;

/** Flags wrangler d1 execute takes that we pass on, by every spelling; their values come from readFlags. */
const FORWARDED = ["config", "cwd", "env", "env-file", "persist-to"];
const ALIASES = { c: "config", e: "env" };
const SWITCHES = ["remote", "local"];

/**
 * What an email must look like here. `wrangler d1 execute` takes no bind parameters, so the
 * address goes into the SQL text: only a conservative ASCII charset is allowed (and its one quote
 * character, `'`, is doubled). The API stores addresses trimmed and lower-cased; so do we.
 */
const EMAIL = /^[a-z0-9._%+'-]{1,64}@[a-z0-9-]{1,63}(\.[a-z0-9-]{1,63})+$/;

/** An argument error: the script prints the message and the usage. */
export class UsageError extends Error {}

/** @param {string} value */
const sqlString = (value) => `'${value.replaceAll("'", "''")}'`;

/**
 * Plans `npm run admin -- <grant|revoke> <email> [flags]`.
 *
 * The SQL is three statements run as one `wrangler d1 execute --command`: the account as it was,
 * then an audit row and the change, both under the same condition (the flag actually changes and,
 * for a revoke, another active superuser remains, as the admin API requires), so a row is written
 * exactly when something changed.
 *
 * @param {string[]} argv
 * @param {{ now: number, auditId: string }} context the time (ms) and a fresh id for the audit row
 * @returns {{ action: "grant" | "revoke", email: string, remote: boolean, args: string[] }}
 */
export function planAdmin(argv, { now, auditId }) {
  for (const word of argv) {
    const name = /^--?([^=]+)/.exec(word)?.[1]?.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    if (name === undefined || /^-\d/.test(word)) continue;
    if (word === "--" || ![...FORWARDED, ...SWITCHES, ...Object.keys(ALIASES)].includes(name)) {
      throw new UsageError(`Unknown option ${word}.`);
    }
  }
  const flags = readFlags(argv);
  const [action, rawEmail, ...extra] = flags.get("_") ?? [];
  if (action !== "grant" && action !== "revoke") throw new UsageError(action ? `Unknown command ${action}.` : "Name a command.");
  if (rawEmail === undefined) throw new UsageError("Name the account's email address.");
  if (extra.length > 0) throw new UsageError(`Unexpected argument ${extra[0]}.`);
  const email = rawEmail.trim().toLowerCase();
  if (email.length > 254 || !EMAIL.test(email)) {
    throw new UsageError(
      `Not an address this script accepts: ${JSON.stringify(rawEmail)}. It takes letters, digits and . _ % + - ' ` +
        "(ASCII only); for other addresses use the admin API (POST /api/v1/admin/users/{id}/superuser).",
    );
  }
  const remote = argv.some((word) => /^--remote(=true)?$/.test(word));
  if (remote && argv.some((word) => /^--local(=true)?$/.test(word))) throw new UsageError("Give --remote or --local, not both.");
  if (remote && flags.has("persist-to")) throw new UsageError("--persist-to is for the local database; leave it out with --remote.");

  const args = ["d1", "execute", "DB", remote ? "--remote" : "--local", "--json", "--yes"];
  for (const name of FORWARDED) for (const value of flags.get(name) ?? []) args.push(`--${name}`, value);
  args.push("--command", superuserSql(action, email, now, auditId));
  return { action, email, remote, args };
}

/**
 * @param {"grant" | "revoke"} action
 * @param {string} email already validated
 * @param {number} now
 * @param {string} auditId
 */
function superuserSql(action, email, now, auditId) {
  if (!/^[0-9a-f-]{36}$/.test(auditId) || !Number.isSafeInteger(now)) throw new Error("bad audit id or time");
  const account = `email = ${sqlString(email)} AND deleted_at IS NULL`;
  const others =
    "(SELECT count(*) FROM users AS o WHERE o.is_superuser = 1 AND o.is_active = 1 AND o.deleted_at IS NULL AND o.id <> users.id)";
  const changes = action === "grant" ? `${account} AND is_superuser = 0` : `${account} AND is_superuser = 1 AND ${others} > 0`;
  const auditAction = action === "grant" ? "admin.superuser_granted" : "admin.superuser_revoked";
  return [
    `SELECT id, is_superuser, is_active, ${others} AS other_superusers FROM users WHERE ${account}`,
    `INSERT INTO audit_logs (id, user_id, actor_user_id, action, resource, metadata, created_at) ` +
      `SELECT '${auditId}', id, NULL, '${auditAction}', 'user:' || id, json_object('via', 'npm run admin'), ${now} FROM users WHERE ${changes}`,
    `UPDATE users SET is_superuser = ${action === "grant" ? 1 : 0}, updated_at = ${now} WHERE ${changes} RETURNING id`,
  ].join("; ");
}

/**
 * What to tell the operator, from `wrangler d1 execute --json` output (one result per statement).
 * @param {{ action: "grant" | "revoke", email: string, remote: boolean }} plan
 * @param {unknown} output
 * @returns {{ ok: boolean, message: string }}
 */
export function describeOutcome(plan, output) {
  const results = Array.isArray(output) ? output : [];
  /** @type {{ id: string, is_superuser: number, is_active: number, other_superusers: number } | undefined} */
  const before = results[0]?.results?.[0];
  const changed = (results[2]?.results?.length ?? 0) > 0;
  const where = plan.remote ? "the deployed database" : "the local database";
  if (results.length !== 3) return { ok: false, message: `Unexpected output from wrangler: ${JSON.stringify(output).slice(0, 300)}` };
  if (!before) return { ok: false, message: `No account with the email ${plan.email} in ${where}. Register it first.` };
  const inactive = before.is_active ? "" : " The account is deactivated: it cannot sign in until it is reactivated.";
  if (plan.action === "grant") {
    return { ok: true, message: `${changed ? "Granted" : "Already"}: ${plan.email} is a superuser in ${where}.${inactive}` };
  }
  if (!before.is_superuser) return { ok: true, message: `Nothing to do: ${plan.email} is not a superuser in ${where}.` };
  if (!changed) {
    return {
      ok: false,
      message: `Refused: ${plan.email} is the last active superuser in ${where}. Grant another account first.`,
    };
  }
  return { ok: true, message: `Revoked: ${plan.email} is no longer a superuser in ${where}.` };
}
