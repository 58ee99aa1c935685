import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { clearLockout } from "../src/abuse/lockout-admin";
import { createDeps } from "../src/kernel/deps";
import { throwingLimiter, unreachableLimiter } from "./broken-bindings";
import {
  auditRows,
  call,
  captureLogs,
  freshIp,
  login,
  outbox,
  ownLimiterObjects,
  problem,
  register,
  STRONG_PASSWORD,
  uniqueEmail,
} from "./helpers";

/** Abuse protection through HTTP: exact bursts, lockout tiers, headers, audit rows, fail-closed. */

const LOGIN = "/api/v1/auth/login";
const WRONG = "wrong password, clearly 123";

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

function loginFrom(ip: string, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return call(LOGIN, { body, ip, headers });
}

function statuses(responses: Response[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const r of responses) counts[r.status] = (counts[r.status] ?? 0) + 1;
  return counts;
}

/** Five wrong passwords from five IPs: the identifier is then locked. Returns the last IP used. */
async function lock(identifier: Record<string, string>): Promise<string> {
  let ip = "";
  for (let i = 0; i < 5; i++) {
    ip = freshIp();
    expect((await login({ ...identifier, password: WRONG }, ip)).status).toBe(401);
  }
  return ip;
}

describe("per-IP limits", () => {
  it("admits exactly 5 of 12 parallel logins from one IP, answering the rest 429 with headers and audit rows", async () => {
    const ip = freshIp();
    const responses = await Promise.all(Array.from({ length: 12 }, () => loginFrom(ip, { email: uniqueEmail(), password: WRONG })));
    expect(statuses(responses)).toEqual({ 401: 5, 429: 7 });

    const limited = responses.find((r) => r.status === 429) as Response;
    const retryAfter = limited.headers.get("Retry-After") ?? "";
    expect(retryAfter).toMatch(/^\d+$/);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(retryAfter)).toBeLessThanOrEqual(60);
    expect(limited.headers.get("Cache-Control")).toBe("no-store");
    expect(limited.headers.get("RateLimit-Policy")).toBe(`"login_ip_minute";q=5;w=60, "login_ip_hour";q=20;w=3600`);
    expect(limited.headers.get("RateLimit")).toMatch(/^"login_ip_minute";r=0;t=\d+, "login_ip_hour";r=15;t=\d+$/);
    await problem(limited, 429, "rate_limited");

    // One row per IP and window, not one per refusal; test/abuse-costs.test.ts follows its count.
    const rows = await auditRows("ip_address = ? AND action = 'rate_limited'", ip);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.metadata).toEqual({
      scope: "ip",
      action: "login",
      policy: "login_ip_minute",
      count: 1,
      window_seconds: 3600,
    });
  });

  it("allows 20 logins per hour per IP: the minute window slides, the hour does not", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const start = Date.now() + 86_400_000;
    vi.setSystemTime(start);
    const ip = freshIp();
    // 20 failing identifiers would also start the spread block (attack-ip-spread.test.ts): raised here.
    const env = { RATE_LIMITS: JSON.stringify({ login_failures_ip_identifiers_hour: { limit: 1000, window: 3600 } }) };
    const attempt = () => call(LOGIN, { body: { email: uniqueEmail(), password: WRONG }, ip, env });
    for (let minute = 0; minute < 4; minute++) {
      vi.setSystemTime(start + minute * 61_000);
      const burst = await Promise.all(Array.from({ length: 6 }, attempt));
      expect(statuses(burst)).toEqual({ 401: 5, 429: 1 });
    }
    vi.setSystemTime(start + 4 * 61_000);
    const res = await attempt();
    await problem(res, 429, "rate_limited");
    expect(Number(res.headers.get("Retry-After"))).toBe(3600 - 4 * 61);
  });

  it("admits exactly 10 of 12 parallel registrations from one IP", async () => {
    const ip = freshIp();
    const responses = await Promise.all(
      Array.from({ length: 12 }, () =>
        call("/api/v1/auth/register", { ip, body: { email: uniqueEmail("reg"), password: STRONG_PASSWORD, full_name: "Burst" } }),
      ),
    );
    expect(statuses(responses)).toEqual({ 201: 10, 429: 2 });
    const limited = responses.find((r) => r.status === 429) as Response;
    expect(limited.headers.get("RateLimit-Policy")).toBe(`"register_ip_hour";q=10;w=3600`);
  });

  it("takes the client IP from CF-Connecting-IP only: X-Forwarded-For and X-Real-IP are ignored", async () => {
    const ip = freshIp();
    for (let i = 0; i < 5; i++) {
      const res = await loginFrom(
        ip,
        { email: uniqueEmail(), password: WRONG },
        { "X-Forwarded-For": `10.0.0.${i}`, "X-Real-IP": `10.1.0.${i}` },
      );
      expect(res.status).toBe(401);
    }
    const spoofed = await loginFrom(
      ip,
      { email: uniqueEmail(), password: WRONG },
      { "X-Forwarded-For": "192.0.2.99", "True-Client-IP": "192.0.2.98" },
    );
    await problem(spoofed, 429, "rate_limited");
    // The same forwarded header from another connecting IP is a different client.
    expect((await loginFrom(freshIp(), { email: uniqueEmail(), password: WRONG }, { "X-Forwarded-For": "192.0.2.99" })).status).toBe(401);
  });

  it("counts IPv6 clients per /64", async () => {
    const prefix = `2001:db8:${(Date.now() % 0xffff).toString(16)}:${Math.floor(Math.random() * 0xffff).toString(16)}`;
    for (let i = 1; i <= 5; i++) expect((await loginFrom(`${prefix}::${i}`, { email: uniqueEmail(), password: WRONG })).status).toBe(401);
    await problem(await loginFrom(`${prefix}:0:0:0:ff`, { email: uniqueEmail(), password: WRONG }), 429, "rate_limited");
  });

  it("puts requests without CF-Connecting-IP into one shared bucket", async () => {
    // That bucket is one object for the whole suite: counted here in objects of this test's own, so
    // header-less requests of other tests (earlier in the same minute) cannot spend it.
    const limiter = ownLimiterObjects();
    const noIp = () =>
      call(LOGIN, { body: { email: uniqueEmail(), password: WRONG }, ip: null, env: { RATE_LIMITER: limiter.RATE_LIMITER } });
    const responses = await Promise.all(Array.from({ length: 6 }, noIp));
    expect(statuses(responses)).toEqual({ 401: 5, 429: 1 });
    // Six different identifiers, one per-IP object for all of them.
    expect(new Set(limiter.names.filter((name) => name.startsWith("ip:")))).toEqual(new Set(["ip:unknown"]));
  });
});

