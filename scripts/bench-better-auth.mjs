#!/usr/bin/env node
// `npm run bench:better-auth`: Gatehouse's token check against better-auth's session check, under
// one harness (scripts/bench-load.mjs, which `npm run bench -- --geo --local-only` uses too). better-auth is installed into a throw-away
// directory (not a dependency of this project), runs on D1 with its default settings (no cookie
// cache: every check reads the session and the user), and is served by the same wrangler. Each
// server also gets its bare `/health`, so the harness's own ceiling shows. Only 127.0.0.1 is used.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bestOfThreeRounds } from "./bench-load.mjs";

const BETTER_AUTH = "1.7.25";
const PASSWORD = "correct horse battery staple 42";
const env = { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "1" };
const root = process.cwd();
const wrangler = join(root, "node_modules", ".bin", "wrangler");
const work = mkdtempSync(join(tmpdir(), "gatehouse-vs-better-auth-"));
const progress = (text) => console.error(`[vs better-auth] ${text}`);

function run(command, args, cwd) {
  const result = spawnSync(command, args, { cwd, env, encoding: "utf8", input: "y\n", maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed:\n${result.stdout}\n${result.stderr}`);
}

/** better-auth's worker: its handler, and a bare /health. */
function writeBetterAuthWorker(dir) {
  mkdirSync(join(dir, "src"));
  mkdirSync(join(dir, "migrations"));
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "better-auth-bench", private: true, type: "module" }));
  writeFileSync(
    join(dir, "src", "index.js"),
    `import { betterAuth } from "better-auth";
let auth;
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/health") return new Response("ok");
    auth ??= betterAuth({ database: env.DB, secret: "bench-secret-bench-secret-bench-secret-0123", baseURL: url.origin,
      emailAndPassword: { enabled: true }, telemetry: { enabled: false }, rateLimit: { enabled: false } });
    return auth.handler(request);
  },
};
`,
  );
  // better-auth's core schema for SQLite (its CLI would generate the same tables).
  writeFileSync(
    join(dir, "migrations", "0001_init.sql"),
    `CREATE TABLE "user" (id TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL UNIQUE, emailVerified INTEGER NOT NULL, image TEXT, createdAt DATE NOT NULL, updatedAt DATE NOT NULL);
CREATE TABLE "session" (id TEXT PRIMARY KEY, expiresAt DATE NOT NULL, token TEXT NOT NULL UNIQUE, createdAt DATE NOT NULL, updatedAt DATE NOT NULL, ipAddress TEXT, userAgent TEXT, userId TEXT NOT NULL REFERENCES "user"(id));
CREATE TABLE "account" (id TEXT PRIMARY KEY, accountId TEXT NOT NULL, providerId TEXT NOT NULL, userId TEXT NOT NULL REFERENCES "user"(id), accessToken TEXT, refreshToken TEXT, idToken TEXT, accessTokenExpiresAt DATE, refreshTokenExpiresAt DATE, scope TEXT, password TEXT, createdAt DATE NOT NULL, updatedAt DATE NOT NULL);
CREATE TABLE "verification" (id TEXT PRIMARY KEY, identifier TEXT NOT NULL, value TEXT NOT NULL, expiresAt DATE NOT NULL, createdAt DATE, updatedAt DATE);
CREATE INDEX session_userId ON "session"(userId);
CREATE INDEX account_userId ON "account"(userId);
`,
  );
  writeFileSync(
    join(dir, "wrangler.toml"),
    `name = "better-auth-bench"
main = "src/index.js"
compatibility_date = "2026-10-23"
compatibility_flags = ["nodejs_compat"]
[[d1_databases]]
binding = "DB"
database_name = "better-auth-bench"
database_id = "00000000-0000-0000-0000-0000000000ba"
migrations_dir = "migrations"
`,
  );
}

/** Starts a dev server (its own process group) and resolves once /health answers. */
async function serve(command, args, cwd, port) {
  const child = spawn(command, args, { cwd, env, stdio: "ignore", detached: true });
  for (let i = 0; i < 120; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health`)).ok) return child;
    } catch {
      // not up yet
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  process.kill(-child.pid, "SIGTERM");
  throw new Error(`${command} did not come up on port ${port}`);
}

