#!/usr/bin/env node
// `npm run seed [-- --port <port> | --url <url>] [--persist-to <dir>]`: demo accounts, one with
// two-step verification, and an API key on a running `npm run dev`, for local work. Accounts go
// through the API (register, else log in); the superuser grant is `npm run admin -- grant`
// (scripts/admin.mjs, the local database), checked through the API afterwards, so a grant written
// into another database than the server's is reported, not printed as done. Safe to run again.
// The arguments are read in seed-args.mjs.
import { spawnSync } from "node:child_process";
import { randomInt } from "node:crypto";
import { localStateDir } from "./dev-args.mjs";
import { localFetch } from "./local-fetch.mjs";
import { DEMO_KEY_NAME, DEMO_PASSWORD, DEMO_TOTP_USER, DEMO_USERS, planSeed, USAGE, UsageError } from "./seed-args.mjs";
import { currentStep, totpCode } from "./totp.mjs";

let plan;
try {
  plan = planSeed(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  console.error(`${error.message ? `${error.message}\n\n` : ""}${USAGE}`);
  process.exit(2);
}
const { base, adminFlags } = plan;
const database = `the local D1 database in ${localStateDir(adminFlags)}`;

/**
 * One API call. Each comes from its own client address (the dev server takes CF-Connecting-IP from
 * the client), so seeding never spends the per-IP limits a developer's own requests share.
 * @param {string} path
 * @param {{ method?: string, body?: unknown, token?: string }} [options]
 */
async function api(path, { method, body, token } = {}) {
  /** @type {Record<string, string>} */
  const headers = { "CF-Connecting-IP": `198.18.${randomInt(256)}.${randomInt(1, 255)}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await localFetch(`${base}${path}`, {
    method: method ?? (body === undefined ? "GET" : "POST"),
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: res.text ? JSON.parse(res.text) : null };
}

/** @param {{ status: number, json: any }} res @param {string} what */
function fail(res, what) {
  console.error(`${what} failed: ${res.status} ${res.json?.code ?? ""} ${res.json?.detail ?? JSON.stringify(res.json)}`);
  process.exit(1);
}

try {
  await localFetch(`${base}/health`);
} catch {
  console.error(`No dev server at ${base}. Start it with \`npm run dev\` (same --port/--persist-to), then run seed again.`);
  process.exit(1);
}

const rows = [];
const tokens = new Map();
for (const user of DEMO_USERS) {
  const registered = await api("/api/v1/auth/register", { body: { email: user.email, password: DEMO_PASSWORD, full_name: user.fullName } });
  let state = "created";
  let session = registered;
  if (registered.status === 409) {
    state = "existed";
    session = await api("/api/v1/auth/login", { body: { email: user.email, password: DEMO_PASSWORD } });
  }
  if (session.status !== 200 && session.status !== 201) fail(session, `${user.email}: ${state === "existed" ? "login" : "registration"}`);
  tokens.set(user.email, session.json.access_token);
  if (user.superuser) {
    const grant = spawnSync(process.execPath, ["scripts/admin.mjs", "grant", user.email, ...adminFlags], {
      encoding: "utf8",
      env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
    });
    if (grant.status !== 0) {
      console.error(`${user.email}: npm run admin -- grant failed:\n${grant.stderr}${grant.stdout}`);
      console.error(`(It wrote to ${database}; if your dev server runs with --persist-to, --config or --env, give seed the same flags.)`);
      process.exit(1);
    }
  }
  rows.push(`  ${user.email.padEnd(20)} ${DEMO_PASSWORD}   ${user.superuser ? "superuser, " : ""}${state}`);
}

// The grant went into a database on disk; the server may be using another one (started with other
// --persist-to/--config/--env flags). Only a fresh token of the admin, accepted by the admin API,
// shows that the server sees it.
const admin = /** @type {{ email: string }} */ (DEMO_USERS.find((user) => user.superuser));
const adminLogin = await api("/api/v1/auth/login", { body: { email: admin.email, password: DEMO_PASSWORD } });
if (adminLogin.status !== 200) fail(adminLogin, `${admin.email}: login after the grant`);
const adminToken = adminLogin.json.access_token;
const adminCheck = await api("/api/v1/admin/users?limit=1", { token: adminToken });
if (adminCheck.status === 403) {
  console.error(
    `${admin.email} was made a superuser in ${database}, but the server at ${base} does not see it: it uses another local database.\n` +
      "Run seed with the same --persist-to (and --config/--env) you gave npm run dev.",
  );
  process.exit(1);
}
if (adminCheck.status !== 200) fail(adminCheck, "checking the superuser grant");
rows.push(await seedTotpUser(adminToken));

// The demo API key belongs to the second account; an earlier run's key is revoked first.
const keyOwner = /** @type {{ email: string }} */ (DEMO_USERS[1]).email;
const token = tokens.get(keyOwner);
const listed = await api("/api/v1/users/me/api-keys", { token });
if (listed.status !== 200) fail(listed, "listing API keys");
for (const key of listed.json.api_keys.filter((/** @type {{ name: string }} */ k) => k.name === DEMO_KEY_NAME)) {
  const revoked = await api(`/api/v1/users/me/api-keys/${key.id}`, { method: "DELETE", token });
  if (revoked.status !== 204) fail(revoked, "revoking the previous demo key");
}
const created = await api("/api/v1/users/me/api-keys", { token, body: { name: DEMO_KEY_NAME } });
if (created.status !== 201) fail(created, "creating the demo API key");

console.log(`Demo data on ${base}, superuser grant in ${database} (local only: these credentials are public):\n`);
console.log(rows.join("\n"));
console.log(
  `\n  API key of ${keyOwner} (${created.json.scopes.join(", ")}; shown once, replaced on the next seed):\n  ${created.json.api_key}\n`,
);
console.log(`Try: curl -s ${base}/api/v1/users/me -H "authorization: Bearer ${created.json.api_key}"`);

/**
 * The account with two-step verification: registered (or found), its factors reset by the admin
 * on a later run (an authenticator's secret is shown once, so a new run makes a new one), then TOTP
 * enrolled and confirmed through the API like an app would. The enrolment after a reset needs the
 * mailed code, read from the dev outbox.
 * @param {string} adminToken
 * @returns {Promise<string>} its row for the summary
 */
async function seedTotpUser(adminToken) {
  const { email, fullName } = DEMO_TOTP_USER;
  const registered = await api("/api/v1/auth/register", { body: { email, password: DEMO_PASSWORD, full_name: fullName } });
  let state = "created";
  let session = registered;
  if (registered.status === 409) {
    state = "existed";
    session = await api("/api/v1/auth/login", { body: { email, password: DEMO_PASSWORD } });
    if (session.status === 403 && session.json?.code === "mfa_required") {
      const found = await api(`/api/v1/admin/users?query=${encodeURIComponent(email)}`, { token: adminToken });
      const id = found.json?.users?.find((/** @type {{ email: string }} */ u) => u.email === email)?.id;
      if (!id) fail(found, `${email}: finding the account`);
      const reset = await api(`/api/v1/admin/users/${id}/mfa`, { method: "DELETE", token: adminToken });
      if (reset.status !== 204) fail(reset, `${email}: resetting its second factor`);
      session = await api("/api/v1/auth/login", { body: { email, password: DEMO_PASSWORD } });
    }
  }
  if (session.status !== 200 && session.status !== 201) fail(session, `${email}: ${state === "existed" ? "login" : "registration"}`);
  const token = session.json.access_token;

  const asked = Date.now() - 1000; // an earlier run's enrolment code is older than this request
  let started = await api("/api/v1/users/me/mfa/totp", { token, body: {} });
  if (started.status === 403 && started.json?.code === "email_code_required") {
    // The mail is sent after the response: look for a few seconds.
    let mail;
    let code;
    for (let tries = 0; !code && tries < 20; tries++) {
      if (tries > 0) await new Promise((resolve) => setTimeout(resolve, 250));
      mail = await api(`/api/v1/dev/outbox?to=${encodeURIComponent(email)}`);
      code = mail.json?.messages?.find(
        (/** @type {{ subtype?: string, created_at: string }} */ m) => m.subtype === "mfa_enrolment" && Date.parse(m.created_at) >= asked,
      )?.code;
    }
    if (!code) fail(/** @type {{ status: number, json: any }} */ (mail), `${email}: reading the enrolment code from the dev outbox`);
    started = await api("/api/v1/users/me/mfa/totp", { token, body: { email_code: code } });
  }
  if (started.status !== 200) fail(started, `${email}: starting TOTP enrolment`);
  const { secret, otpauth_uri: uri } = started.json;
  // The account's object accepts each 30-second step once, whatever the secret: on a quick re-run the
  // current step may be spent by the previous secret, so the next step's code (still in the window) is tried.
  let confirmed = await api("/api/v1/users/me/mfa/totp/confirm", { token, body: { code: totpCode(secret) } });
  for (let tries = 1; confirmed.status === 401 && tries <= 2; tries++) {
    // Quick re-runs spent the next step too: wait for it to begin, then use the one after.
    if (tries === 2) await new Promise((resolve) => setTimeout(resolve, 30_000 - (Date.now() % 30_000) + 100));
    confirmed = await api("/api/v1/users/me/mfa/totp/confirm", { token, body: { code: totpCode(secret, currentStep() + 1) } });
  }
  if (confirmed.status !== 200) fail(confirmed, `${email}: confirming TOTP`);
  return (
    `  ${email.padEnd(20)} ${DEMO_PASSWORD}   two-step verification, ${state}\n` +
    `    TOTP secret ${secret} (new on each seed; a code: npm run totp -- ${secret})\n    ${uri}`
  );
}
