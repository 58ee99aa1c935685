#!/usr/bin/env node
// `npm run soak [-- --minutes 10 --port 8830 --concurrency 6 --faults '{"d1":0.02,…}']`
//
// Gatehouse under sustained mixed load while its storage fails. Starts `npm run dev` (scripts/dev.mjs)
// on a throw-away state directory, with the fault-injecting entry src/dev/fault-entry.ts (never
// deployed), a loopback webhook receiver (scripts/soak-receiver.mjs) and the loopback sign-in
// providers (scripts/fake-services.mjs). For `--minutes` it drives a mix of registrations, every
// sign-in method (password, TOTP second step, passkey, emailed code, an external provider, the
// OpenID provider's token endpoint), refreshes (some presented twice at once), token and API-key
// checks, resets, password changes, logouts and admin actions, while D1 statements, Durable Object
// calls, KV calls and queue sends fail at the set rates. Every minute it also bursts a per-IP limit
// and a lockout. Then, with faults off, it probes every credential change it made, drains the
// events, stops the server and reads the local D1. It prints each invariant and, as its last line,
// one JSON object; it exits 1 when an invariant fails. It talks only to 127.0.0.1 and stops itself.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { parseArgs } from "node:util";
import { fetchOnce, serverRequest, stopProcessGroup } from "./bench-load.mjs";
import { progressLine } from "./bench-report.mjs";
import { loadSoftwareAuthenticator, oidcClient } from "./bench-sign-in.mjs";
import { writeDevConfig } from "./dev-entry-config.mjs";
import { fakeProviderVars, startFakeServices } from "./fake-services.mjs";
import {
  eventsDelivered,
  flat,
  limitsExact,
  noPartialCredentialChange,
  noUndeclared5xx,
  oneLiveTokenPerFamily,
  p99,
} from "./soak-invariants.mjs";
import { newWebhookSecret, startReceiver } from "./soak-receiver.mjs";
import { currentStep, totpCode } from "./totp.mjs";
import { openWorkerHeap } from "./worker-heap.mjs";

const { values: opts } = parseArgs({
  options: {
    minutes: { type: "string", default: "10" },
    port: { type: "string", default: "8830" },
    concurrency: { type: "string", default: "6" },
    faults: { type: "string", default: '{"d1":0.02,"durable_object":0.02,"kv":0.02,"queue":0.1}' },
    "keep-state": { type: "boolean", default: false },
    // Writes the worker's heap at the end of the first window and at the end (first.heapsnapshot,
    // last.heapsnapshot) into this directory: `node scripts/heap-diff.mjs` shows what grew.
    "heap-snapshots": { type: "string" },
  },
});
const MINUTES = Number(opts.minutes);
if (!(MINUTES >= 1 && MINUTES <= 120)) throw new Error("--minutes is from 1 to 120");
const PORT = Number(opts.port);
const CONCURRENCY = Math.max(1, Math.min(Number(opts.concurrency), 32));
const FAULTS = JSON.parse(opts.faults);
const BASE = `http://127.0.0.1:${PORT}`;
// Passkeys need a domain name for the relying party: the pages and tokens name localhost, while the
// soak connects to 127.0.0.1 (the address the server listens on).
const PUBLIC_URL = `http://localhost:${PORT}`;
const PASSWORD = "correct horse battery staple 42";
const NEW_PASSWORD = "another horse battery staple 43";

/** What the limit probes rely on, as RATE_LIMITS' defaults have them (src/config/rate-limits.ts). */
const LOGIN_IP_MINUTE = 5;
const LOCKOUT_SOFT_AFTER = 5;
/** How far apart the limit probes run, and the memory samples are taken. */
const PROBE_EVERY_MS = 60_000;
/** Time for a login's settle (after its answer, in `waitUntil`) to land before the next probe guess. */
const SETTLE_MS = 300;
const MEMORY_EVERY_MS = 10_000;
/** The windows the first and last latency and memory figures come from. */
const WINDOW_MS = Math.min(60_000, (MINUTES * 60_000) / 3);
/** Flat means: the last window within these of the first (see soak-invariants.mjs `flat`). */
const LATENCY_BOUND = { factor: 1.5, slack: 100 };
const MEMORY_BOUND = { factor: 1.1, slack: 64 };
/**
 * The worker's heap after a collection (worker-heap.mjs): a few MB, some of it caches that fill
 * over the first minutes (the verified-token cache holds every token until it expires). A leak of
 * 4 KB a request passes the slack within two minutes of the soak's load.
 */
const HEAP_BOUND = { factor: 1.5, slack: 8 };
/** Requests that bring workerd's pools to their level before the load (see warmUp). */
const WARM_UP_REQUESTS = 20_000;
/** A request with no answer in this long counts as one that failed without an answer. */
const ANSWER_WITHIN_MS = 30_000;
/** How long the events may take to drain once the load stops. */
const DRAIN_MS = 240_000;

// The per-account and per-mailbox limits a soak's repeated sign-ins of a few accounts would reach
// (it measures correctness, not those limits); the limits the probes check keep their defaults.
// Spraying detection is raised too: the probes fail logins by the dozen a minute on purpose, and a
// deployment under attack asks every login for a challenge.
const RAISED = { limit: 1_000_000, window: 3600 };
const SOAK_LIMITS = JSON.stringify({
  login_account_hour: RAISED,
  api_key_create_user_hour: RAISED,
  forgot_password_account_hour: RAISED,
  mail_stranger_mailbox_hour: RAISED,
  mail_account_mailbox_hour: RAISED,
  email_code_address_day: RAISED,
  email_code_address_30_days: RAISED,
  spraying: { minimum_per_minute: 1_000_000 },
});

