#!/usr/bin/env node
// `npm run bench:better-auth [-- --rounds 5]`: Gatehouse's token check against better-auth's session
// check, under one harness (scripts/bench-load.mjs, which `npm run bench -- --geo` uses too).
// better-auth is installed into a throw-away directory (not a dependency of this project), runs on
// D1 with its default settings (no cookie cache: every check reads the session and the user), and
// is served by the same wrangler. Each server also gets its `/health`, so the harness's ceiling
// shows. Both servers run at the same time (ports 8897 and 8896), and every round measures all four
// targets, in an order that rotates per round, so background load and a warming machine hit them
// alike. Prints each target's median and best over the rounds and the issue's goals (#35) with the
// measured ratios. Only 127.0.0.1 is used. A missed goal is printed, not an error.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { interleavedRounds, LOAD, stopProcessGroup } from "./bench-load.mjs";
import { goalLine, goalText, verdict } from "./bench-report.mjs";

const { values: opts } = parseArgs({ options: { rounds: { type: "string", default: "5" } } });
const ROUNDS = Math.max(1, Math.min(Number(opts.rounds), 50));
if (!Number.isInteger(ROUNDS)) throw new Error("--rounds is a whole number");

const BETTER_AUTH = "1.7.25";
const PASSWORD = "correct horse battery staple 42";
// No fetch of the `request.cf` sample from workers.cloudflare.com (offline it fails loudly and slows the start).
const env = { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", CI: "1" };
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
  servers.add(child);
  for (let i = 0; i < 240; i++) {
    if (child.exitCode !== null) throw new Error(`${command} ${args.join(" ")} exited with ${child.exitCode}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health`)).ok) return child;
    } catch {
      // not up yet
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`${command} did not come up on port ${port}`);
}

/** Every server this run started (each its own process group: npm/npx, wrangler and workerd). */
const servers = new Set();

async function stop(child) {
  servers.delete(child);
  await stopProcessGroup(child);
}

/** A GET whose body is read before the harness looks at the status. */
const get =
  (url, headers = {}) =>
  async () => {
    const res = await fetch(url, { headers });
    await res.arrayBuffer();
    return res;
  };

/** better-auth: a sign-up, whose session cookie the session check then carries. */
async function betterAuthCookie(port) {
  const signUp = await fetch(`http://127.0.0.1:${port}/api/auth/sign-up/email`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: `http://127.0.0.1:${port}` },
    body: JSON.stringify({ email: "ada@example.com", password: PASSWORD, name: "Ada" }),
  });
  const cookie = signUp.headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .join("; ");
  if (!signUp.ok || !cookie) throw new Error(`better-auth sign-up: ${signUp.status} ${await signUp.text()}`);
  return cookie;
}