describe("per-account lockout", () => {
  it("evaluates exactly 5 of 20 parallel wrong passwords from 20 IPs, then locks (423) even the right one", async () => {
    const user = await register();
    const responses = await Promise.all(Array.from({ length: 20 }, () => login({ email: user.email, password: WRONG })));
    expect(statuses(responses)).toEqual({ 401: 5, 423: 15 });
    const failed = await auditRows("user_id = ? AND action = 'login.failed'", user.userId);
    expect(failed).toHaveLength(5);

    const locked = await login({ email: user.email, password: user.password });
    await problem(locked, 423, "account_locked");
    const retryAfter = Number(locked.headers.get("Retry-After"));
    expect(retryAfter).toBeGreaterThan(1700);
    expect(retryAfter).toBeLessThanOrEqual(1800);

    const lockRows = await auditRows("user_id = ? AND action = 'account.locked'", user.userId);
    expect(lockRows).toHaveLength(1);
    expect(lockRows[0]?.metadata).toEqual({ tier: "soft", identifier: "email" });
    // The 16 refusals are one row (one per window, with a count; see test/abuse-costs.test.ts).
    expect((await auditRows("user_id = ? AND action = 'login.throttled'", user.userId)).length).toBe(1);
    // The owner hears about it once, however many attempts were refused.
    expect(await outbox(user.email, "security_notice")).toHaveLength(1);
  });

  it("locks an email that has no account exactly like one that has", async () => {
    const email = uniqueEmail("ghost");
    const lastIp = await lock({ email });
    await problem(await login({ email, password: WRONG }), 423, "account_locked");
    const rows = await auditRows("action = 'account.locked' AND ip_address = ?", lastIp);
    expect(rows).toEqual([expect.objectContaining({ user_id: null })]);
  });

  it("counts a username separately from the email and case-insensitively", async () => {
    const username = `locker${Date.now().toString(36)}`;
    const user = await register({ username });
    await lock({ username: username.toUpperCase() });
    await problem(await login({ username, password: user.password }), 423, "account_locked");
    expect((await login({ email: user.email, password: user.password })).status).toBe(200);
  });

  it("clears the failure count on a successful login", async () => {
    const user = await register();
    for (let i = 0; i < 4; i++) expect((await login({ email: user.email, password: WRONG })).status).toBe(401);
    expect((await login({ email: user.email, password: user.password })).status).toBe(200);
    for (let i = 0; i < 4; i++) expect((await login({ email: user.email, password: WRONG })).status).toBe(401);
    expect((await login({ email: user.email, password: user.password })).status).toBe(200);
  });

  it("allows at most 10 login attempts per hour per account, successful ones included", async () => {
    const user = await register();
    // From one client (one IP under the per-IP limit), so the new-sign-in notices stay within the mailbox budget.
    const ip = freshIp();
    const limits = {
      RATE_LIMITS: JSON.stringify({ login_ip_minute: { limit: 100, window: 60 }, login_ip_hour: { limit: 100, window: 3600 } }),
    };
    const attempt = () => call("/api/v1/auth/login", { body: { email: user.email, password: user.password }, ip, env: limits });
    for (let i = 0; i < 10; i++) expect((await attempt()).status).toBe(200);
    const res = await attempt();
    await problem(res, 429, "rate_limited");
    expect(res.headers.get("RateLimit-Policy")).toBe(`"login_account_hour";q=10;w=3600`);
    const rows = await auditRows("user_id = ? AND action = 'login.throttled'", user.userId);
    expect(rows[0]?.metadata).toMatchObject({ reason: "rate_limited", policy: "login_account_hour" });
  });

  it("lifts the 30-minute lock after 30 minutes and hard-locks at 10 failures until the lockout is cleared", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const start = Date.now() + 2 * 86_400_000;
    vi.setSystemTime(start);
    const user = await register();
    await lock({ email: user.email });
    vi.setSystemTime(start + 29 * 60_000);
    const stillLocked = await login({ email: user.email, password: user.password });
    await problem(stillLocked, 423, "account_locked");
    expect(Number(stillLocked.headers.get("Retry-After"))).toBe(60);

    vi.setSystemTime(start + 30 * 60_000);
    await lock({ email: user.email }); // failures 6..10: the last one sets the hard lock
    vi.setSystemTime(start + 30 * 86_400_000);
    const hard = await login({ email: user.email, password: user.password });
    await problem(hard, 423, "account_locked");
    expect(hard.headers.get("Retry-After")).toBeNull();
    const tiers = (await auditRows("user_id = ? AND action = 'account.locked'", user.userId)).map((r) => r.metadata.tier);
    expect(tiers.sort()).toEqual(["hard", "soft"]);
    expect(await outbox(user.email, "security_notice")).toHaveLength(2);

    // What the password-reset flow calls once the new password is set.
    const deps = createDeps(env, { meta: { ip: null, userAgent: null, requestId: "test" }, waitUntil: () => undefined });
    await clearLockout(deps, { id: user.userId, email: user.email, username: null }, "password_reset");
    expect((await auditRows("user_id = ? AND action = 'account.unlocked'", user.userId)).length).toBe(1);
    expect((await login({ email: user.email, password: user.password })).status).toBe(200);
  });

  it("applies precedence: per-IP 429, then lockout 423, then credentials 401", async () => {
    const user = await register();
    await lock({ email: user.email });
    const ip = freshIp();
    for (let i = 0; i < 5; i++) expect((await loginFrom(ip, { email: uniqueEmail(), password: WRONG })).status).toBe(401);
    await problem(await loginFrom(ip, { email: user.email, password: user.password }), 429, "rate_limited");
    await problem(await login({ email: user.email, password: user.password }), 423, "account_locked");
    await problem(await login({ email: uniqueEmail(), password: WRONG }), 401, "invalid_credentials");
  });
});