const persistDir = mkdtempSync(join(tmpdir(), "gatehouse-soak-"));
const env = { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", CI: "1" };
const started = performance.now();
const progress = (message) => console.error(progressLine(performance.now() - started, message, "soak"));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const pick = (items) => items[Math.floor(Math.random() * items.length)];

// ---------------------------------------------------------------------------------------------
// What the run observes

const observed = {
  requests: 0,
  /** [start ms since the load began, duration ms] of every load request. */
  latencies: [],
  /** Every answer at 500 or above. */
  fiveHundreds: [],
  /** Answers per status. */
  statuses: new Map(),
  /** Operations that finished, and those a fault (a 503) cut short, per name. */
  operations: new Map(),
  /** presented refresh token → the refresh tokens its 200 answers carried. */
  successors: new Map(),
  /** @type {import("./soak-invariants.mjs").CredentialChange[]} */
  changes: [],
  /** @type {{ ip: any[], lockout: any[] }} */
  probes: { ip: [], lockout: [] },
  /** [ms since the load began, workerd's resident MB, the worker's heap MB after a collection or null] */
  memory: [],
};
let loadStartedAt = 0;

/**
 * The clients: a population of addresses the mix's requests come from, each request from one of
 * them at random (a site's visitors come back; an address seen once per request would also make a
 * Durable Object per request, which the local runtime keeps in memory for the whole run).
 */
const CLIENTS = 2000;
const nextIp = () => {
  const n = Math.floor(Math.random() * CLIENTS);
  return `10.1.${n >> 8}.${n & 255}`;
};
let probeCounter = 0;
/** An address no other request uses, for the limit probes. */
const probeIp = () => {
  probeCounter += 1;
  return `10.2.${(probeCounter >> 8) & 255}.${probeCounter & 255}`;
};

/**
 * One request (see serverRequest), from one of the clients unless `ip` says otherwise. Records its
 * latency (during the load), its status and every 5xx; adds the faults the server injected while
 * answering (`Gatehouse-Dev-Faults`).
 */
async function request(path, options = {}) {
  const at = performance.now();
  let res;
  try {
    res = await serverRequest(BASE, path, { ip: nextIp(), signal: AbortSignal.timeout(ANSWER_WITHIN_MS), ...options });
  } catch (error) {
    // No answer at all (a timeout, a dropped connection): worse than any 5xx, and counted as one.
    observed.requests += 1;
    observed.fiveHundreds.push({
      path: path.split("?")[0],
      status: 0,
      retryAfter: null,
      contentType: "",
      code: String(error?.name ?? error),
    });
    throw Object.assign(new Error(`${path}: no answer (${error?.message ?? error})`), { status: 0 });
  }
  observed.requests += 1;
  if (loadStartedAt) observed.latencies.push([at - loadStartedAt, performance.now() - at]);
  observed.statuses.set(res.status, (observed.statuses.get(res.status) ?? 0) + 1);
  if (res.status >= 500) {
    observed.fiveHundreds.push({
      path: path.split("?")[0],
      status: res.status,
      retryAfter: res.headers.get("retry-after"),
      contentType: res.headers.get("content-type") ?? "",
      code: res.json?.code ?? res.json?.error ?? null,
    });
  }
  return { ...res, faults: (res.headers.get("gatehouse-dev-faults") ?? "").split(", ").filter(Boolean) };
}

/** Thrown when an answer is not the one an operation needs; a 503 means a fault cut it short. */
class Unexpected extends Error {
  constructor(label, res) {
    super(`${label}: ${res.status} ${res.text.slice(0, 200)}`);
    this.status = res.status;
  }
}

async function expect(promise, status, label) {
  const res = await promise;
  if (res.status !== status) throw new Unexpected(label, res);
  return res;
}

/** The same, until it is not a 503 (a fault): `tries` at most. */
async function retrying(send, status, label, tries = 8) {
  for (let i = 1; ; i++) {
    const res = await send();
    if (res.status === status) return res;
    if (res.status !== 503 || i >= tries) throw new Unexpected(label, res);
  }
}

/** The bench helpers' shape (`h`) over this client, for the flows the benches share. */
const h = {
  request,
  nextIp,
  expectStatus: async (promise, status, label) => (await expect(promise, status, label)).json,
};

// ---------------------------------------------------------------------------------------------
// The server, the receiver and the fakes

let server = null;

async function startServer({ receiver, webhookSecret, fakes }) {
  // nodejs_als: the entry tells each answer which faults it met (AsyncLocalStorage; fault-entry.ts).
  const config = writeDevConfig(persistDir, { entry: "src/dev/fault-entry.ts", fileName: "wrangler.soak.toml", flags: ["nodejs_als"] });
  const providers = fakeProviderVars(fakes);
  const vars = {
    PUBLIC_URL,
    JWT_ISSUER: PUBLIC_URL,
    // Starts with no faults: the set-up runs clean, then the load switches them on (PUT /api/v1/dev/faults).
    DEV_FAULTS: JSON.stringify({ d1: 0, durable_object: 0, kv: 0, queue: 0 }),
    WEBHOOK_URL: receiver.url,
    WEBHOOK_SECRET: webhookSecret,
    RATE_LIMITS: SOAK_LIMITS,
    OAUTH_PROVIDERS: providers.OAUTH_PROVIDERS,
    OAUTH_CLIENT_SECRETS: providers.OAUTH_CLIENT_SECRETS,
  };
  const args = ["scripts/dev.mjs", "--config", config, "--persist-to", persistDir, "--ip", "127.0.0.1", "--port", String(PORT)];
  args.push("--inspector-port", String(PORT + 1000), "--test-scheduled", "--show-interactive-dev-session=false", "--log-level", "warn");
  args.push("--var", ...Object.entries(vars).map(([name, value]) => `${name}:${value}`));
  progress(`starting npm run dev (fault-injecting entry) at ${BASE}…`);
  const child = spawn(process.execPath, args, { env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  const tail = [];
  const keep = (chunk) => {
    tail.push(...String(chunk).split("\n"));
    tail.splice(0, Math.max(0, tail.length - 60));
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  server = { child, tail, config };
  for (let i = 0; i < 480; i++) {
    if (child.exitCode !== null) throw new Error(`npm run dev exited:\n${tail.join("\n")}`);
    try {
      if ((await fetch(`${BASE}/health`)).ok) return progress("the server is up");
    } catch {
      // not listening yet
    }
    await sleep(250);
  }
  throw new Error(`npm run dev did not come up:\n${tail.join("\n")}`);
}

async function setFaults(rates) {
  const res = await fetch(`${BASE}/api/v1/dev/faults`, {
    method: "PUT",
    body: JSON.stringify(rates),
    headers: { "Content-Type": "application/json" },
  });
  if (!res.ok) throw new Error(`setting the fault rates: ${res.status} ${await res.text()}`);
  return res.json();
}

/** The workerd processes below the dev server (wrangler runs workerd as its child): their resident MB. */
function workerdMemoryMb() {
  if (!server) return 0;
  const parents = new Map();
  const names = new Map();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      names.set(Number(entry), stat.slice(stat.indexOf("(") + 1, close));
      parents.set(Number(entry), Number(stat.slice(close + 2).split(" ")[1]));
    } catch {
      // gone meanwhile
    }
  }
  const below = (pid) => {
    for (let p = parents.get(pid); p !== undefined && p > 1; p = parents.get(p)) if (p === server.child.pid) return true;
    return false;
  };
  let kb = 0;
  for (const [pid, name] of names) {
    if (!name.startsWith("workerd") || !below(pid)) continue;
    try {
      kb += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
    } catch {
      // gone meanwhile
    }
  }
  return Math.round(kb / 1024);
}

/**
 * Brings workerd's pools to the level they keep: under wrangler dev its resident memory grows with
 * the request count until about 20,000 requests, even for `/health` (the worker's own JavaScript
 * heap stays near 10 MB meanwhile: worker-heap.mjs), and then holds. `count` requests for
 * `/health`, 8 at a time, before anything is measured.
 */
async function warmUp(count) {
  let sent = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (sent < count) {
        sent += 1;
        await (await fetchOnce(`${BASE}/health`, { signal: AbortSignal.timeout(ANSWER_WITHIN_MS) })).arrayBuffer();
      }
    }),
  );
}

