// `npm run bench -- --geo`: Gatehouse as a user far from the D1 primary sees it, simulated by
// src/dev/geo-simulation.ts inside a local `wrangler dev` (dev only; see that file). Prints p50/p95
// per endpoint with its floor and the ratio, for Durable Objects near the user and placed far, the
// worst time from a revocation to the first refusal of the revoked token at another location, and
// local throughput ratios without the simulation.
//
// The profile (sources in docs/performance.md#far-from-the-d1-primary): D1 primary 250 ms away, a
// D1 read replica 30 ms away lagging the primary by --lag ms (default 1000), KV 10 ms for a key this
// location read within its cacheTtl and 80 ms otherwise, Durable Objects 15 ms (150 ms when placed
// far).
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pbkdf2Sync } from "node:crypto";
import { bestOfThreeRounds } from "./bench-load.mjs";
import { currentStep, totpCode } from "./totp.mjs";

const PROFILE = { primary_ms: 250, replica_ms: 30, kv_near_ms: 10, kv_far_ms: 80, do_ms: 15, do_far_ms: 150 };
const NEW_PASSWORD = "another horse battery staple 43";
const log = (...args) => console.log(`[geo ${new Date().toISOString().slice(11, 19)}]`, ...args);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * wrangler.toml plus a second local database, `GEO_REPLICA`, that plays the read replica. Written
 * next to the throw-away state, so paths in it are made absolute.
 */