describe("fail closed", () => {
  const limiterDown = { level: "error", event: "dependency.unavailable", dependency: "durable_object" };

  it("answers 503 service_unavailable with Retry-After when the Durable Object cannot be reached", async () => {
    const user = await register();
    const logs = captureLogs();
    for (const [path, body] of [
      [LOGIN, { email: user.email, password: user.password }],
      ["/api/v1/auth/register", { email: uniqueEmail(), password: STRONG_PASSWORD, full_name: "No DO" }],
    ] as const) {
      const res = await call(path, { env: { RATE_LIMITER: unreachableLimiter() }, body, ip: freshIp() });
      const problemBody = await problem(res, 503, "service_unavailable");
      expect(res.headers.get("Retry-After")).toMatch(/^\d+$/);
      expect(problemBody).not.toHaveProperty("access_token");
    }
    expect(logs.problems()).toEqual([expect.objectContaining(limiterDown), expect.objectContaining(limiterDown)]);
    expect(logs.text()).not.toContain(user.password);
  });

  it("treats a namespace that throws synchronously the same way", async () => {
    const logs = captureLogs();
    const res = await call(LOGIN, {
      env: { RATE_LIMITER: throwingLimiter() },
      body: { email: uniqueEmail(), password: WRONG },
      ip: freshIp(),
    });
    await problem(res, 503, "service_unavailable");
    expect(logs.problems()).toEqual([expect.objectContaining({ ...limiterDown, cause: "Error: binding missing" })]);
  });
});

describe("configuration", () => {
  it("takes limit overrides from RATE_LIMITS", async () => {
    const overridden = { RATE_LIMITS: JSON.stringify({ login_ip_minute: { limit: 2, window: 30 } }) };
    const ip = freshIp();
    const statusesSeen: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await call(LOGIN, { env: overridden, body: { email: uniqueEmail(), password: WRONG }, ip });
      statusesSeen.push(res.status);
      if (res.status === 429) expect(res.headers.get("RateLimit-Policy")).toContain(`"login_ip_minute";q=2;w=30`);
    }
    expect(statusesSeen).toEqual([401, 401, 429]);
  });
});