/** The local D1 file of the run (miniflare's SQLite for the `DB` binding). */
function openD1() {
  const dir = join(persistDir, "v3", "d1", "miniflare-D1DatabaseObject");
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".sqlite"))) {
    // Waits out a lock: the server writes while it runs, and its workerd may outlive the stop by a moment.
    const db = new DatabaseSync(join(dir, file), { readOnly: true, timeout: 15_000 });
    const users = db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'users'").get();
    if (users.n > 0) return db;
    db.close();
  }
  throw new Error(`no local D1 with a users table under ${dir}`);
}

// ---------------------------------------------------------------------------------------------
// Accounts and the operations of the mix

let emailCounter = 0;
const newEmail = (kind) => `soak.${kind}.${Date.now().toString(36)}.${++emailCounter}@example.com`;

/** Accounts the mix signs in and refreshes; each used by one operation at a time. */
const pool = { password: [], totp: [], passkey: [], emailCode: [], busy: new Set() };
let admin = null;
let oidc = null;
let SoftwareAuthenticator = null;

async function register(kind, ip = nextIp()) {
  const email = newEmail(kind);
  const res = await expect(
    request("/api/v1/auth/register", { body: { email, password: PASSWORD, full_name: "Soak Test" }, ip }),
    201,
    "register",
  );
  return { email, password: PASSWORD, userId: res.json.user.id, access: res.json.access_token, refresh: res.json.refresh_token };
}

async function login(email, password, ip = nextIp()) {
  return request("/api/v1/auth/login", { body: { email, password }, ip });
}

/** Takes a pool account no other operation holds, or undefined. */
function borrow(list) {
  const free = list.filter((a) => !pool.busy.has(a));
  const account = free.length > 0 ? pick(free) : undefined;
  if (account) pool.busy.add(account);
  return account;
}

/** Presents `account.refresh` (twice at once with `race`), records the successors, keeps the new tokens. */
async function refresh(account, race = false) {
  const presented = account.refresh;
  const send = () => request("/api/v1/auth/refresh", { body: { refresh_token: presented } });
  const answers = race ? await Promise.all([send(), send()]) : [await send()];
  const next = observed.successors.get(presented) ?? new Set();
  observed.successors.set(presented, next);
  for (const res of answers) {
    if (res.status !== 200) continue;
    next.add(res.json.refresh_token);
    account.refresh = res.json.refresh_token;
    account.access = res.json.access_token;
  }
  if (answers.every((a) => a.status === 401)) account.dead = true;
  return answers.find((a) => a.status === 200) ?? answers[0];
}