function geoConfig(persistDir) {
  const root = process.cwd();
  const absolute = (p) => JSON.stringify(resolve(root, p));
  const toml = readFileSync(join(root, "wrangler.toml"), "utf8")
    // The bench's own entry: the deployed one (src/index.ts) carries no simulation.
    .replace(/^main = "(.*)"$/m, () => `main = ${absolute("src/dev/geo-entry.ts")}`)
    .replace(/^("[^"]+") = "(\.\/[^"]*)"$/gm, (_, name, p) => `${name} = ${absolute(p)}`)
    .replace(/^migrations_dir = "(.*)"$/m, (_, p) => `migrations_dir = ${absolute(p)}`)
    // The static assets (the message catalogues), which wrangler would look for beside this copy.
    .replace(/^directory = "(.*)"$/m, (_, p) => `directory = ${absolute(p)}`);
  const replica = [
    "",
    "# Added by scripts/bench-geo.mjs: the simulated read replica.",
    "[[d1_databases]]",
    'binding = "GEO_REPLICA"',
    'database_name = "gatehouse-geo-replica"',
    'database_id = "00000000-0000-0000-0000-0000000000bb"',
    `migrations_dir = ${absolute("migrations")}`,
    "",
  ].join("\n");
  const path = join(persistDir, "wrangler.geo.toml");
  writeFileSync(path, toml + replica);
  return path;
}

/** One PBKDF2-SHA256 derivation at the production count, as the floor's CPU part (Node's is close to workerd's). */
function pbkdf2Ms() {
  const runs = [];
  for (let i = 0; i < 5; i++) {
    const start = performance.now();
    pbkdf2Sync("correct horse battery staple 42", "saltsaltsaltsalt", 100_000, 32, "sha256");
    runs.push(performance.now() - start);
  }
  return runs.sort((a, b) => a - b)[2];
}

export async function runGeo(h, { samples, lagMs, localOnly }) {
  if (localOnly) {
    h.wranglerSync(["d1", "migrations", "apply", "DB", "--local", "--persist-to", h.persistDir], "migrations");
    const pbkdf2 = pbkdf2Ms();
    printLocal(await measureLocal(h, pbkdf2), pbkdf2);
    return;
  }
  const config = geoConfig(h.persistDir);
  for (const db of ["DB", "GEO_REPLICA"]) {
    h.wranglerSync(["d1", "migrations", "apply", db, "--local", "--persist-to", h.persistDir, "--config", config], `migrations ${db}`);
  }
  const pbkdf2 = pbkdf2Ms();
  log(`PBKDF2 at 100,000 iterations: ${pbkdf2.toFixed(1)} ms; ${samples} samples per endpoint; replica lag ${lagMs} ms`);
  const settings = JSON.stringify({ ...PROFILE, lag_ms: lagMs });
  await h.startServer(["--config", config, "--var", `DEV_GEO_SIMULATION:${settings}`]);
  log("server up with the simulation");

  const at = (location, farObjects = false) => ({
    "Gatehouse-Dev-Location": location,
    ...(farObjects ? { "Gatehouse-Dev-DO-Placement": "far" } : {}),
  });
  const call = (path, options, location, farObjects) =>
    h.request(path, { ip: h.nextIp(), ...options, headers: { ...at(location, farObjects), ...options.headers } });
  const ok = async (promise, status, label) => h.expectStatus(promise, status, label);
  let counter = 0;
  const freshEmail = () => `geo.${Date.now()}.${++counter}@example.com`;
  const register = async (location = "home") => {
    const email = freshEmail();
    const body = await ok(
      call("/api/v1/auth/register", { body: { email, password: h.PASSWORD, full_name: "Geo" } }, location),
      201,
      "register",
    );
    return { email, userId: body.user.id, accessToken: body.access_token, refreshToken: body.refresh_token };
  };
  const login = (email, location = "home", farObjects = false) =>
    ok(call("/api/v1/auth/login", { body: { email, password: h.PASSWORD } }, location, farObjects), 200, "login");

  /** An account with a passkey, old enough for the replica to know it, and the request options of a sign-in. */
  const SoftwareAuthenticator = await h.loadAuthenticator();
  const passkeyOrigin = "http://localhost:8787"; // PUBLIC_URL as wrangler.toml has it
  const passkeyAccount = async () => {
    const account = await register("user");
    const authenticator = await SoftwareAuthenticator.create();
    const creation = await ok(
      call("/api/v1/users/me/passkeys/options", { method: "POST", token: account.accessToken }, "user"),
      200,
      "options",
    );
    const credential = await authenticator.register(creation, passkeyOrigin);
    await ok(call("/api/v1/users/me/passkeys", { token: account.accessToken, body: { credential } }, "user"), 201, "add passkey");
    await sleep(lagMs + 100);
    return authenticator;
  };

  /** An account with an authenticator enabled, old enough for the replica to know it (each signs in with TOTP once). */
  const totpAccount = async () => {
    const account = await register("user");
    const started = await ok(call("/api/v1/users/me/mfa/totp", { method: "POST", token: account.accessToken }, "user"), 200, "start TOTP");
    const step = currentStep();
    const code = totpCode(started.secret, step);
    await ok(call("/api/v1/users/me/mfa/totp/confirm", { token: account.accessToken, body: { code } }, "user"), 200, "confirm TOTP");
    await sleep(lagMs + 100);
    return { email: account.email, secret: started.secret, step };
  };

  // The measured user, an API key, and time for the replica to catch up with them.
  const user = await register("user");
  const key = await ok(call("/api/v1/users/me/api-keys", { token: user.accessToken, body: { name: "geo" } }, "user"), 201, "create key");
  await sleep(lagMs + 200);

  const results = [];
  for (const farObjects of [false, true]) {
    const doMs = farObjects ? PROFILE.do_far_ms : PROFILE.do_ms;
    const timed = async (name, floor, run, before) => {
      const times = [];
      for (let i = 0; i < samples + 2; i++) {
        const context = before ? await before() : undefined;
        const start = performance.now();
        await run(context);
        if (i >= 2) times.push(performance.now() - start); // two warm-up runs
      }
      const s = h.summarize(times);
      results.push({ placement: farObjects ? "far" : "near", name, p50: s.median, p95: s.p95, floor });
      log(`${farObjects ? "far objects " : "near objects"} ${name}: p50 ${s.median.toFixed(0)} ms, p95 ${s.p95.toFixed(0)} ms`);
    };
    const here = (path, options) => call(path, options, "user", farObjects);
    await timed("token check (`GET /users/me`, access token)", PROFILE.replica_ms, () =>
      ok(here("/api/v1/users/me", { token: user.accessToken }), 200, "token check"),
    );
    await timed("API-key request (`GET /users/me`)", PROFILE.replica_ms, () =>
      ok(here("/api/v1/users/me", { token: key.api_key }), 200, "api key"),
    );
    await timed("`POST /auth/login`", pbkdf2 + PROFILE.primary_ms + doMs, () => login(user.email, "user", farObjects));
    let refreshToken = (await login(user.email, "user", farObjects)).refresh_token;
    await timed(
      "`POST /auth/refresh`",
      PROFILE.primary_ms,
      async () => {
        refreshToken = (await ok(here("/api/v1/auth/refresh", { body: { refresh_token: refreshToken } }), 200, "refresh")).refresh_token;
      },
      // Clients refresh every few minutes: each token is older than the replica lag, as in real use.
      () => sleep(lagMs + 100),
    );
    await timed("`POST /auth/register`", pbkdf2 + PROFILE.primary_ms + doMs, () =>
      ok(here("/api/v1/auth/register", { body: { email: freshEmail(), password: h.PASSWORD, full_name: "Geo" } }), 201, "register"),
    );
    await timed(
      "`POST /auth/logout`",
      PROFILE.primary_ms,
      (session) => ok(here("/api/v1/auth/logout", { method: "POST", token: session.access_token }), 204, "logout"),
      // A session as old as the replica lag at least, as a real logout's is.
      async () => {
        const session = await login(user.email, "user", farObjects);
        await sleep(lagMs + 100);
        return session;
      },
    );
    await timed("`POST /auth/forgot-password`", doMs, () =>
      ok(here("/api/v1/auth/forgot-password", { body: { email: user.email } }), 202, "forgot-password"),
    );
    await timed(
      "`POST /auth/passkey`",
      PROFILE.primary_ms + PROFILE.replica_ms + doMs,
      (credential) => ok(here("/api/v1/auth/passkey", { body: { credential } }), 200, "passkey sign-in"),
      async () => {
        const authenticator = await passkeyAccount();
        const options = await ok(here("/api/v1/auth/passkey/options", { body: {} }), 200, "passkey options");
        return authenticator.assert(options, passkeyOrigin);
      },
    );
    await timed(
      "`POST /auth/login` → 403 `mfa_required`",
      pbkdf2 + doMs,
      (account) => ok(here("/api/v1/auth/login", { body: { email: account.email, password: h.PASSWORD } }), 403, "first factor"),
      () => totpAccount(),
    );
    await timed(
      "`POST /auth/mfa` (TOTP)",
      PROFILE.primary_ms + doMs,
      ({ token, code }) => ok(here("/api/v1/auth/mfa", { body: { mfa_token: token, method: "totp", code } }), 200, "second step"),
      async () => {
        const account = await totpAccount();
        const first = await ok(here("/api/v1/auth/login", { body: { email: account.email, password: h.PASSWORD } }), 403, "first factor");
        return { token: first.mfa_token, code: totpCode(account.secret, account.step + 1) };
      },
    );
  }

  const revocation = await measureRevocation({ h, call, ok, register, login, lagMs });
  await h.stopServer();

  const local = await measureLocal(h, pbkdf2);
  printReport({ results, revocation, local, pbkdf2, lagMs });
}

/**
 * For each kind of revocation: a victim session is used at location "away" (so that location has
 * just read whatever it caches), then revoked at "home"; "away" then retries every 20 ms until it
 * is refused. The time from the revoking response to the refusal, worst of `trials`.
 */
async function measureRevocation({ h, call, ok, register, login, lagMs }) {
  const admin = await register("home");
  await sleep(lagMs + 200);
  await ok(call("/api/v1/users/me", { token: admin.accessToken }, "home"), 200, "admin");
  for (const db of ["DB", "GEO_REPLICA"]) {
    const args = [
      "d1",
      "execute",
      db,
      "--local",
      "--persist-to",
      h.persistDir,
      "--config",
      join(h.persistDir, "wrangler.geo.toml"),
      "--yes",
    ];
    h.wranglerSync([...args, "--command", `UPDATE users SET is_superuser = 1 WHERE id = '${admin.userId}'`], `grant ${db}`);
  }
  const kinds = {
    logout: (victim) => call("/api/v1/auth/logout", { method: "POST", token: victim.accessToken }, "home"),
    "logout-all": (victim, other) => call("/api/v1/auth/logout?scope=all", { method: "POST", token: other.access_token }, "home"),
    "password change": (victim, other) =>
      call(
        "/api/v1/users/me/password",
        { method: "PATCH", token: other.access_token, body: { current_password: h.PASSWORD, new_password: NEW_PASSWORD } },
        "home",
      ),
    deactivation: (victim) => call(`/api/v1/admin/users/${victim.userId}/deactivate`, { method: "POST", token: admin.accessToken }, "home"),
  };
  const rows = [];
  for (const [kind, revoke] of Object.entries(kinds)) {
    let worst = 0;
    for (let trial = 0; trial < 3; trial++) {
      const victim = await register("home");
      const other = await login(victim.email, "home");
      await sleep(lagMs + 200);
      const away = () => call("/api/v1/users/me", { token: victim.accessToken }, "away");
      await ok(away(), 200, `${kind}: before`);
      const res = await revoke(victim, other);
      if (res.status !== 204) throw new Error(`${kind}: revocation answered ${res.status} ${JSON.stringify(res.json)}`);
      const revokedAt = performance.now();
      let refusedAfter = null;
      while (performance.now() - revokedAt < 120_000) {
        const r = await away();
        if (r.status === 401) {
          refusedAfter = performance.now() - revokedAt;
          break;
        }
        await sleep(20);
      }
      if (refusedAfter === null) throw new Error(`${kind}: still accepted 120 s after the revocation`);
      worst = Math.max(worst, refusedAfter);
    }
    rows.push({ kind, worst });
    log(`revocation by ${kind}: refused at another location within ${worst.toFixed(0)} ms (worst of 3)`);
  }
  return rows;
}

/** Without the simulation: throughput of the token check and the API-key request against `/health`, and a login against its floor. */
async function measureLocal(h, pbkdf2) {
  await h.startServer();
  log("server up without the simulation (local ratios)");
  const email = `geo.local.${Date.now()}@example.com`;
  const reg = await h.expectStatus(
    h.request("/api/v1/auth/register", { body: { email, password: h.PASSWORD, full_name: "Local" }, ip: h.nextIp() }),
    201,
    "register",
  );
  const key = await h.expectStatus(
    h.request("/api/v1/users/me/api-keys", { token: reg.access_token, body: { name: "local", current_password: h.PASSWORD } }),
    201,
    "key",
  );
  const rates = await bestOfThreeRounds(
    [
      ["health", () => h.request("/health")],
      ["token", () => h.request("/api/v1/users/me", { token: reg.access_token })],
      ["api key", () => h.request("/api/v1/users/me", { token: key.api_key })],
    ],
    (round, best) =>
      log(
        `round ${round}/3: ${Object.entries(best)
          .map(([k, v]) => `${k} ${v.toFixed(0)}/s`)
          .join(", ")}`,
      ),
  );
  const sequential = async (count, send) => {
    const times = [];
    for (let i = 0; i < count + 3; i++) {
      const start = performance.now();
      const res = await send();
      if (res.status !== 200) throw new Error(`status ${res.status}`);
      if (i >= 3) times.push(performance.now() - start);
    }
    return h.summarize(times).median;
  };
  const bare = await sequential(50, () => h.request("/health"));
  const loginMedian = await sequential(15, () =>
    h.request("/api/v1/auth/login", { body: { email, password: h.PASSWORD }, ip: h.nextIp() }),
  );
  await h.stopServer();
  return { rates, bare, loginMedian, loginFloor: pbkdf2 + bare };
}

function printReport({ results, revocation, local, pbkdf2, lagMs }) {
  console.log(
    `\nGeo profile: D1 primary ${PROFILE.primary_ms} ms, replica ${PROFILE.replica_ms} ms (lag ${lagMs} ms), KV ${PROFILE.kv_near_ms}/${PROFILE.kv_far_ms} ms, Durable Objects ${PROFILE.do_ms} ms (far: ${PROFILE.do_far_ms} ms); PBKDF2 ${pbkdf2.toFixed(1)} ms`,
  );
  console.log("\n| Durable Objects | endpoint | p50 ms | p95 ms | floor ms | p50 / floor |");
  console.log("|---|---|---:|---:|---:|---:|");
  for (const r of results) {
    console.log(
      `| ${r.placement} | ${r.name} | ${r.p50.toFixed(0)} | ${r.p95.toFixed(0)} | ${r.floor.toFixed(0)} | ${(r.p50 / r.floor).toFixed(2)} |`,
    );
  }
  console.log("\n| revocation | worst time to refusal at another location (ms, 3 trials) |");
  console.log("|---|---:|");
  for (const r of revocation) console.log(`| ${r.kind} | ${r.worst.toFixed(0)} |`);
  printLocal(local, pbkdf2);
}

function printLocal(local, pbkdf2) {
  const { rates } = local;
  console.log("\nLocal (no simulation), 1,500 requests at concurrency 8, best of three rounds:");
  console.log("| request | requests/s | × /health |");
  console.log("|---|---:|---:|");
  for (const [name, rate] of Object.entries(rates)) console.log(`| ${name} | ${rate.toFixed(0)} | ${(rate / rates.health).toFixed(2)} |`);
  console.log(
    `\nSequential login median ${local.loginMedian.toFixed(1)} ms; floor (PBKDF2 ${pbkdf2.toFixed(1)} + bare round trip ${local.bare.toFixed(1)}) ${local.loginFloor.toFixed(1)} ms; ratio ${(local.loginMedian / local.loginFloor).toFixed(2)}`,
  );
}