/** Gatehouse: a registration, whose access token the token check then carries. */
async function gatehouseToken(port) {
  const registered = await fetch(`http://127.0.0.1:${port}/api/v1/auth/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: "ada@example.com", password: PASSWORD, full_name: "Ada" }),
  });
  const body = await registered.json().catch(() => null);
  if (!body?.access_token) throw new Error(`Gatehouse register: ${registered.status} ${JSON.stringify(body)}`);
  return body.access_token;
}

const TARGETS = {
  "ba-health": `better-auth ${BETTER_AUTH}: bare \`/health\` (no middleware)`,
  "ba-session": `better-auth ${BETTER_AUTH}: \`GET /api/auth/get-session\``,
  "gh-health": "Gatehouse: `GET /health` (full middleware; in dev mode no request line for a 200)",
  "gh-token": "Gatehouse: `GET /api/v1/users/me`, access token",
};

async function main() {
  const baDir = join(work, "better-auth");
  mkdirSync(baDir);
  writeBetterAuthWorker(baDir);
  progress(`installing better-auth ${BETTER_AUTH} into ${baDir}`);
  run("npm", ["install", "--no-audit", "--no-fund", `better-auth@${BETTER_AUTH}`], baDir);
  run(wrangler, ["d1", "migrations", "apply", "DB", "--local", "--persist-to", join(baDir, "state")], baDir);

  const baPort = 8897;
  const ghPort = 8896;
  progress(`starting better-auth on ${baPort} and Gatehouse on ${ghPort}`);
  const [ba, gh] = await Promise.all([
    serve(
      wrangler,
      [
        "dev",
        "--ip",
        "127.0.0.1",
        "--port",
        String(baPort),
        "--inspector-port",
        String(baPort + 1000),
        "--persist-to",
        join(baDir, "state"),
      ],
      baDir,
      baPort,
    ),
    serve(
      "npm",
      [
        "run",
        "dev",
        "--",
        "--port",
        String(ghPort),
        "--inspector-port",
        String(ghPort + 1000),
        "--persist-to",
        join(work, "gatehouse-state"),
      ],
      root,
      ghPort,
    ),
  ]);
  const cookie = await betterAuthCookie(baPort);
  const token = await gatehouseToken(ghPort);
  progress(`both up; ${ROUNDS} interleaved rounds of ${LOAD.total} requests at concurrency ${LOAD.concurrency} per target`);
  const rates = await interleavedRounds(
    [
      ["ba-health", get(`http://127.0.0.1:${baPort}/health`)],
      ["ba-session", get(`http://127.0.0.1:${baPort}/api/auth/get-session`, { cookie })],
      ["gh-health", get(`http://127.0.0.1:${ghPort}/health`)],
      ["gh-token", get(`http://127.0.0.1:${ghPort}/api/v1/users/me`, { authorization: `Bearer ${token}` })],
    ],
    {
      rounds: ROUNDS,
      report: (round, r) =>
        progress(
          `round ${round}/${ROUNDS}: ${Object.entries(r)
            .map(([k, v]) => `${k} ${v.toFixed(0)}/s`)
            .join(", ")}`,
        ),
    },
  );
  await Promise.all([stop(ba), stop(gh)]);

  console.log(
    `\n${ROUNDS} interleaved rounds (order rotating per round), ${LOAD.total} requests at concurrency ${LOAD.concurrency} per target and round, both servers up throughout:`,
  );
  console.log("\n| target | median req/s | best req/s | every round (req/s) |");
  console.log("|---|---:|---:|---|");
  for (const [name, label] of Object.entries(TARGETS)) {
    const r = rates[name];
    console.log(`| ${label} | ${r.median.toFixed(0)} | ${r.best.toFixed(0)} | ${r.rounds.map((v) => v.toFixed(0)).join(", ")} |`);
  }
  const goals = [
    ["Gatehouse token check ÷ better-auth session check", "gh-token", "ba-session", { min: 1.5 }],
    ["Gatehouse token check ÷ Gatehouse `/health`", "gh-token", "gh-health", { min: 0.9 }],
    ["Gatehouse `/health` ÷ better-auth `/health`", "gh-health", "ba-health", { min: 1.0 }],
  ];
  console.log("\n| goal (issue #35) | goal | measured (medians) | measured (bests) | verdict |");
  console.log("|---|---:|---:|---:|---|");
  for (const [label, a, b, goal] of goals) {
    const ratio = rates[a].median / rates[b].median;
    const bestRatio = rates[a].best / rates[b].best;
    console.log(`| ${label} | ${goalText(goal)} | ${ratio.toFixed(2)}× | ${bestRatio.toFixed(2)}× | ${verdict(ratio, goal)} |`);
  }
  console.log("");
  for (const [label, a, b, goal] of goals) console.log(goalLine(label, goal, rates[a].median / rates[b].median));
}

try {
  await main();
} catch (error) {
  console.error(String(error?.stack ?? error));
  process.exitCode = 1;
} finally {
  await Promise.all([...servers].map(stop));
  rmSync(work, { recursive: true, force: true });
}
