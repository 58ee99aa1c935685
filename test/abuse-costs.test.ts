import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { LimitPolicy } from "../src/config/rate-limits";
import type { RateLimiter } from "../src/abuse/objects/rate-limiter";
import type { SecurityEvent } from "../src/audit/security-events";
import type { LimiterStub } from "../src/kernel/deps";
import { auditRows, call, captureLogs, env, freshIp, login, problem, register, uniqueEmail } from "./helpers";

/**
 * "Refused requests cost nothing": a throttle or a lock is audited once per window with a
 * count, kept in the RateLimiter object and written into the row when the window ends, so an
 * attacker's request rate never turns into D1 writes or into noise in the owner's security log.
 */

const LOGIN = "/api/v1/auth/login";
const WRONG = "wrong password, clearly 123";

/**
 * Runs the object's alarms until none is left, as time passing would: every refusal window ends
 * and its count is written (the alarm treats its scheduled time as "now", so nothing sleeps).
 */
async function endWindows(objectName: string): Promise<void> {
  const stub = env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(objectName));
  for (let i = 0; i < 10; i++) if (!(await runDurableObjectAlarm(stub))) return;
  throw new Error(`alarms of ${objectName} never settled`);
}

function statuses(responses: Response[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const r of responses) counts[r.status] = (counts[r.status] ?? 0) + 1;
  return counts;
}

describe("a burst of refused requests", () => {
  it("writes one rate_limited row per IP and window, whose count reaches the burst once the window ends", async () => {
    const ip = freshIp();
    const responses = await Promise.all(
      Array.from({ length: 65 }, () => call(LOGIN, { ip, body: { email: uniqueEmail(), password: WRONG } })),
    );
    expect(statuses(responses)).toEqual({ 401: 5, 429: 60 });

    const rows = await auditRows("ip_address = ? AND action = 'rate_limited'", ip);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      user_id: null,
      metadata: { scope: "ip", action: "login", policy: "login_ip_minute", count: 1, window_seconds: 3600 },
    });

    await endWindows(`ip:${ip}`);
    const [final] = await auditRows("ip_address = ? AND action = 'rate_limited'", ip);
    expect(final).toMatchObject({ id: rows[0]!.id, metadata: { count: 60 } });
  });

  it("opens a new window (one more row) only after the first one has ended", async () => {
    const ip = freshIp();
    const refusedLogin = () => call(LOGIN, { ip, body: { email: uniqueEmail(), password: WRONG } });
    for (let i = 0; i < 5; i++) expect((await refusedLogin()).status).toBe(401);
    for (let i = 0; i < 3; i++) await problem(await refusedLogin(), 429, "rate_limited");
    await endWindows(`ip:${ip}`); // the window ends; the admitted logins have expired as well
    for (let i = 0; i < 5; i++) expect((await refusedLogin()).status).toBe(401);
    for (let i = 0; i < 4; i++) await problem(await refusedLogin(), 429, "rate_limited");
    await endWindows(`ip:${ip}`);
    const counts = (await auditRows("ip_address = ? AND action = 'rate_limited'", ip)).map((r) => r.metadata.count);
    expect(counts.sort()).toEqual([3, 4]);
  });

  it("truncates what a stranger sends on rows of nobody's; the owner's rows keep more", async () => {
    const ip = freshIp();
    const agent = `curl/8 ${"x".repeat(600)}`;
    for (let i = 0; i < 6; i++)
      await call(LOGIN, { ip, headers: { "User-Agent": agent }, body: { email: uniqueEmail(), password: WRONG } });
    const [refusal] = await auditRows("ip_address = ? AND action = 'rate_limited'", ip);
    expect(refusal?.user_agent).toBe(agent.slice(0, 128));
    const [failed] = await auditRows("ip_address = ? AND action = 'login.failed'", ip);
    expect(failed?.user_agent).toBe(agent.slice(0, 128));

    const user = await register();
    const ownIp = freshIp();
    expect(
      (await call(LOGIN, { ip: ownIp, headers: { "User-Agent": agent }, body: { email: user.email, password: user.password } })).status,
    ).toBe(200);
    const [own] = await auditRows("ip_address = ? AND action = 'login.succeeded'", ownIp);
    expect(own?.user_agent).toBe(agent.slice(0, 512));
  });
});