/** A dead session (logged out, or a refresh refused) signs in again with the password. */
async function revive(account) {
  const res = await login(account.email, account.password);
  if (res.status !== 200) throw new Unexpected("sign in again", res);
  account.refresh = res.json.refresh_token;
  account.access = res.json.access_token;
  account.dead = false;
}

async function outboxOf(email) {
  // The outbox is in KV, which fails now and then too: an empty answer for a failed read would make
  // the count before a request 0, and then the newest old code would pass for the new one.
  for (;;) {
    const res = await request(`/api/v1/dev/outbox?to=${encodeURIComponent(email)}`);
    if (res.status === 200) return res.json.messages;
    if (res.status !== 503) throw new Error(`reading the dev outbox: ${res.status}`);
    await sleep(100);
  }
}

/** The newest mail of `kind` past the first `before`, polled for `ms` (mail is sent after the answer). */
async function mailOf(email, kind, before, ms = 8000) {
  const deadline = performance.now() + ms;
  while (performance.now() < deadline) {
    const mail = (await outboxOf(email)).filter((m) => m.kind === kind);
    if (mail.length > before) return mail[0];
    await sleep(100);
  }
  return undefined;
}

const countMail = async (email, kind) => (await outboxOf(email)).filter((m) => m.kind === kind).length;

/** Cookies a response set, as `name=value` pairs. */
const setCookies = (res) => res.headers.getSetCookie().map((c) => c.split(";")[0]);

