import { createExecutionContext, runDurableObjectAlarm, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { MONITOR_NAME, SPRAY_SHARDS, type AttackMonitor } from "../src/abuse/objects/attack-monitor";
import { step, type ModeRow } from "../src/abuse/objects/spray-detector";
import { forgetAttackMode, refreshAttackMode, underAttack } from "../src/abuse/spraying";
import { app } from "../src/app";
import { createDeps } from "../src/kernel/deps";
import type { Bindings } from "../src/config";
import { throwingMonitor, unreachableMonitor } from "./broken-bindings";
import { buildRequest, call, captureLogs, env, freshIp, freshNetworkIp, login, problem, register, uniqueEmail } from "./helpers";
import { Browser } from "./pages-browser";

/**
 * Password spraying across many clients: the shards and the monitor of
 * src/abuse/objects/attack-monitor.ts, the "under attack" mode, and what logins from unknown devices get
 * then (src/abuse/challenge.ts). The monitor is one object for the whole suite, so every test that
 * switches the mode puts it back (see {@link calm}).
 */

const POLICY = { minimumPerMinute: 60, baselineFactor: 5, quietMinutes: 10, minimumNetworks: 20, minimumIdentifiers: 30, maxMinutes: 60 };
const SITE_KEY = "0x4AAAAAAATestSiteKey";
const VERIFY_URL = "https://turnstile.test/siteverify";
const TURNSTILE: Partial<Bindings> = {
  TURNSTILE_SITE_KEY: SITE_KEY,
  TURNSTILE_SECRET: "turnstile-secret-value",
  TURNSTILE_VERIFY_URL: VERIFY_URL,
};

const object = (name: string) => env.ATTACK_MONITOR.get(env.ATTACK_MONITOR.idFromName(name));
const monitor = () => object(MONITOR_NAME);

function row(overrides: Partial<ModeRow> = {}): ModeRow {
  return {
    under_attack: 0,
    since: null,
    baseline: 0,
    rate: 0,
    last_tick: null,
    entered_at: null,
    peak: 0,
    ...overrides,
  };
}

/** A minute of `failures` from enough networks and identifiers to be breadth, unless said otherwise. */
const minute = (failures: number, breadth: Partial<{ networks: number; identifiers: number }> = {}) => ({
  failures,
  networks: breadth.networks ?? 50,
  identifiers: breadth.identifiers ?? 50,
});

/** Switches the mode directly (the detection itself is staged in its own tests). */
async function setMode(underAttack: boolean): Promise<void> {
  await monitorSays(underAttack);
  // This isolate hears of it as after any login's refresh (logins never wait for the monitor).
  forgetAttackMode();
  await refreshAttackMode(testDeps());
}

/** A request's dependencies outside any request, for the calls a test makes directly. */
function testDeps(bindings: Bindings = env) {
  return createDeps(bindings, { meta: { ip: null, userAgent: null, requestId: "test" }, waitUntil: () => undefined });
}

/** Empties the shards: no counted failures, identifiers or networks. */
async function emptyShards(): Promise<void> {
  for (let n = 0; n < SPRAY_SHARDS; n++) {
    await runInDurableObject(object(`shard:${n}`), (_: AttackMonitor, state: DurableObjectState) => {
      for (const table of ["buckets", "identifiers", "networks", "shard_meta"]) state.storage.sql.exec(`DELETE FROM ${table}`);
    });
  }
}

/** Back to normal: no counted failures, no attack, no alarm, no cached view. */
async function calm(): Promise<void> {
  await emptyShards();
  await runInDurableObject(monitor(), async (_: AttackMonitor, state: DurableObjectState) => {
    state.storage.sql.exec("DELETE FROM mode");
    state.storage.sql.exec("DELETE FROM ticks");
    await state.storage.deleteAlarm();
  });
  forgetAttackMode();
}

afterEach(calm);

describe("the detector's arithmetic", () => {
  const now = 1_800_000_000_000;

  it("enters at max(5× baseline, 60 per minute), not below", () => {
    expect(step(row(), minute(59), 0, now, POLICY).under_attack).toBe(0);
    expect(step(row(), minute(60), 0, now, POLICY)).toMatchObject({ under_attack: 1, since: now, entered_at: now, rate: 60 });
    // A busy site's baseline raises the bar: 5 × 20 = 100.
    expect(step(row({ baseline: 20, last_tick: now - 10_000 }), minute(99), 0, now, POLICY).under_attack).toBe(0);
    expect(step(row({ baseline: 20, last_tick: now - 10_000 }), minute(100), 0, now, POLICY).under_attack).toBe(1);
  });

  it("needs breadth: failures from fewer than 20 networks, or at fewer than 30 identifiers, are no attack", () => {
    expect(step(row(), minute(500, { networks: 19 }), 0, now, POLICY).under_attack).toBe(0);
    expect(step(row(), minute(500, { identifiers: 29 }), 0, now, POLICY).under_attack).toBe(0);
    expect(step(row(), minute(60, { networks: 20, identifiers: 30 }), 0, now, POLICY).under_attack).toBe(1);
  });

  it("keeps the baseline frozen during an attack, so the attack never becomes normal", () => {
    const attacking = row({ under_attack: 1, since: now - 60_000, entered_at: now - 60_000, baseline: 3, last_tick: now - 10_000 });
    expect(step(attacking, minute(500), 500, now, POLICY).baseline).toBe(3);
    // Outside an attack the baseline moves (slowly: a six-hour time constant).
    const moved = step(row({ baseline: 3, last_tick: now - 10_000 }), minute(20), 0, now, POLICY).baseline;
    expect(moved).toBeGreaterThan(3);
    expect(moved).toBeLessThan(3.01);
  });

  it("never learns traffic at or above the exit threshold: failures just under the entry bar cannot ramp it", () => {
    let state = row({ baseline: 2, last_tick: now });
    // Six hours of 59 failures a minute (just under the bar of 60), a tick every 10 s.
    for (let t = 10_000; t <= 6 * 3_600_000; t += 10_000) state = step(state, minute(59), 59, now + t, POLICY);
    expect(state.under_attack).toBe(0);
    expect(state.baseline).toBe(2);
    // So the bar is still 60, and a minute at it is an attack.
    expect(step(state, minute(60), 59, now + 6 * 3_600_000 + 10_000, POLICY).under_attack).toBe(1);
  });

  it("ends once the average over 10 minutes is below max(2× baseline, 30 per minute): bursts now and then do not hold it", () => {
    const since = now;
    let state = row({ under_attack: 1, since, entered_at: since, baseline: 2, last_tick: since, peak: 200 });
    // 48 failures in one minute every 8 minutes: the average is about 6 a minute.
    const ticks: number[] = [];
    for (let t = 10_000; t <= 11 * 60_000; t += 10_000) {
      const rate = t % 480_000 < 60_000 ? 48 : 0;
      ticks.push(rate);
      const window = ticks.slice(-60);
      const average = window.reduce((a, b) => a + b, 0) / window.length;
      state = step(state, minute(rate, { networks: 12 }), average, since + t, POLICY);
      if (t < 600_000) expect(state.under_attack).toBe(1);
    }
    expect(state.under_attack).toBe(0);
  });

  it("stays while the sustained average is loud, but ends an hour after the entry condition last held", () => {
    let state = row({ under_attack: 1, since: now, entered_at: now, baseline: 2, last_tick: now, peak: 60 });
    // 40 a minute from few networks: loud on average, but never the entry condition again.
    for (let t = 10_000; t < 3_600_000; t += 10_000) {
      state = step(state, minute(40, { networks: 5 }), 40, now + t, POLICY);
      expect(state.under_attack).toBe(1);
    }
    expect(step(state, minute(40, { networks: 5 }), 40, now + 3_600_000, POLICY).under_attack).toBe(0);
    // Meeting the entry condition again renews the hour.
    const renewed = step(state, minute(80), 80, now + 3_590_000, POLICY);
    expect(renewed).toMatchObject({ under_attack: 1, entered_at: now + 3_590_000 });
  });

  it("counts an idle gap (no ticks) as a rate of zero", () => {
    const after = step(row({ baseline: 30, last_tick: now - 6 * 3_600_000 }), minute(0), 0, now, POLICY);
    expect(after.baseline).toBeCloseTo(30 / Math.E, 5);
  });
});

describe("password spraying from many clients", () => {
  it("80 clients × 2 failures a minute across 100 accounts: logins are challenged within 60 s", async () => {
    const logs = captureLogs();
    const start = Date.now();
    vi.useFakeTimers({ toFake: ["Date"], now: start });
    // A real account whose owner tries to sign in from a new device every 5 s during the attack.
    const owner = await register();
    const accounts = Array.from({ length: 100 }, () => uniqueEmail("sprayed"));
    const clients = Array.from({ length: 80 }, () => freshNetworkIp());
    // Each client fails twice a minute, the clients' attempts spread evenly over the minute.
    const schedule = clients.flatMap((ip, i) => [0, 1].map((k) => ({ at: Math.floor((i * 750 + k * 30_000) / 1000), ip, n: i * 2 + k })));
    let challengedAt: number | null = null;
    for (let second = 0; second <= 60 && challengedAt === null; second++) {
      vi.setSystemTime(start + second * 1000);
      // The attempts of one second arrive together.
      const attempts = schedule.filter((a) => a.at === second);
      const answers = await Promise.all(
        attempts.map((attempt) => login({ email: accounts[attempt.n % 100], password: "Summer2026!spray" }, attempt.ip)),
      );
      expect(answers.map((r) => r.status)).toEqual(attempts.map(() => 401));
      // The monitor's alarm, every 10 s (run here at the simulated time rather than by the clock).
      if (second % 10 === 0) await monitor().tick(start + second * 1000, POLICY);
      if (second % 5 === 0) {
        const probe = await call("/api/v1/auth/login", {
          body: { email: owner.email, password: owner.password },
          ip: freshIp(),
          env: TURNSTILE,
        });
        if (probe.status === 403) {
          const body = await problem(probe, 403, "challenge_required");
          expect(body.site_key).toBe(SITE_KEY);
          challengedAt = second;
        } else {
          expect(probe.status).toBe(200);
        }
      }
    }
    expect(challengedAt).not.toBeNull();
    // The rate passes 60 between the 30 s and 40 s ticks; the isolate's cache may lag 10 s more.
    expect(challengedAt!).toBeLessThanOrEqual(50);
    const state = await monitor().state();
    expect(state).toMatchObject({ underAttack: true });
    expect(state.rate).toBeGreaterThanOrEqual(60);

    // One audit row and one warning for the attack, naming no account and no client.
    const { results } = await env.DB.prepare(
      "SELECT user_id, ip_address, metadata FROM audit_logs WHERE action = 'attack.started' AND created_at >= ?",
    )
      .bind(Math.floor(start / 1000))
      .all<{ user_id: string | null; ip_address: string | null; metadata: string }>();
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ user_id: null, ip_address: null });
    expect(JSON.parse(results[0]!.metadata)).toMatchObject({ signal: "password_spraying", minimum_per_minute: 60 });
    expect(logs.problems().filter((l) => l.event === "attack.spraying_started")).toHaveLength(1);

    // A known device is never challenged.
    const known = await call("/api/v1/auth/login", {
      body: { email: owner.email, password: owner.password, device_token: owner.body.device_token },
      ip: freshIp(),
      env: TURNSTILE,
    });
    expect(known.status).toBe(200);

    // Ten quiet minutes end it, with its own audit row.
    await runInDurableObject(object("shard:0"), () => undefined);
    for (let n = 0; n < SPRAY_SHARDS; n++) {
      await runInDurableObject(
        object(`shard:${n}`),
        (_: AttackMonitor, s: DurableObjectState) => void s.storage.sql.exec("DELETE FROM buckets"),
      );
    }
    const quietFrom = start + (challengedAt! + 1) * 1000;
    for (let t = 0; t <= 11 * 60_000; t += 10_000) await monitor().tick(quietFrom + t, POLICY);
    expect(await monitor().state()).toMatchObject({ underAttack: false });
    const ended = await env.DB.prepare("SELECT metadata FROM audit_logs WHERE action = 'attack.ended' AND created_at >= ?")
      .bind(Math.floor(start / 1000))
      .all<{ metadata: string }>();
    expect(ended.results).toHaveLength(1);
    expect(JSON.parse(ended.results[0]!.metadata)).toMatchObject({ signal: "password_spraying" });
    expect((JSON.parse(ended.results[0]!.metadata) as { peak_per_minute: number }).peak_per_minute).toBeGreaterThanOrEqual(60);
  });

  it("ordinary failures (a few clients mistyping) never enter the mode", async () => {
    const start = Date.now();
    vi.useFakeTimers({ toFake: ["Date"], now: start });
    for (let second = 0; second <= 120; second += 4) {
      vi.setSystemTime(start + second * 1000);
      expect((await login({ email: uniqueEmail("typo"), password: "not the password" }, freshIp())).status).toBe(401);
      if (second % 10 === 0) await monitor().tick(start + second * 1000, POLICY);
    }
    expect(await monitor().state()).toMatchObject({ underAttack: false });
    expect((await monitor().state()).rate).toBeGreaterThan(0);
  });
});

