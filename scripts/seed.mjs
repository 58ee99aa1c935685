#!/usr/bin/env node
// `npm run seed [-- --port <port> | --url <url>] [--persist-to <dir>]`: demo accounts and an API key
// on a running `npm run dev`, for local work. Accounts go through the API (register, else log in);
// the superuser grant is `npm run admin -- grant` (scripts/admin.mjs, the local database). Safe to
// run again. The arguments are read in seed-args.mjs.
import { spawnSync } from "node:child_process";
import { randomInt } from "node:crypto";
import { DEMO_KEY_NAME, DEMO_PASSWORD, DEMO_USERS, planSeed, USAGE, UsageError } from "./seed-args.mjs";

let plan;
try {
  plan = planSeed(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  console.error(`${error.message ? `${error.message}\n\n` : ""}${USAGE}`);
  process.exit(2);
}
const { base, adminFlags } = plan;

/**
 * One API call. Each comes from its own client address (the dev server takes CF-Connecting-IP from
 * the client), so seeding never spends the per-IP limits a developer's own requests share.
 * @param {string} path
 * @param {{ method?: string, body?: unknown, token?: string }} [options]
 */
async function api(path, { method, body, token } = {}) {
  const headers = { "CF-Connecting-IP": `198.18.${randomInt(256)}.${randomInt(1, 255)}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(`${base}${path}`, {
    method: method ?? (body === undefined ? "GET" : "POST"),
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

/** @param {{ status: number, json: any }} res @param {string} what */
function fail(res, what) {
  console.error(`${what} failed: ${res.status} ${res.json?.code ?? ""} ${res.json?.detail ?? JSON.stringify(res.json)}`);
  process.exit(1);
}

try {
  await fetch(`${base}/health`);
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
      process.exit(1);
    }
  }
  rows.push(`  ${user.email.padEnd(20)} ${DEMO_PASSWORD}   ${user.superuser ? "superuser, " : ""}${state}`);
}

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

console.log(`Demo data on ${base} (local only: these credentials are public):\n`);
console.log(rows.join("\n"));
console.log(
  `\n  API key of ${keyOwner} (${created.json.scopes.join(", ")}; shown once, replaced on the next seed):\n  ${created.json.api_key}\n`,
);
console.log(`Try: curl -s ${base}/api/v1/users/me -H "authorization: Bearer ${created.json.api_key}"`);
