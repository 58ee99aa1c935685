#!/usr/bin/env node
// `npm run bench [-- --port 8812 --requests 300 --bulk 100000 --pairs 100 --part all|auth|recovery]`
// `npm run bench -- --geo [--samples 12 --lag 1000] [--local-only]`: the far-from-primary simulation
// (scripts/bench-geo.mjs); `--local-only` runs only its local throughput ratios.
//
// Shows that API key verification does not grow with the number of users or keys. It serves the
// worker locally with `wrangler dev` on a throw-away D1/KV directory (never your dev data),
// measures `GET /api/v1/users/me` with one API key and with an access token, plus password login
// (and both steps of a TOTP sign-in),
// first with a handful of rows, then again after bulk-inserting many users and keys straight into
// the local D1. The recovery part (`--part recovery` runs only it) times forgot-password and
// resend-verification for known and unknown addresses in alternating pairs, so an answer that
// waits for work only a known address causes shows up as a difference of medians. It talks only
// to 127.0.0.1, sends a bounded number of requests, and stops the server and removes the directory
// when done.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { runGeo } from "./bench-geo.mjs";
import { parseCounts, progressLine, recoveryTable, summarize } from "./bench-report.mjs";
import { currentStep, totpCode } from "./totp.mjs";

const { values: opts } = parseArgs({
  options: {
    port: { type: "string", default: "8812" },
    requests: { type: "string", default: "300" },
    logins: { type: "string", default: "15" },
    bulk: { type: "string", default: "100000" },
    pairs: { type: "string", default: "100" },
    part: { type: "string", default: "all" },
    geo: { type: "boolean", default: false },
    samples: { type: "string", default: "12" },
    lag: { type: "string", default: "1000" },
    "local-only": { type: "boolean", default: false },
  },
});
const PORT = Number(opts.port);
const REQUESTS = Math.min(Number(opts.requests), 2000);
const LOGINS = Math.min(Number(opts.logins), 50);
const BULK = Math.min(Number(opts.bulk), 500_000);
const PAIRS = Math.min(Number(opts.pairs), 500);
const PART = opts.part;
if (!["all", "auth", "recovery"].includes(PART)) throw new Error("--part is all, auth or recovery");
const BASE = `http://127.0.0.1:${PORT}`;
const PASSWORD = "correct horse battery staple 42";

// Repeated logins of one account would trip the lockout's per-account limit (10/hour), and repeated
// recovery requests for a few addresses their per-address and per-mailbox limits: the bench
// measures latency, not limits, so it raises those. The Durable Object is still consulted on every
// request, so its cost is part of the numbers.
const RAISED = { limit: 100_000, window: 3600 };
const BENCH_LIMITS = JSON.stringify({
  login_account_hour: RAISED,
  api_key_create_user_hour: RAISED,
  forgot_password_account_hour: RAISED,
  resend_verification_account_hour: RAISED,
  mail_stranger_mailbox_hour: RAISED,
  mail_account_mailbox_hour: RAISED,
});

const persistDir = mkdtempSync(join(tmpdir(), "gatehouse-bench-"));
const env = { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "1" };
let server = null;

const started = performance.now();
/** One progress line on stderr (stdout keeps only the results): see progressLine. */
function progress(message) {
  console.error(progressLine(performance.now() - started, message));
}

function wranglerSync(args, label) {
  const result = spawnSync("npx", ["wrangler", ...args], { env, input: "y\n", encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`${label} failed:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

function d1(sql, label) {
  return wranglerSync(["d1", "execute", "DB", "--local", "--persist-to", persistDir, "--yes", "--command", sql], label);
}

async function startServer(extraArgs = []) {
  progress("starting wrangler dev…");
  const args = ["wrangler", "dev", "--ip", "127.0.0.1", "--port", String(PORT), "--inspector-port", String(PORT + 1000), ...extraArgs];
  args.push("--persist-to", persistDir, "--var", "DEV_OUTBOX:true", "--var", `RATE_LIMITS:${BENCH_LIMITS}`);
  args.push("--show-interactive-dev-session=false", "--log-level", "warn");
  const child = spawn("npx", args, { env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  const tail = [];
  const keep = (chunk) => {
    tail.push(...String(chunk).split("\n"));
    tail.splice(0, Math.max(0, tail.length - 40));
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  server = child;
  for (let i = 0; i < 240; i++) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited:\n${tail.join("\n")}`);
    try {
      if ((await fetch(`${BASE}/health`)).ok) return progress(`wrangler dev is up at ${BASE}`);
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`wrangler dev did not come up:\n${tail.join("\n")}`);
}

async function stopServer() {
  if (!server) return;
  const child = server;
  server = null;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  try {
    process.kill(-child.pid, "SIGTERM"); // the process group: npx, wrangler and workerd
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // The group is already gone.
    }
  }, 5000);
  await exited;
  clearTimeout(timer);
}