describe("the alarm", () => {
  it("adds up every shard and takes its numbers from RATE_LIMITS.spraying of its own env", async () => {
    const logs = captureLogs();
    // 70 failures at 70 accounts: an attack by the default numbers, not by this suite's (see vitest.config.ts).
    const failures = await Promise.all(
      Array.from({ length: 70 }, () => login({ email: uniqueEmail("alarm"), password: "not the password" }, freshNetworkIp())),
    );
    expect(failures.map((r) => r.status)).toEqual(Array(70).fill(401));
    expect(await runDurableObjectAlarm(monitor())).toBe(true);
    expect(await monitor().state()).toMatchObject({ underAttack: false, rate: 70 });
    // The same count under the default policy is an attack.
    expect(await monitor().tick(Date.now(), POLICY)).toBe(true);
    expect(await monitor().state()).toMatchObject({ underAttack: true, rate: 70 });
    expect(logs.problems().map((l) => l.event)).toEqual(["attack.spraying_started"]);
  });
});

describe("what is not spraying", () => {
  it("60 failures from 12 addresses across 60 accounts: too few networks, no attack", async () => {
    const start = Date.now();
    vi.useFakeTimers({ toFake: ["Date"], now: start });
    const clients = Array.from({ length: 12 }, () => freshNetworkIp());
    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, i) => login({ email: uniqueEmail("twelve"), password: "not the password" }, clients[i % 12])),
    );
    expect(answers.map((r) => r.status)).toEqual(Array(60).fill(401));
    await monitor().tick(start + 1000, POLICY);
    expect(await monitor().state()).toMatchObject({ underAttack: false, rate: 60 });
  });

  it("failures sent with the attacker's own known device tokens are never counted", async () => {
    const start = Date.now();
    vi.useFakeTimers({ toFake: ["Date"], now: start });
    // The attacker's own accounts, each signed in from its own device once.
    const own = await Promise.all(Array.from({ length: 70 }, () => register()));
    const answers = await Promise.all(
      own.map((a) => login({ email: a.email, password: "not the password", device_token: a.body.device_token }, freshNetworkIp())),
    );
    expect(answers.map((r) => r.status)).toEqual(Array(70).fill(401));
    await monitor().tick(start + 1000, POLICY);
    expect(await monitor().state()).toMatchObject({ underAttack: false, rate: 0 });
  });

  it("many failures at a few accounts count at most 3 per account a minute: that depth is the lockout's", async () => {
    const start = Date.now();
    vi.useFakeTimers({ toFake: ["Date"], now: start });
    const accounts = Array.from({ length: 15 }, () => uniqueEmail("deep"));
    // 75 failures in 30 s, each from its own client: 5 per account (the fifth locks it), in five
    // rounds 6 s apart, the 15 accounts' failures of a round arriving together.
    for (let round = 0; round < 5; round++) {
      vi.setSystemTime(start + round * 6000);
      const answers = await Promise.all(accounts.map((email) => login({ email, password: "not the password" }, freshIp())));
      expect(answers.map((r) => r.status)).toEqual(Array(15).fill(401));
    }
    expect(await monitor().tick(start + 30_000, POLICY)).toBe(true);
    expect(await monitor().state()).toMatchObject({ underAttack: false, rate: 45 });
  });
});

