import { afterEach, describe, expect, it, onTestFinished, vi } from "vitest";
import { call, captureLogs, env, freshIp, problem, register, STRONG_PASSWORD, uniqueEmail } from "./helpers";

/**
 * "One client failing across many identifiers": 20 distinct failing login identifiers
 * from one IP within an hour block that IP's login, registration and recovery for an hour.
 */

const LOGIN = "/api/v1/auth/login";
const WRONG = "wrong password, clearly 123";
// The per-IP login limits (5/min, 20/h) would otherwise stop these clients first.
const ROOMY = {
  RATE_LIMITS: JSON.stringify({ login_ip_minute: { limit: 1000, window: 60 }, login_ip_hour: { limit: 1000, window: 3600 } }),
};

afterEach(() => {
  vi.restoreAllMocks();
});

function fail(ip: string, email = uniqueEmail("spread"), vars: Record<string, string> = ROOMY) {
  return call(LOGIN, { ip, body: { email, password: WRONG }, env: vars });
}

async function failAcross(ip: string, n: number, vars: Record<string, string> = ROOMY): Promise<void> {
  for (let i = 0; i < n; i++) expect((await fail(ip, uniqueEmail("spread"), vars)).status).toBe(401);
}

async function expectBlocked(res: Response): Promise<void> {
  await problem(res, 429, "rate_limited");
  const retryAfter = Number(res.headers.get("Retry-After"));
  expect(retryAfter).toBeGreaterThan(3500);
  expect(retryAfter).toBeLessThanOrEqual(3600);
  expect(res.headers.get("RateLimit-Policy")).toBe(`"login_failures_ip_identifiers_hour";q=20;w=3600`);
}

async function blockRows(ip: string) {
  const { results } = await env.DB.prepare("SELECT user_id, metadata FROM audit_logs WHERE action = 'ip.blocked' AND ip_address = ?")
    .bind(ip)
    .all<{ user_id: string | null; metadata: string }>();
  return results;
}

describe("a shared address (an office, a campus, a carrier's NAT)", () => {
  it("strangers' failures across 20 made-up addresses block strangers there, but the account's known devices go on", async () => {
    const owner = await register();
    const ip = freshIp();
    await failAcross(ip, 20);
    // A stranger, even with the right password, is blocked; so is a made-up device token.
    await expectBlocked(await call(LOGIN, { ip, body: { email: owner.email, password: STRONG_PASSWORD }, env: ROOMY }));
    await expectBlocked(
      await call(LOGIN, { ip, body: { email: owner.email, password: STRONG_PASSWORD, device_token: "forged.device.token" }, env: ROOMY }),
    );
    // The owner's known device signs in on its own budget, and its wrong guesses count only against itself.
    const device = owner.body.device_token as string;
    const known = await call(LOGIN, { ip, body: { email: owner.email, password: STRONG_PASSWORD, device_token: device }, env: ROOMY });
    expect(known.status).toBe(200);
    const wrong = await call(LOGIN, { ip, body: { email: owner.email, password: WRONG, device_token: device }, env: ROOMY });
    await problem(wrong, 401, "invalid_credentials");
  });
});

describe("one client failing across many identifiers", () => {
  it("blocks login (even a correct password), registration and recovery from that IP after 20 identifiers; other IPs go on", async () => {
    const logs = captureLogs();
    const account = await register();
    const ip = freshIp();
    await failAcross(ip, 20);

    await expectBlocked(await call(LOGIN, { ip, body: { email: account.email, password: STRONG_PASSWORD }, env: ROOMY }));
    await expectBlocked(
      await call("/api/v1/auth/register", {
        ip,
        body: { email: uniqueEmail(), password: STRONG_PASSWORD, full_name: "Blocked" },
        env: ROOMY,
      }),
    );
    await expectBlocked(await call("/api/v1/auth/forgot-password", { ip, body: { email: account.email }, env: ROOMY }));

    expect((await call(LOGIN, { ip: freshIp(), body: { email: account.email, password: STRONG_PASSWORD }, env: ROOMY })).status).toBe(200);

    const rows = await blockRows(ip);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.user_id).toBeNull();
    expect(JSON.parse(rows[0]?.metadata ?? "{}")).toMatchObject({ reason: "failures_across_identifiers", identifiers: 20, count: 1 });
    expect(logs.problems().map((l) => l.event)).toEqual(["attack.ip_spread"]);
  });

  it("does not trigger at 19 identifiers, nor on repeated failures of one identifier", async () => {
    const account = await register();
    const ip = freshIp();
    await failAcross(ip, 19);
    expect((await call(LOGIN, { ip, body: { email: account.email, password: STRONG_PASSWORD }, env: ROOMY })).status).toBe(200);

    const same = freshIp();
    const email = uniqueEmail("spread");
    // The identifier locks after 5 (423), but it stays one identifier: no spread block.
    for (let i = 0; i < 25; i++) expect([401, 423]).toContain((await fail(same, email)).status);
    expect((await call(LOGIN, { ip: same, body: { email: account.email, password: STRONG_PASSWORD }, env: ROOMY })).status).toBe(200);
    expect(await blockRows(same)).toHaveLength(0);
  });

  it("a parallel burst across 40 identifiers gets exactly 20 evaluated, then the IP is blocked", async () => {
    const logs = captureLogs();
    onTestFinished(() => expect(logs.problems().map((l) => l.event)).toContain("attack.ip_spread"));
    const ip = freshIp();
    const responses = await Promise.all(Array.from({ length: 40 }, () => fail(ip)));
    const counts: Record<number, number> = {};
    for (const r of responses) counts[r.status] = (counts[r.status] ?? 0) + 1;
    expect(counts).toEqual({ 401: 20, 429: 20 });
    await expectBlocked(await fail(ip));
    expect(await blockRows(ip)).toHaveLength(1);
  });

  it("is tuned by RATE_LIMITS, and ATTACK_IP_SPREAD_ACTION=log audits without blocking", async () => {
    const logs = captureLogs();
    onTestFinished(() => expect(logs.problems().map((l) => l.event)).toContain("attack.ip_spread"));
    const limits = {
      login_ip_minute: { limit: 1000, window: 60 },
      login_ip_hour: { limit: 1000, window: 3600 },
      login_failures_ip_identifiers_hour: { limit: 3, window: 600 },
      login_failures_ip_block: { seconds: 120 },
    };
    const tuned = { RATE_LIMITS: JSON.stringify(limits) };
    const ip = freshIp();
    await failAcross(ip, 3, tuned);
    const res = await fail(ip, uniqueEmail(), tuned);
    await problem(res, 429, "rate_limited");
    expect(Number(res.headers.get("Retry-After"))).toBeLessThanOrEqual(120);

    captureLogs();
    const logOnly = { ...tuned, ATTACK_IP_SPREAD_ACTION: "log" };
    const watched = freshIp();
    await failAcross(watched, 5, logOnly);
    const rows = await blockRows(watched);
    expect(rows).toHaveLength(1);
    expect(JSON.parse(rows[0]?.metadata ?? "{}")).toMatchObject({ enforced: false });
  });
});