async function stop(child) {
  process.kill(-child.pid, "SIGTERM");
  await new Promise((resolve) => child.once("exit", resolve));
}

/** A GET whose body is read before the harness looks at the status. */
const get =
  (url, headers = {}) =>
  async () => {
    const res = await fetch(url, { headers });
    await res.arrayBuffer();
    return res;
  };

const roundProgress = (round, best) =>
  progress(
    `round ${round}/3: ${Object.entries(best)
      .map(([k, v]) => `${k} ${v.toFixed(0)}/s`)
      .join(", ")}`,
  );

async function main() {
  const baDir = join(work, "better-auth");
  mkdirSync(baDir);
  writeBetterAuthWorker(baDir);
  progress(`installing better-auth ${BETTER_AUTH} into ${baDir}`);
  run("npm", ["install", "--no-audit", "--no-fund", `better-auth@${BETTER_AUTH}`], baDir);
  run(wrangler, ["d1", "migrations", "apply", "DB", "--local", "--persist-to", join(baDir, "state")], baDir);

  progress("better-auth: signing up, then measuring");
  const baPort = 8897;
  const ba = await serve(
    wrangler,
    ["dev", "--ip", "127.0.0.1", "--port", String(baPort), "--inspector-port", String(baPort + 1000), "--persist-to", join(baDir, "state")],
    baDir,
    baPort,
  );
  let baRates;
  try {
    const signUp = await fetch(`http://127.0.0.1:${baPort}/api/auth/sign-up/email`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: `http://127.0.0.1:${baPort}` },
      body: JSON.stringify({ email: "ada@example.com", password: PASSWORD, name: "Ada" }),
    });
    const cookie = signUp.headers
      .getSetCookie()
      .map((c) => c.split(";")[0])
      .join("; ");
    if (!signUp.ok || !cookie) throw new Error(`better-auth sign-up: ${signUp.status}`);
    baRates = await bestOfThreeRounds(
      [
        ["health", get(`http://127.0.0.1:${baPort}/health`)],
        ["session", get(`http://127.0.0.1:${baPort}/api/auth/get-session`, { cookie })],
      ],
      roundProgress,
    );
  } finally {
    await stop(ba);
  }

  progress("Gatehouse: registering, then measuring");
  const ghPort = 8896;
  const gh = await serve(
    "npm",
    ["run", "dev", "--", "--port", String(ghPort), "--persist-to", join(work, "gatehouse-state")],
    root,
    ghPort,
  );
  let ghRates;
  try {
    const registered = await fetch(`http://127.0.0.1:${ghPort}/api/v1/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "ada@example.com", password: PASSWORD, full_name: "Ada" }),
    });
    const { access_token: token } = await registered.json();
    if (!token) throw new Error(`Gatehouse register: ${registered.status}`);
    ghRates = await bestOfThreeRounds(
      [
        ["health", get(`http://127.0.0.1:${ghPort}/health`)],
        ["token", get(`http://127.0.0.1:${ghPort}/api/v1/users/me`, { authorization: `Bearer ${token}` })],
      ],
      roundProgress,
    );
  } finally {
    await stop(gh);
  }

  console.log("\n| server | request | requests/s |");
  console.log("|---|---|---:|");
  console.log(`| better-auth ${BETTER_AUTH} | bare \`/health\` (no middleware) | ${baRates.health.toFixed(0)} |`);
  console.log(`| better-auth ${BETTER_AUTH} | \`GET /api/auth/get-session\` | ${baRates.session.toFixed(0)} |`);
  console.log(`| Gatehouse | \`GET /health\` (full middleware, one log line) | ${ghRates.health.toFixed(0)} |`);
  console.log(`| Gatehouse | \`GET /api/v1/users/me\`, access token | ${ghRates.token.toFixed(0)} |`);
  console.log(`\nGatehouse's token check ÷ better-auth's session check: ${(ghRates.token / baRates.session).toFixed(2)}`);
}

try {
  await main();
} finally {
  rmSync(work, { recursive: true, force: true });
}