describe("under attack", () => {
  it("asks an unknown device for a Turnstile answer, and verifies it with the secret", async () => {
    await setMode(true);
    const user = await register();
    const body = { email: user.email, password: user.password };
    const refused = await call("/api/v1/auth/login", { body, ip: freshIp(), env: TURNSTILE });
    const problemBody = await problem(refused, 403, "challenge_required");
    expect(problemBody.site_key).toBe(SITE_KEY);
    expect(JSON.stringify(problemBody)).not.toContain("turnstile-secret-value");

    const verify = vi.spyOn(globalThis, "fetch").mockImplementation((_input, init) => {
      const form = init?.body as FormData;
      const ok = form.get("secret") === "turnstile-secret-value" && form.get("response") === "solved-token";
      return Promise.resolve(Response.json({ success: ok, "error-codes": ok ? [] : ["invalid-input-response"] }));
    });
    const ip = freshIp();
    const wrong = await call("/api/v1/auth/login", { body: { ...body, turnstile_token: "forged-token" }, ip, env: TURNSTILE });
    await problem(wrong, 403, "challenge_required");
    const passed = await call("/api/v1/auth/login", { body: { ...body, turnstile_token: "solved-token" }, ip, env: TURNSTILE });
    expect(passed.status).toBe(200);
    expect(verify).toHaveBeenCalledTimes(2);
    const [url, init] = verify.mock.calls[1]!;
    expect(url).toBe(VERIFY_URL);
    expect((init?.body as FormData).get("remoteip")).toBe(ip);
  });

  it("asks an unknown client for the challenge before mailing or checking a sign-in code; a known device goes on", async () => {
    await setMode(true);
    const user = await register();
    const email = { email: user.email };
    await problem(await call("/api/v1/auth/email-code", { body: email, ip: freshIp(), env: TURNSTILE }), 403, "challenge_required");
    await problem(
      await call("/api/v1/auth/email-code/verify", { body: { ...email, code: "12345678" }, ip: freshIp(), env: TURNSTILE }),
      403,
      "challenge_required",
    );
    const device = { ...email, device_token: user.body.device_token };
    expect((await call("/api/v1/auth/email-code", { body: device, ip: freshIp(), env: TURNSTILE })).status).toBe(202);
    await problem(
      await call("/api/v1/auth/email-code/verify", { body: { ...device, code: "12345678" }, ip: freshIp(), env: TURNSTILE }),
      401,
      "invalid_code",
    );
  });

  it("a wrong password with a solved challenge is still only a 401", async () => {
    await setMode(true);
    const user = await register();
    vi.spyOn(globalThis, "fetch").mockResolvedValue(Response.json({ success: true }));
    const res = await call("/api/v1/auth/login", {
      body: { email: user.email, password: "not the password", turnstile_token: "solved-token" },
      ip: freshIp(),
      env: TURNSTILE,
    });
    await problem(res, 401, "invalid_credentials");
  });

  it("falls back to the tighter per-IP limit when Turnstile is unreachable", async () => {
    await setMode(true);
    const logs = captureLogs();
    const user = await register();
    vi.spyOn(globalThis, "fetch").mockRejectedValue(new Error("connect ECONNREFUSED"));
    const ip = freshIp();
    const body = { email: user.email, password: user.password, turnstile_token: "any" };
    for (let i = 0; i < 3; i++) expect((await call("/api/v1/auth/login", { body, ip, env: TURNSTILE })).status).toBe(200);
    const limited = await call("/api/v1/auth/login", { body, ip, env: TURNSTILE });
    await problem(limited, 429, "rate_limited");
    expect(limited.headers.get("RateLimit-Policy")).toBe(`"login_ip_under_attack_hour";q=3;w=3600`);
    expect(logs.problems().some((l) => l.event === "turnstile.unavailable")).toBe(true);
  });

  it("without Turnstile, unknown devices get the tighter per-IP limit; known devices and `log` get none", async () => {
    await setMode(true);
    const user = await register();
    const ip = freshIp();
    for (let i = 0; i < 3; i++) expect((await login({ email: user.email, password: user.password }, ip)).status).toBe(200);
    const limited = await login({ email: user.email, password: user.password }, ip);
    await problem(limited, 429, "rate_limited");
    expect(limited.headers.get("RateLimit-Policy")).toBe(`"login_ip_under_attack_hour";q=3;w=3600`);
    // The same client with its device token is not a stranger.
    const known = await login({ email: user.email, password: user.password, device_token: user.body.device_token }, ip);
    expect(known.status).toBe(200);
    // ATTACK_SPRAY_ACTION=log: recorded, nothing asked.
    const logged = await call("/api/v1/auth/login", {
      body: { email: user.email, password: user.password },
      ip: freshIp(),
      env: { ATTACK_SPRAY_ACTION: "log" },
    });
    expect(logged.status).toBe(200);
  });

  it("the login page shows the widget and allows Turnstile's origin only while under attack", async () => {
    const browser = new Browser(TURNSTILE);
    const calmPage = await browser.get("/login");
    expect(await calmPage.text()).not.toContain("cf-turnstile");
    expect(calmPage.headers.get("Content-Security-Policy")).not.toContain("challenges.cloudflare.com");

    await setMode(true);
    const page = await browser.get("/login");
    const html = await page.text();
    expect(html).toContain(`<div class="cf-turnstile" data-sitekey="${SITE_KEY}"></div>`);
    expect(html).toContain(`<script src="https://challenges.cloudflare.com/turnstile/v0/api.js" async="" defer=""></script>`);
    const csp = page.headers.get("Content-Security-Policy")!;
    expect(csp).toContain("script-src https://challenges.cloudflare.com");
    expect(csp).toContain("frame-src https://challenges.cloudflare.com");
    expect(csp).toContain("default-src 'none'");
  });

  it("the login page: an unsolved widget asks again beside the form; a browser without script gets the tighter limit", async () => {
    await setMode(true);
    const user = await register();
    const browser = new Browser(TURNSTILE);
    const html = await (await browser.get("/login")).text();
    // The widget ran but was not solved: its field is there, empty.
    const unsolved = await browser.submit(html, "/login", { identifier: user.email, password: user.password, "cf-turnstile-response": "" });
    expect(unsolved.status).toBe(403);
    const again = await unsolved.text();
    expect(again).toContain("Sign-ins are under attack right now");
    expect(again).toContain("cf-turnstile");
    expect(again).not.toContain(user.password);

    // No script ran: no widget field at all. The sign-in goes on under the tighter per-IP limit.
    const noScript = new Browser(TURNSTILE);
    const form = await (await noScript.get("/login")).text();
    for (let i = 0; i < 3; i++) {
      const res = await noScript.submit(form, "/login", { identifier: user.email, password: user.password });
      expect(res.status).toBe(303);
      // Signed in; forget the session and the device, keep the form's CSRF cookie: a stranger again.
      for (const name of ["__Host-gh_rt", "__Host-gh_dev"]) noScript.jar.delete(name);
    }
    const limited = await noScript.submit(form, "/login", { identifier: user.email, password: user.password });
    expect(limited.status).toBe(429);
  });
});