const OPERATIONS = {
  /** A new account; some join the pool. */
  async register() {
    const account = await register("user");
    if (pool.password.length < 60) pool.password.push(account);
  },
  /** The password sign-in of a pool account. */
  async passwordLogin() {
    const account = borrow(pool.password);
    if (!account) return;
    try {
      const res = await login(account.email, account.password);
      if (res.status !== 200) throw new Unexpected("login", res);
      account.refresh = res.json.refresh_token;
      account.access = res.json.access_token;
      account.dead = false;
    } finally {
      pool.busy.delete(account);
    }
  },
  /** A wrong password now and then (one per account: the lockout stays far away). */
  async wrongPassword() {
    const account = pool.password.find((a) => !a.guessedWrong);
    if (!account) return;
    account.guessedWrong = true;
    await expect(login(account.email, "not the password at all"), 401, "wrong password");
  },
  /** What a site's API does on every request: the access token, then an API key. */
  async tokenCheck() {
    const account = pick(pool.password.filter((a) => !a.dead && a.access));
    if (!account) return;
    const res = await request("/api/v1/users/me", { token: account.access });
    if (res.status === 401) account.dead = true;
    else if (res.status !== 200) throw new Unexpected("token check", res);
    if (account.apiKey) await expect(request("/api/v1/users/me", { token: account.apiKey }), 200, "API key check");
  },
  async refresh() {
    const account = borrow(pool.password);
    if (!account) return;
    try {
      if (account.dead) return await revive(account);
      const res = await refresh(account, Math.random() < 0.2);
      if (res.status !== 200 && res.status !== 401) throw new Unexpected("refresh", res);
    } finally {
      pool.busy.delete(account);
    }
  },
  async apiKey() {
    const account = borrow(pool.password.filter((a) => !a.apiKey));
    if (!account) return;
    try {
      const fresh = await login(account.email, account.password);
      if (fresh.status !== 200) throw new Unexpected("login", fresh);
      const res = await expect(
        request("/api/v1/users/me/api-keys", { token: fresh.json.access_token, body: { name: "soak" } }),
        201,
        "API key",
      );
      account.apiKey = res.json.api_key;
    } finally {
      pool.busy.delete(account);
    }
  },
  async logout() {
    const account = borrow(pool.password.filter((a) => !a.dead));
    if (!account) return;
    try {
      const all = Math.random() < 0.3;
      await expect(
        request(`/api/v1/auth/logout${all ? "?scope=all" : ""}`, { token: account.access, body: { refresh_token: account.refresh } }),
        204,
        "logout",
      );
      account.dead = true;
    } finally {
      pool.busy.delete(account);
    }
  },
  /** Both steps of a TOTP sign-in (a code's step must be later than the account's last accepted one). */
  async totpSignIn() {
    const step = currentStep();
    const account = borrow(pool.totp.filter((a) => a.lastStep < step));
    if (!account) return;
    try {
      const first = await expect(login(account.email, account.password), 403, "first factor");
      const res = await request("/api/v1/auth/mfa", {
        body: { mfa_token: first.json.mfa_token, method: "totp", code: totpCode(account.secret, step) },
      });
      // Whatever the answer, the step may be spent: a code is accepted once, and a fault after its
      // acceptance was recorded still answers 503.
      account.lastStep = step;
      if (res.status !== 200) throw new Unexpected("TOTP step", res);
    } finally {
      pool.busy.delete(account);
    }
  },
  async passkeySignIn() {
    const account = borrow(pool.passkey);
    if (!account) return;
    try {
      const ip = nextIp();
      const options = await expect(request("/api/v1/auth/passkey/options", { body: {}, ip }), 200, "passkey options");
      const credential = await account.authenticator.assert(options.json, PUBLIC_URL);
      await expect(request("/api/v1/auth/passkey", { body: { credential }, ip }), 200, "passkey sign-in");
    } finally {
      pool.busy.delete(account);
    }
  },
  async emailCodeSignIn() {
    const account = borrow(pool.emailCode);
    if (!account) return;
    try {
      const before = await countMail(account.email, "sign_in_code");
      await expect(request("/api/v1/auth/email-code", { body: { email: account.email } }), 202, "email code");
      const mail = await mailOf(account.email, "sign_in_code", before);
      if (!mail) return; // its sending failed: nothing was issued
      await expect(
        request("/api/v1/auth/email-code/verify", { body: { email: account.email, code: mail.code } }),
        200,
        "email code sign-in",
      );
    } finally {
      pool.busy.delete(account);
    }
  },
  /** "Sign in with Google" against the loopback fake: half new people, half returning ones. */
  async externalSignIn() {
    const subject = Math.random() < 0.5 && pool.external?.length ? pick(pool.external) : `soak-${crypto.randomUUID()}`;
    const ip = nextIp();
    const start = await expect(request("/api/v1/auth/oauth/google/start", { ip }), 302, "provider start");
    const flowCookie = setCookies(start).join("; ");
    const authorize = new URL(start.headers.get("location"));
    const identity = { sub: subject, email: `${subject}@gmail.example`, email_verified: true, name: "Soak Person" };
    authorize.searchParams.set("identity", JSON.stringify(identity));
    const approved = await fetch(authorize, { redirect: "manual" });
    if (approved.status !== 302) throw new Error(`the fake provider answered ${approved.status}`);
    const callback = new URL(approved.headers.get("location"));
    const done = await expect(request(callback.pathname + callback.search, { ip, cookie: flowCookie }), 303, "provider callback");
    if (!setCookies(done).some((c) => c.startsWith("__Host-gh_rt="))) throw new Error("the provider callback set no session");
    pool.external ??= [];
    if (!pool.external.includes(subject) && pool.external.length < 50) pool.external.push(subject);
  },
  /** Gatehouse as an OpenID provider: a code with PKCE, redeemed, then its refresh token rotated. */
  async oidcTokens() {
    const account = borrow(pool.password.filter((a) => !a.dead));
    if (!account) return;
    try {
      const code = await oidc.code(account.refresh);
      const tokens = await oidc.redeem(code);
      // Now and then presented twice at once: with no reuse grace, one rotates and the other is reuse
      // (it revokes the family), never two live successors.
      const presented = Array.from({ length: Math.random() < 0.2 ? 2 : 1 }, () => oidc.refresh(tokens.refresh_token));
      const answers = await Promise.allSettled(presented);
      const next = answers.filter((a) => a.status === "fulfilled").map((a) => a.value.refresh_token);
      observed.successors.set(tokens.refresh_token, new Set(next));
      if (next.length === 0) throw answers.map((a) => a.reason).find((e) => e?.status !== 400) ?? answers[0].reason;
    } finally {
      pool.busy.delete(account);
    }
  },
  /** A credential change on a fresh account with a witness session and key (probed after the run). */
  async credentialChange() {
    const account = await register("change");
    const witnessLogin = await expect(login(account.email, PASSWORD), 200, "witness login");
    const key = await expect(
      request("/api/v1/users/me/api-keys", { token: witnessLogin.json.access_token, body: { name: "witness" } }),
      201,
      "witness key",
    );
    const witness = { refresh: witnessLogin.json.refresh_token, apiKey: key.json.api_key };
    const kind = pick(["password_change", "password_reset", "deactivation"]);
    let answered;
    if (kind === "password_change") {
      const res = await request("/api/v1/users/me/password", {
        method: "PATCH",
        token: account.access,
        body: { current_password: PASSWORD, new_password: NEW_PASSWORD },
      });
      answered = res.status;
    } else if (kind === "password_reset") {
      const before = await countMail(account.email, "password_reset");
      await expect(request("/api/v1/auth/forgot-password", { body: { email: account.email } }), 202, "forgot password");
      const mail = await mailOf(account.email, "password_reset", before);
      if (!mail) return; // its sending failed: nothing to reset with
      answered = (await request("/api/v1/auth/reset-password", { body: { token: mail.token, new_password: NEW_PASSWORD } })).status;
    } else {
      answered = (await request(`/api/v1/admin/users/${account.userId}/deactivate`, { method: "POST", token: admin.access })).status;
    }
    observed.changes.push({ account: account.email, kind, answered, witness, probe: null });
  },
  /** What an administrator does: look people up, read the audit trail, deactivate and reactivate. */
  async adminActions() {
    await expect(request("/api/v1/admin/users?limit=20", { token: admin.access }), 200, "admin list");
    const account = borrow(pool.password);
    if (!account) return;
    try {
      await expect(request(`/api/v1/admin/users/${account.userId}`, { token: admin.access }), 200, "admin user");
      await expect(request(`/api/v1/admin/audit-logs?user_id=${account.userId}&limit=20`, { token: admin.access }), 200, "audit logs");
      if (Math.random() < 0.3) {
        await expect(
          request(`/api/v1/admin/users/${account.userId}/deactivate`, { method: "POST", token: admin.access }),
          204,
          "deactivate",
        );
        // Deactivation ends every session and key.
        account.dead = true;
        account.apiKey = undefined;
        await retrying(
          () => request(`/api/v1/admin/users/${account.userId}/reactivate`, { method: "POST", token: admin.access }),
          204,
          "reactivate",
        );
      }
    } finally {
      pool.busy.delete(account);
    }
  },
};