let ipCounter = 0;
const nextIp = () => `10.77.${(++ipCounter >> 8) & 255}.${ipCounter & 255}`;

async function request(path, { method, token, body, ip = "10.0.0.1", headers: extra = {} } = {}) {
  method ??= body ? "POST" : "GET";
  const headers = { "CF-Connecting-IP": ip, ...extra };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body) headers["Content-Type"] = "application/json";
  const res = await fetch(`${BASE}${path}`, { method, headers, body: body ? JSON.stringify(body) : undefined });
  const json = await res.json().catch(() => null);
  return { status: res.status, json };
}

async function expectStatus(promise, status, label) {
  const res = await promise;
  if (res.status !== status) throw new Error(`${label}: expected ${status}, got ${res.status} ${JSON.stringify(res.json)}`);
  return res.json;
}

/**
 * forgot-password and resend-verification must answer a known and an unknown address alike: the
 * lookup and the mail run after the response. Each pair sends one of each, in random order (a fixed
 * pattern would let one kind's after-response work land on the other kind's requests more often),
 * every request from a fresh client IP, cycling through equally many known and unknown addresses so
 * both kinds reuse warm Durable Objects. Reports both medians and the median of the paired
 * differences.
 */
async function measureRecovery(known, unknown) {
  const rows = [];
  for (const path of ["/api/v1/auth/forgot-password", "/api/v1/auth/resend-verification"]) {
    const send = async (email) => {
      const start = performance.now();
      const res = await request(path, { body: { email }, ip: nextIp() });
      if (res.status !== 202) throw new Error(`${path}: status ${res.status} ${JSON.stringify(res.json)}`);
      return performance.now() - start;
    };
    progress(`${path}: ${PAIRS} pairs of known and unknown addresses`);
    for (let i = 0; i < Math.min(20, PAIRS); i++) await send(i % 2 ? known[i % known.length] : unknown[i % unknown.length]); // warm-up
    const samples = { known: [], unknown: [], diff: [] };
    for (let i = 0; i < PAIRS; i++) {
      const k = known[i % known.length];
      const u = unknown[i % unknown.length];
      let tk, tu;
      if (Math.random() < 0.5) {
        tk = await send(k);
        tu = await send(u);
      } else {
        tu = await send(u);
        tk = await send(k);
      }
      samples.known.push(tk);
      samples.unknown.push(tu);
      samples.diff.push(tk - tu);
    }
    rows.push({ path, known: summarize(samples.known), unknown: summarize(samples.unknown), diff: summarize(samples.diff) });
  }
  return rows;
}

/** Registers `count` users (left unverified, so resend-verification mails them) and names as many unknown addresses. */
async function recoveryAddresses(count) {
  const known = [];
  for (let i = 0; i < count; i++) {
    const email = `bench.known.${Date.now()}.${i}@example.com`;
    await expectStatus(
      request("/api/v1/auth/register", { body: { email, password: PASSWORD, full_name: "Known" }, ip: nextIp() }),
      201,
      "register",
    );
    known.push(email);
  }
  const unknown = known.map((_, i) => `bench.unknown.${Date.now()}.${i}@example.com`);
  return { known, unknown };
}

/**
 * Sequential requests, the senders taking turns (A, B, A, B, …) so that load from anything else
 * on the machine hits all of them alike. Returns median and p95 in milliseconds per sender.
 */
async function measure(count, senders) {
  const names = Object.keys(senders);
  progress(`measuring ${names.join(", ")}: ${count} requests each after a warm-up`);
  for (let i = 0; i < Math.min(50, count); i++) for (const name of names) await senders[name](); // warm-up: JIT, caches, first D1 pages
  const samples = Object.fromEntries(names.map((n) => [n, []]));
  for (let i = 0; i < count; i++) {
    for (const name of names) {
      const start = performance.now();
      await senders[name]();
      samples[name].push(performance.now() - start);
    }
    if ((i + 1) % Math.max(1, Math.ceil(count / 4)) === 0 && i + 1 < count) progress(`  ${i + 1}/${count}`);
  }
  return Object.fromEntries(names.map((n) => [n, summarize(samples[n])]));
}

/**
 * A sign-in with TOTP, both steps timed. Each sample is an account of its own with an authenticator
 * enabled a moment before (a code works once: one sign-in per account and step keeps it honest).
 */