/** The ATTACK_MONITOR namespace with every `state()` answered only once `open()` is called. */
function slowMonitor(): { ATTACK_MONITOR: Bindings["ATTACK_MONITOR"]; open: () => void; asked: () => number } {
  let open = () => undefined as void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  let asked = 0;
  const ATTACK_MONITOR = new Proxy(env.ATTACK_MONITOR, {
    get(namespace, prop) {
      const value = Reflect.get(namespace, prop, namespace) as unknown;
      if (prop !== "get") return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(namespace) : value;
      return (id: DurableObjectId) => {
        const stub = namespace.get(id);
        return new Proxy(stub, {
          get(target, name) {
            if (name !== "state") return Reflect.get(target, name) as unknown;
            return () => {
              asked += 1;
              return gate.then(() => target.state());
            };
          },
        });
      };
    },
  });
  return { ATTACK_MONITOR, open, asked: () => asked };
}

/** Writes the monitor's mode without telling this isolate (as another isolate's view would lag). */
async function monitorSays(underAttack: boolean): Promise<void> {
  await runInDurableObject(monitor(), (_: AttackMonitor, state: DurableObjectState) => {
    state.storage.sql.exec(
      "INSERT INTO mode (id, under_attack, since, entered_at) VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET under_attack = excluded.under_attack, since = excluded.since, entered_at = excluded.entered_at",
      underAttack ? 1 : 0,
      underAttack ? Date.now() : null,
      underAttack ? Date.now() : null,
    );
  });
}