describe("a locked account", () => {
  it("gives its owner one 'blocked attempts' event for 40 refused logins, with the count", async () => {
    const user = await register();
    for (let i = 0; i < 5; i++) expect((await login({ email: user.email, password: WRONG })).status).toBe(401);
    const refused = await Promise.all(Array.from({ length: 40 }, () => login({ email: user.email, password: user.password })));
    expect(statuses(refused)).toEqual({ 423: 40 });

    const rows = await auditRows("user_id = ? AND action = 'login.throttled'", user.userId);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.metadata).toMatchObject({ reason: "locked", tier: "soft", identifier: "email", count: 1 });

    await endWindows(`account:${user.email}`);
    const res = await call("/api/v1/users/me/security-events?limit=100", { token: user.accessToken });
    const { events } = await res.json<{ events: SecurityEvent[] }>();
    const blocked = events.filter((e) => e.action === "login.throttled");
    expect(blocked).toHaveLength(1);
    expect(blocked[0]?.metadata).toMatchObject({ reason: "locked", count: 40, window_seconds: 3600 });
    // The lock itself is still one event of its own.
    expect(events.filter((e) => e.action === "account.locked")).toHaveLength(1);
  });

  it("counts per-address refusals of forgot-password once per window too", async () => {
    const email = uniqueEmail("forgot");
    const ips = Array.from({ length: 12 }, () => freshIp());
    const responses = await Promise.all(ips.map((ip) => call("/api/v1/auth/forgot-password", { ip, body: { email } })));
    expect(statuses(responses)).toEqual({ 202: 3, 429: 9 });
    await endWindows(`account:${email}`);
    const rows = await auditRows(`action = 'rate_limited' AND ip_address IN (${ips.map(() => "?").join(", ")})`, ...ips);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.metadata).toMatchObject({ scope: "account", action: "forgot_password", identifier: "email", count: 9 });
  });
});

describe("failed token attempts", () => {
  it("write no audit rows: a bad bearer, a bad refresh token, a bad mailed token", async () => {
    const ip = freshIp();
    const logs = captureLogs();
    await problem(await call("/api/v1/users/me", { ip, token: "not-a-token" }), 401, "invalid_token");
    await problem(await call("/api/v1/users/me", { ip, token: "gh_0123456789abcdef" + "0".repeat(64) }), 401, "invalid_token");
    await problem(await call("/api/v1/auth/refresh", { ip, body: { refresh_token: "made-up-refresh-token-value" } }), 401, "invalid_token");
    const reset = await call("/api/v1/auth/reset-password", {
      ip,
      body: { token: "made-up-mailed-token", new_password: "a new passphrase 99" },
    });
    await problem(reset, 400, "invalid_token");
    expect(await auditRows("ip_address = ?", ip)).toEqual([]);
    expect(logs.problems()).toEqual([]);
  });
});

describe("the RateLimiter object", () => {
  it("counts reported refusals per window, brings its alarm forward to the window's end and writes the count there", async () => {
    const stub = env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(`unit:refusals:${crypto.randomUUID()}`));
    const rpc = stub as unknown as LimiterStub;
    const now = Date.now();
    const perDay: LimitPolicy = { name: "per_day", limit: 1, window: 86_400 };
    const alarm = () => runInDurableObject(stub, (_: RateLimiter, state) => state.storage.getAlarm());
    expect((await rpc.hit("x", [perDay], now)).ok).toBe(true);
    expect(await alarm()).toBe(now + 86_400_000);

    const first = await rpc.hit("x", [perDay], now + 1000, true);
    const second = await rpc.hit("x", [perDay], now + 2000, true);
    const unreported = await rpc.hit("x", [perDay], now + 3000);
    if (first.ok || second.ok || unreported.ok) throw new Error("expected refusals");
    expect(first.report).toEqual({ id: expect.any(String) as string, first: true, windowSeconds: 3600 });
    expect(second.report).toEqual({ ...first.report, first: false });
    expect(unreported.report).toBeUndefined();
    expect(await alarm()).toBe(now + 1000 + 3_600_000);

    // The row the first refusal's caller would have written.
    await env.DB.prepare("INSERT INTO audit_logs (id, action, metadata, created_at) VALUES (?, 'rate_limited', ?, ?)")
      .bind(first.report!.id, JSON.stringify({ count: 1 }), now)
      .run();
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const row = await env.DB.prepare("SELECT metadata FROM audit_logs WHERE id = ?").bind(first.report!.id).first<{ metadata: string }>();
    expect(JSON.parse(row!.metadata)).toEqual({ count: 2 });
    // Back to the clean-up time of what is left; a refusal after the window opens a new one.
    expect(await alarm()).toBe(now + 86_400_000);
    const later = await rpc.hit("x", [perDay], now + 3_700_000, true);
    expect(later).toMatchObject({ ok: false, report: { first: true } });
    expect(later.ok || later.report!.id !== first.report!.id).toBe(true);
  });
});