async function measureSecondStep(count) {
  progress(`measuring the two steps of ${count} TOTP sign-ins`);
  const samples = { first: [], second: [] };
  for (let i = 0; i < count + 2; i++) {
    const email = `bench.mfa.${Date.now()}.${i}@example.com`;
    const body = { email, password: PASSWORD };
    const { access_token } = await expectStatus(
      request("/api/v1/auth/register", { body: { ...body, full_name: "MFA" }, ip: nextIp() }),
      201,
      "register",
    );
    const { secret } = await expectStatus(request("/api/v1/users/me/mfa/totp", { method: "POST", token: access_token }), 200, "start TOTP");
    const step = currentStep();
    await expectStatus(
      request("/api/v1/users/me/mfa/totp/confirm", { token: access_token, body: { code: totpCode(secret, step) } }),
      200,
      "confirm",
    );
    let start = performance.now();
    const { mfa_token } = await expectStatus(request("/api/v1/auth/login", { body, ip: nextIp() }), 403, "first factor");
    const first = performance.now() - start;
    start = performance.now();
    await expectStatus(
      request("/api/v1/auth/mfa", { body: { mfa_token, method: "totp", code: totpCode(secret, step + 1) }, ip: nextIp() }),
      200,
      "second step",
    );
    if (i >= 2) {
      samples.first.push(first);
      samples.second.push(performance.now() - start);
    }
  }
  return { first: summarize(samples.first), second: summarize(samples.second) };
}

/** The tests' software authenticator (test/webauthn-authenticator.ts), bundled for Node with esbuild. */
async function loadAuthenticator() {
  const bundle = join(persistDir, "authenticator.mjs");
  const source = join("test", "webauthn-authenticator.ts");
  const args = ["esbuild", source, "--bundle", "--format=esm", "--platform=node", `--outfile=${bundle}`];
  const built = spawnSync("npx", args, { env, encoding: "utf8" });
  if (built.status !== 0) throw new Error(`bundling the software authenticator failed:\n${built.stderr}`);
  return (await import(pathToFileURL(bundle).href)).SoftwareAuthenticator;
}

/**
 * Passkey sign-ins with the tests' software authenticator (test/webauthn-authenticator.ts, bundled
 * for Node here): each sample an account with its own passkey, origin PUBLIC_URL's.
 */
async function measurePasskeys(count) {
  progress(`measuring ${count} passkey sign-ins`);
  const SoftwareAuthenticator = await loadAuthenticator();
  const origin = "http://localhost:8787"; // PUBLIC_URL as wrangler.toml has it (the relying party: localhost)
  const samples = { options: [], signIn: [] };
  for (let i = 0; i < count + 2; i++) {
    const email = `bench.passkey.${Date.now()}.${i}@example.com`;
    const body = { email, password: PASSWORD, full_name: "Passkey" };
    const { access_token } = await expectStatus(request("/api/v1/auth/register", { body, ip: nextIp() }), 201, "register");
    const authenticator = await SoftwareAuthenticator.create();
    const creation = await expectStatus(
      request("/api/v1/users/me/passkeys/options", { method: "POST", token: access_token }),
      200,
      "options",
    );
    const credential = await authenticator.register(creation, origin);
    await expectStatus(request("/api/v1/users/me/passkeys", { token: access_token, body: { credential } }), 201, "add passkey");
    const ip = nextIp();
    let start = performance.now();
    const options = await expectStatus(request("/api/v1/auth/passkey/options", { body: {}, ip }), 200, "sign-in options");
    const optionsMs = performance.now() - start;
    const assertion = await authenticator.assert(options, origin);
    start = performance.now();
    await expectStatus(request("/api/v1/auth/passkey", { body: { credential: assertion }, ip }), 200, "passkey sign-in");
    if (i >= 2) {
      samples.options.push(optionsMs);
      samples.signIn.push(performance.now() - start);
    }
  }
  return { options: summarize(samples.options), signIn: summarize(samples.signIn) };
}

async function runPhase(label, user, apiKey) {
  // Counted while the server is stopped, so only one process has the local D1 open at a time.
  progress(`phase "${label}"`);
  const counts = parseCounts(d1("SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM api_keys) AS keys", "count"));
  await startServer();
  const loginBody = { email: user.email, password: PASSWORD };
  const session = await expectStatus(request("/api/v1/auth/login", { body: loginBody, ip: nextIp() }), 200, "login");
  const check = async (res) => {
    const r = await res;
    if (r.status !== 200) throw new Error(`${label}: status ${r.status} ${JSON.stringify(r.json)}`);
  };
  const auth = await measure(REQUESTS, {
    key: () => check(request("/api/v1/users/me", { token: apiKey })),
    token: () => check(request("/api/v1/users/me", { token: session.access_token })),
  });
  const logins = await measure(LOGINS, { login: () => check(request("/api/v1/auth/login", { body: loginBody, ip: nextIp() })) });
  const mfa = await measureSecondStep(LOGINS);
  const passkey = await measurePasskeys(LOGINS);
  const rows = [
    ["GET /users/me, API key", auth.key],
    ["GET /users/me, access token", auth.token],
    ["POST /auth/login", logins.login],
    ["POST /auth/login → 403 mfa_required", mfa.first],
    ["POST /auth/mfa (TOTP)", mfa.second],
    ["POST /auth/passkey/options", passkey.options],
    ["POST /auth/passkey", passkey.signIn],
  ];
  await stopServer();
  return { label, counts, rows };
}