describe("a login never waits for the monitor", () => {
  afterEach(() => vi.useRealTimers());

  it("a stale view is served at once and refreshed after the response, one refresh at a time", async () => {
    const start = Date.now();
    vi.useFakeTimers({ toFake: ["Date"], now: start });
    await setMode(true);
    await monitorSays(false);
    vi.setSystemTime(start + 10_000);
    const later: Promise<unknown>[] = [];
    const deps = createDeps(env, { meta: { ip: null, userAgent: null, requestId: "test" }, waitUntil: (p) => later.push(p) });
    expect(underAttack(deps)).toBe(true);
    expect(underAttack(deps)).toBe(true);
    expect(later).toHaveLength(1);
    await Promise.all(later);
    expect(underAttack(deps)).toBe(false);
    expect(later).toHaveLength(1);
  });

  it("a login answers from the stale view while the monitor is still being asked, and the next one sees the news", async () => {
    const start = Date.now();
    vi.useFakeTimers({ toFake: ["Date"], now: start });
    await setMode(true);
    const user = await register();
    const body = { email: user.email, password: user.password };
    await monitorSays(false);
    vi.setSystemTime(start + 10_000);
    const slow = slowMonitor();
    const ctx = createExecutionContext();
    const bindings = { ...env, ...TURNSTILE, ATTACK_MONITOR: slow.ATTACK_MONITOR };
    const res = await app.fetch(buildRequest("/api/v1/auth/login", { body, ip: freshIp() }), bindings, ctx);
    // Answered (still "under attack", as last heard) while the monitor has not answered yet.
    await problem(res, 403, "challenge_required");
    expect(slow.asked()).toBe(1);
    slow.open();
    await waitOnExecutionContext(ctx);
    expect((await call("/api/v1/auth/login", { body, ip: freshIp(), env: TURNSTILE })).status).toBe(200);
  });

  it("an isolate that has heard nothing yet answers 'not under attack' at once and asks in the background", async () => {
    await monitorSays(true);
    forgetAttackMode();
    const user = await register();
    const body = { email: user.email, password: user.password };
    const slow = slowMonitor();
    const ctx = createExecutionContext();
    const bindings = { ...env, ...TURNSTILE, ATTACK_MONITOR: slow.ATTACK_MONITOR };
    const res = await app.fetch(buildRequest("/api/v1/auth/login", { body, ip: freshIp() }), bindings, ctx);
    expect(res.status).toBe(200);
    expect(slow.asked()).toBe(1);
    slow.open();
    await waitOnExecutionContext(ctx);
    await problem(await call("/api/v1/auth/login", { body, ip: freshIp(), env: TURNSTILE }), 403, "challenge_required");
  });
});