/** How often each operation comes up (relative weights). */
const MIX = {
  tokenCheck: 30,
  refresh: 14,
  passwordLogin: 8,
  register: 6,
  apiKey: 3,
  logout: 3,
  wrongPassword: 2,
  totpSignIn: 5,
  passkeySignIn: 5,
  emailCodeSignIn: 4,
  externalSignIn: 4,
  oidcTokens: 4,
  credentialChange: 3,
  adminActions: 3,
};
const WEIGHTED = Object.entries(MIX).flatMap(([name, weight]) => Array(weight).fill(name));

async function runOperation(name) {
  const tally = observed.operations.get(name) ?? { done: 0, cut: 0, failed: 0, examples: [] };
  observed.operations.set(name, tally);
  try {
    await OPERATIONS[name]();
    tally.done += 1;
  } catch (error) {
    if (error?.status === 503) tally.cut += 1;
    else {
      tally.failed += 1;
      if (tally.examples.length < 3) tally.examples.push(String(error.message ?? error).slice(0, 300));
    }
  }
}

async function keepAdminFresh() {
  if (performance.now() - admin.at < 8 * 60_000) return;
  const res = await refresh(admin);
  if (res.status === 200) admin.at = performance.now();
  else if (res.status === 401) {
    await revive(admin);
    admin.at = performance.now();
  }
}

// ---------------------------------------------------------------------------------------------
// The limit probes, run once a minute during the load (faults on)

/** A concurrent burst of wrong logins from one new address: exactly the minute's limit admitted. */
async function probeIpLimit() {
  const ip = probeIp();
  const answers = await Promise.all(
    Array.from({ length: LOGIN_IP_MINUTE + 7 }, () => login(newEmail("nobody"), "not the password at all", ip)),
  );
  observed.probes.ip.push({
    limit: LOGIN_IP_MINUTE,
    answers: answers.map((a) => ({
      status: a.status,
      limiterFailed: a.faults.some((f) => f.startsWith("durable_object:ip:") && f.endsWith("#hit")),
    })),
  });
}

/**
 * A concurrent burst of wrong passwords for one account, then one at a time until it locks. While
 * a guess is pending (admitted, its outcome not yet settled) it counts toward the lock, so a burst
 * can meet 423 before the count is reached, and a guess cut short by a fault is released uncounted:
 * the sequential guesses, each given time to settle, finish the count. Exact: `softAfter` wrong
 * passwords judged (401) in all, then 423 for everything, the right password included.
 */
async function probeLockout() {
  let account;
  for (let i = 0; i < 8 && !account; i++) account = await register("lockout", probeIp()).catch(() => undefined);
  if (!account) return;
  const wrong = () => login(account.email, "not the password at all", probeIp());
  const burst = (await Promise.all(Array.from({ length: LOCKOUT_SOFT_AFTER + 7 }, wrong))).map((a) => a.status);
  const after = [];
  await sleep(SETTLE_MS);
  while (after.at(-1) !== 423 && after.length < 3 * LOCKOUT_SOFT_AFTER) {
    after.push((await wrong()).status);
    await sleep(SETTLE_MS);
  }
  let right = 503;
  for (let i = 0; i < 8 && right === 503; i++) right = (await login(account.email, account.password, probeIp())).status;
  observed.probes.lockout.push({ softAfter: LOCKOUT_SOFT_AFTER, burst, after, rightPasswordWhileLocked: right });
}

// ---------------------------------------------------------------------------------------------
// Set-up, load, verification

async function setUp() {
  admin = await register("admin");
  const granted = spawnSync(
    "npx",
    [
      "wrangler",
      "d1",
      "execute",
      "DB",
      "--local",
      "--config",
      server.config,
      "--persist-to",
      persistDir,
      "--yes",
      "--command",
      `UPDATE users SET is_superuser = 1 WHERE id = '${admin.userId}'`,
    ],
    { env, encoding: "utf8" },
  );
  if (granted.status !== 0) throw new Error(`granting the soak's administrator failed:\n${granted.stderr}`);
  admin.at = performance.now();
  oidc = await oidcClient(h, admin.access);
  SoftwareAuthenticator = await loadSoftwareAuthenticator(persistDir, env);
  for (let i = 0; i < 12; i++) pool.password.push(await register("user"));
  for (let i = 0; i < 4; i++) {
    const account = await register("totp");
    const { json } = await expect(request("/api/v1/users/me/mfa/totp", { method: "POST", token: account.access }), 200, "start TOTP");
    const step = currentStep();
    await expect(
      request("/api/v1/users/me/mfa/totp/confirm", { token: account.access, body: { code: totpCode(json.secret, step) } }),
      200,
      "confirm TOTP",
    );
    pool.totp.push({ ...account, secret: json.secret, lastStep: step });
  }
  for (let i = 0; i < 4; i++) {
    const account = await register("passkey");
    const authenticator = await SoftwareAuthenticator.create();
    const options = await expect(
      request("/api/v1/users/me/passkeys/options", { method: "POST", token: account.access }),
      200,
      "passkey options",
    );
    const credential = await authenticator.register(options.json, PUBLIC_URL);
    await expect(request("/api/v1/users/me/passkeys", { token: account.access, body: { credential } }), 201, "add passkey");
    pool.passkey.push({ ...account, authenticator });
  }
  for (let i = 0; i < 4; i++) {
    const account = await register("code");
    // The first code sign-in is the first proof of the address (it clears what came before): done here.
    await expect(request("/api/v1/auth/email-code", { body: { email: account.email } }), 202, "email code");
    const mail = await mailOf(account.email, "sign_in_code", 0, 30_000);
    if (!mail) throw new Error("no sign-in code reached the dev outbox during the set-up");
    await expect(request("/api/v1/auth/email-code/verify", { body: { email: account.email, code: mail.code } }), 200, "first code sign-in");
    pool.emailCode.push(account);
  }
}