async function main() {
  if (opts.geo) {
    const helpers = {
      startServer,
      stopServer,
      request,
      expectStatus,
      summarize,
      wranglerSync,
      nextIp,
      persistDir,
      BASE,
      PASSWORD,
      loadAuthenticator,
    };
    await runGeo(helpers, { samples: Math.min(Number(opts.samples), 100), lagMs: Number(opts.lag), localOnly: opts["local-only"] });
    return;
  }
  console.log(`bench: throw-away state in ${persistDir}; ${REQUESTS} requests per API-key/access-token row, ${LOGINS} logins`);
  progress("applying migrations to the throw-away D1");
  wranglerSync(["d1", "migrations", "apply", "DB", "--local", "--persist-to", persistDir], "migrations");

  if (PART !== "auth") {
    await startServer();
    const { known, unknown } = await recoveryAddresses(5);
    const recovery = await measureRecovery(known, unknown);
    await stopServer();
    for (const line of recoveryTable(recovery)) console.log(line);
    if (PART === "recovery") return;
  }

  // Phase 1: one real user with ten keys.
  await startServer();
  const email = `bench.${Date.now()}@example.com`;
  await expectStatus(
    request("/api/v1/auth/register", { body: { email, password: PASSWORD, full_name: "Bench User" }, ip: nextIp() }),
    201,
    "register",
  );
  const { access_token } = await expectStatus(
    request("/api/v1/auth/login", { body: { email, password: PASSWORD }, ip: nextIp() }),
    200,
    "login",
  );
  let apiKey = null;
  for (let i = 0; i < 10; i++) {
    const created = await expectStatus(
      request("/api/v1/users/me/api-keys", { token: access_token, body: { name: `bench ${i}` } }),
      201,
      "create key",
    );
    apiKey ??= created.api_key;
  }
  await stopServer();

  const results = [];
  results.push(await runPhase("small", { email }, apiKey));

  // Phase 2: the same key among many users and keys, inserted directly (HTTP would be far too slow).
  const now = Date.now();
  progress(`inserting ${BULK} users and as many API keys straight into the local D1`);
  d1(
    `INSERT INTO users (id, email, password_hash, full_name, created_at, updated_at)
     WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n LIMIT ${BULK})
     SELECT lower(hex(randomblob(16))), 'filler' || x || '@example.com', 'x', 'Filler', ${now}, ${now} FROM n`,
    "seed users",
  );
  d1(
    `INSERT INTO api_keys (id, user_id, name, key_id, secret_hash, scopes, created_at)
     SELECT lower(hex(randomblob(16))), id, 'filler', lower(hex(randomblob(8))), 'sha256:x', '["profile:read"]', ${now}
     FROM users WHERE email LIKE 'filler%'`,
    "seed keys",
  );
  const plan = d1(
    "EXPLAIN QUERY PLAN SELECT * FROM api_keys INNER JOIN users ON users.id = api_keys.user_id WHERE api_keys.key_id = 'x' AND users.deleted_at IS NULL",
    "plan",
  );
  results.push(await runPhase("large", { email }, apiKey));

  console.log("\nQuery plan of the API key lookup:");
  for (const detail of plan.match(/"detail":\s*"[^"]*"/g) ?? []) console.log(`  ${detail.replace(/"detail":\s*/, "")}`);
  console.log("\n| data set | users | api keys | request | n | median ms | p95 ms |");
  console.log("|---|---:|---:|---|---:|---:|---:|");
  for (const phase of results) {
    for (const [name, r] of phase.rows) {
      console.log(
        `| ${phase.label} | ${phase.counts.users} | ${phase.counts.keys} | ${name} | ${r.n} | ${r.median.toFixed(2)} | ${r.p95.toFixed(2)} |`,
      );
    }
  }
}

try {
  await main();
} catch (error) {
  console.error(String(error?.stack ?? error));
  process.exitCode = 1;
} finally {
  await stopServer();
  rmSync(persistDir, { recursive: true, force: true });
}