describe("an unreachable monitor fails open", () => {
  const LOGIN = "/api/v1/auth/login";
  /** The fields of a warning line that say what failed: the objects' call, wrapped as a dependency error. */
  const warning = (event: string, cause: string) => ({
    level: "warn",
    event,
    request_id: expect.any(String) as unknown,
    error: "DependencyError",
    message: "durable_object unavailable",
    cause,
  });

  it.each([
    ["unreachable", unreachableMonitor, "Error: Durable Object unreachable"],
    ["missing", throwingMonitor, "Error: binding missing"],
  ])("(%s binding) logins answer 200 and 401 as usual, never 503 or a challenge, with a warning each", async (_, broken, cause) => {
    const logs = captureLogs();
    const user = await register();
    // Turnstile configured: had the mode read as "under attack", this login would be challenged (403).
    const env = { ...TURNSTILE, ATTACK_MONITOR: broken() };
    // An isolate with no view of the mode yet (the cache would otherwise spare it the call).
    forgetAttackMode();
    const right = await call(LOGIN, { body: { email: user.email, password: user.password }, ip: freshIp(), env });
    expect(right.status).toBe(200);
    forgetAttackMode();
    const wrong = await call(LOGIN, { body: { email: user.email, password: "not the password" }, ip: freshIp(), env });
    await problem(wrong, 401, "invalid_credentials");
    // The mode could not be read (twice), and the failure could not be counted (after the response).
    expect(logs.problems()).toEqual([
      expect.objectContaining(warning("attack.mode_unreadable", cause)),
      expect.objectContaining(warning("attack.mode_unreadable", cause)),
      expect.objectContaining(warning("attack.count_failed", cause)),
    ]);
  });

  it("an isolate that last saw an attack keeps that view while the monitor cannot be read", async () => {
    const logs = captureLogs();
    const start = Date.now();
    vi.useFakeTimers({ toFake: ["Date"], now: start });
    await setMode(true);
    const user = await register();
    const body = { email: user.email, password: user.password };
    // Read from the monitor: under attack, cached for 10 s.
    await problem(await call(LOGIN, { body, ip: freshIp(), env: TURNSTILE }), 403, "challenge_required");
    // The cache has expired and the monitor is unreachable: the last view (under attack) holds.
    vi.setSystemTime(start + 10_000);
    const broken = { ...TURNSTILE, ATTACK_MONITOR: unreachableMonitor() };
    await problem(await call(LOGIN, { body, ip: freshIp(), env: broken }), 403, "challenge_required");
    expect(logs.problems().map((line) => line.event)).toEqual(["attack.mode_unreadable"]);
  });
});