async function runLoad(deadline, heap) {
  loadStartedAt = performance.now();
  const actors = Array.from({ length: CONCURRENCY }, async () => {
    while (performance.now() < deadline) {
      await keepAdminFresh().catch(() => undefined);
      await runOperation(pick(WEIGHTED));
    }
  });
  const probes = (async () => {
    let nextProbe = performance.now() + 5_000;
    let nextMemory = performance.now();
    const sample = async () => observed.memory.push([performance.now() - loadStartedAt, workerdMemoryMb(), await heap.usedMb()]);
    let firstSnapshot = !opts["heap-snapshots"];
    while (performance.now() < deadline) {
      if (performance.now() >= nextMemory) {
        if (!firstSnapshot && performance.now() - loadStartedAt > WINDOW_MS) {
          firstSnapshot = true;
          await writeSnapshot(heap, "first");
        }
        await sample();
        nextMemory += MEMORY_EVERY_MS;
      }
      if (performance.now() >= nextProbe) {
        await Promise.all([probeIpLimit(), probeLockout()]).catch((error) => progress(`a limit probe failed: ${error.message}`));
        nextProbe += PROBE_EVERY_MS;
        const [, rss, used] = observed.memory.at(-1) ?? [];
        progress(`${observed.requests} requests so far; workerd ${rss} MB, the worker's heap ${used} MB`);
      }
      await sleep(500);
    }
    await sample();
    if (opts["heap-snapshots"]) await writeSnapshot(heap, "last");
  })();
  await Promise.all([...actors, probes]);
}

/** The worker's heap into the `--heap-snapshots` directory as `<name>.heapsnapshot`. */
async function writeSnapshot(heap, name) {
  const file = join(opts["heap-snapshots"], `${name}.heapsnapshot`);
  try {
    mkdirSync(opts["heap-snapshots"], { recursive: true });
    writeFileSync(file, await heap.snapshot());
    progress(`heap snapshot written: ${file}`);
  } catch (error) {
    progress(`no heap snapshot (${error.message})`);
  }
}

/** With faults off: what each credential change left behind (see soak-invariants.mjs). */
async function probeChanges() {
  for (const change of observed.changes) {
    const oldPassword = (await login(change.account, PASSWORD)).status;
    const newPassword = change.kind === "deactivation" ? null : (await login(change.account, NEW_PASSWORD)).status;
    const witness = (await request("/api/v1/auth/refresh", { body: { refresh_token: change.witness.refresh } })).status;
    const apiKey = (await request("/api/v1/users/me", { token: change.witness.apiKey })).status;
    change.probe = { oldPassword, newPassword, witness, apiKey };
    delete change.witness;
  }
}

/**
 * Waits until every event in the outbox reached the receiver, asking the cron's re-drive (through
 * wrangler's scheduled trigger, at a time past its grace periods) every 20 s for what the queue
 * lost track of. The outbox ids for the soak's endpoint, read from the local D1 as it goes.
 */
async function drainEvents(receiver) {
  const deadline = performance.now() + DRAIN_MS;
  let ids = [];
  for (let round = 0; performance.now() < deadline; round++) {
    const db = openD1();
    ids = db
      .prepare("SELECT id FROM webhook_events WHERE endpoint_url = ?")
      .all(receiver.url)
      .map((r) => r.id);
    db.close();
    const missing = ids.filter((id) => !receiver.received.has(id));
    if (missing.length === 0) break;
    if (round % 5 === 0) {
      progress(`${missing.length} of ${ids.length} events not delivered yet; re-driving`);
      const later = Date.now() + 15 * 60_000;
      await fetch(`${BASE}/__scheduled?cron=${encodeURIComponent("*/5 * * * *")}&time=${later}`).catch(() => undefined);
    }
    await sleep(1000);
  }
  return ids;
}

function storageFamilies() {
  const db = openD1();
  const liveAndRetired = db
    .prepare("SELECT count(*) AS n FROM sessions s JOIN retired_refresh_tokens r ON r.token_hash = s.refresh_token_hash")
    .get().n;
  const oauthFamiliesOverOne = db
    .prepare(
      "SELECT count(*) AS n FROM (SELECT family_id FROM oauth_refresh_tokens WHERE used_at IS NULL AND revoked_at IS NULL AND expires_at > ? GROUP BY family_id HAVING count(*) > 1)",
    )
    .get(Date.now()).n;
  db.close();
  return { liveAndRetired, oauthFamiliesOverOne };
}

function windowP99(from, to) {
  return Math.round(p99(observed.latencies.filter(([at]) => at >= from && at < to).map(([, ms]) => ms)));
}

async function main() {
  const webhookSecret = newWebhookSecret();
  const receiver = await startReceiver({ secret: webhookSecret, failRate: 0.05 });
  const fakes = await startFakeServices();
  let exitCode = 1;
  let heap;
  try {
    await startServer({ receiver, webhookSecret, fakes });
    progress("setting up: an administrator, an OAuth client, and accounts with TOTP, passkeys and code sign-in");
    await setUp();
    progress(`warming workerd up with ${WARM_UP_REQUESTS} requests for /health`);
    await warmUp(WARM_UP_REQUESTS);
    heap = await openWorkerHeap(PORT + 1000, () => fetchOnce(`${BASE}/health`).then((res) => res.arrayBuffer()));
    const faultsOn = await setFaults(FAULTS);
    progress(`faults on: ${JSON.stringify(faultsOn.rates)}; load for ${MINUTES} min at concurrency ${CONCURRENCY}`);
    const loadMs = MINUTES * 60_000;
    await runLoad(performance.now() + loadMs, heap);
    const report = await setFaults({ d1: 0, durable_object: 0, kv: 0, queue: 0 });
    progress(`load done (${observed.requests} requests); faults off; probing ${observed.changes.length} credential changes`);
    await probeChanges();
    progress("draining the events");
    const committed = await drainEvents(receiver);
    await stopProcessGroup(server.child);
    server = null;
    const families = storageFamilies();

    const firstSample = observed.memory.filter(([at]) => at <= WINDOW_MS).at(-1) ?? [];
    const lastSample = observed.memory.at(-1) ?? [];
    const [memoryFirst, memoryLast] = [firstSample[1] ?? 0, lastSample[1] ?? 0];
    // A reading the inspector did not answer is skipped; none in a window fails the check (0).
    const readings = observed.memory.filter(([, , used]) => used !== null);
    const heapFirst = readings.filter(([at]) => at <= WINDOW_MS).at(-1)?.[2] ?? 0;
    const heapLast = readings.filter(([at]) => at >= loadMs - WINDOW_MS).at(-1)?.[2] ?? 0;
    const p99First = windowP99(0, WINDOW_MS);
    const p99Last = windowP99(loadMs - WINDOW_MS, loadMs);
    const checks = {
      no_undeclared_5xx: noUndeclared5xx(observed.fiveHundreds),
      no_partial_credential_change: noPartialCredentialChange(observed.changes),
      events_delivered_at_least_once: eventsDelivered(committed, receiver.received, receiver.counts.badSignatures),
      one_live_token_per_refresh_family: oneLiveTokenPerFamily(observed.successors, families),
      rate_limit_and_lockout_counts_exact: limitsExact(observed.probes),
      // A leak in the worker shows in its heap; workerd's own memory must hold too. Both only if the
      // isolate measured at the end is the one of the start (a new one would start from nothing).
      memory_flat: {
        ok: flat(heapFirst, heapLast, HEAP_BOUND) && flat(memoryFirst, memoryLast, MEMORY_BOUND) && report.isolate === faultsOn.isolate,
        detail: {
          worker_heap_mb: [heapFirst, heapLast],
          heap_bound: HEAP_BOUND,
          heap_readings: `${readings.length} of ${observed.memory.length}`,
          workerd_mb: [memoryFirst, memoryLast],
          bound: MEMORY_BOUND,
          same_isolate: report.isolate === faultsOn.isolate,
        },
      },
      p99_latency_flat: {
        ok: flat(p99First, p99Last, LATENCY_BOUND),
        detail: { first_ms: p99First, last_ms: p99Last, bound: LATENCY_BOUND },
      },
    };
    for (const [name, { ok, detail }] of Object.entries(checks)) {
      console.log(`${ok ? "ok  " : "FAIL"} ${name}: ${typeof detail === "string" ? detail : JSON.stringify(detail)}`);
    }
    console.log(`operations: ${JSON.stringify(Object.fromEntries(observed.operations))}`);
    console.log(`statuses: ${JSON.stringify(Object.fromEntries(observed.statuses))}`);
    console.log(`receiver: ${JSON.stringify(receiver.counts)}`);
    const faultsInjected = Object.fromEntries(Object.entries(report.injected).filter(([, n]) => n > 0));
    const allOk = Object.values(checks).every((c) => c.ok);
    exitCode = allOk && Object.keys(faultsInjected).length >= 3 ? 0 : 1;
    if (Object.keys(faultsInjected).length < 3) console.log("FAIL fewer than three kinds of fault were injected");
    console.log(
      JSON.stringify({
        minutes: MINUTES,
        requests: observed.requests,
        faults_injected: faultsInjected,
        invariants: Object.fromEntries(Object.entries(checks).map(([name, c]) => [name, c.ok])),
        p99_ms_first_minute: p99First,
        p99_ms_last_minute: p99Last,
        memory_mb_first: memoryFirst,
        memory_mb_last: memoryLast,
        worker_heap_mb_first: heapFirst,
        worker_heap_mb_last: heapLast,
      }),
    );
  } catch (error) {
    console.error(error);
    if (server) console.error(server.tail.join("\n"));
  } finally {
    heap?.close();
    if (server) await stopProcessGroup(server.child);
    await receiver.close();
    await fakes.close();
    if (!opts["keep-state"]) rmSync(persistDir, { recursive: true, force: true });
    else progress(`state kept in ${persistDir}`);
  }
  process.exit(exitCode);
}

await main();
