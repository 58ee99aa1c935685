import { describe, expect, it, vi } from "vitest";
import { runScheduledMaintenance } from "../src/maintenance/scheduled";
import { call, env, freshIp, register, STRONG_PASSWORD, uniqueEmail, type Registered } from "./helpers";

/**
 * What an account's erasure leaves behind: nothing that locates or fingerprints the person. Device
 * rows go, the KV sign-in profile goes, and the account's own audit rows stay without their IP
 * address and user agent; the daily clean-up also drops dead devices.
 */

const ME = "/api/v1/users/me";
const AGENT = "Mozilla/5.0 (X11; Linux x86_64) ErasureTest/1.0";

/** An account with a trail: registered, signed in again from another client, an API key used. */
async function withTraces(): Promise<Registered & { apiKey: string }> {
  const user = await register();
  const signIn = await call("/api/v1/auth/login", {
    body: { email: user.email, password: user.password },
    ip: freshIp(),
    headers: { "User-Agent": AGENT },
  });
  expect(signIn.status).toBe(200);
  const created = await call(`${ME}/api-keys`, { token: user.accessToken, body: { name: "k" } });
  const apiKey = (await created.json<{ api_key: string }>()).api_key;
  expect((await call(ME, { token: apiKey, ip: freshIp() })).status).toBe(200);
  return { ...user, apiKey };
}

async function traces(userId: string) {
  const count = async (sql: string) => (await env.DB.prepare(sql).bind(userId).first<{ n: number }>())!.n;
  return {
    devices: await count("SELECT count(*) AS n FROM devices WHERE user_id = ?"),
    auditRows: await count("SELECT count(*) AS n FROM audit_logs WHERE user_id = ?"),
    auditRowsWithClient: await count(
      "SELECT count(*) AS n FROM audit_logs WHERE user_id = ? AND (ip_address IS NOT NULL OR user_agent IS NOT NULL)",
    ),
    keysWithIp: await count("SELECT count(*) AS n FROM api_keys WHERE user_id = ? AND last_used_ip IS NOT NULL"),
    signInProfile: await env.AUTH_KV.get(`signin:${userId}`),
  };
}

function deleteAccount(user: Registered, extra: Parameters<typeof call>[1] = {}) {
  return call(ME, { method: "DELETE", token: user.accessToken, body: { password: user.password }, ...extra });
}

describe("erasing an account", () => {
  it("at deletion (no grace): deletes its devices and KV sign-in profile, keeps its audit rows without IP or user agent", async () => {
    const user = await withTraces();
    const before = await traces(user.userId);
    expect(before).toMatchObject({ devices: 2, keysWithIp: 1 });
    expect(before.auditRowsWithClient).toBeGreaterThan(0);
    expect(before.signInProfile).not.toBeNull();

    expect((await deleteAccount(user)).status).toBe(204);
    const after = await traces(user.userId);
    expect(after).toEqual({ devices: 0, auditRows: before.auditRows + 1, auditRowsWithClient: 0, keysWithIp: 0, signInProfile: null });
    // The deletion's own row is kept too, without its client.
    const deleted = await env.DB.prepare("SELECT ip_address, user_agent FROM audit_logs WHERE user_id = ? AND action = 'user.deleted'")
      .bind(user.userId)
      .first();
    expect(deleted).toEqual({ ip_address: null, user_agent: null });
  });

  it("after ACCOUNT_ERASURE_GRACE_DAYS: devices go at the next daily run, the rest at erasure", async () => {
    const grace = { ACCOUNT_ERASURE_GRACE_DAYS: "3" };
    const user = await withTraces();
    expect((await deleteAccount(user, { env: grace })).status).toBe(204);
    expect((await traces(user.userId)).devices).toBe(2);

    await runScheduledMaintenance({ ...env, ...grace }, new Date(Date.now() + 86_400_000));
    const during = await traces(user.userId);
    expect(during.devices).toBe(0);
    expect(during.signInProfile).not.toBeNull();
    expect(during.auditRowsWithClient).toBeGreaterThan(0);

    await runScheduledMaintenance({ ...env, ...grace }, new Date(Date.now() + 3 * 86_400_000 + 60_000));
    expect(await traces(user.userId)).toMatchObject({ devices: 0, auditRowsWithClient: 0, keysWithIp: 0, signInProfile: null });
    expect((await traces(user.userId)).auditRows).toBe(during.auditRows);
  });
});

describe("expiring unverified accounts (verification required)", () => {
  const VERIFY = { REQUIRE_EMAIL_VERIFICATION: "true" };

  /** An account registered 8 days ago and never verified (UNVERIFIED_ACCOUNT_TTL_DAYS is 7). */
  async function stale(): Promise<{ email: string; userId: string }> {
    const email = uniqueEmail("stale");
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() - 8 * 86_400_000 });
    const res = await call("/api/v1/auth/register", {
      env: VERIFY,
      body: { email, password: STRONG_PASSWORD, full_name: "Stale" },
      ip: freshIp(),
    });
    vi.useRealTimers();
    expect(res.status).toBe(202);
    const row = await env.DB.prepare("SELECT id FROM users WHERE email = ? AND deleted_at IS NULL").bind(email).first<{ id: string }>();
    await env.AUTH_KV.put(`signin:${row!.id}`, "{}");
    return { email, userId: row!.id };
  }

  it("erases their traces too, by the daily clean-up or when a new registration reclaims the address", async () => {
    const [byCron, byReclaim] = [await stale(), await stale()];
    for (const { userId } of [byCron, byReclaim]) expect((await traces(userId)).auditRowsWithClient).toBeGreaterThan(0);

    await runScheduledMaintenance({ ...env, ...VERIFY }, new Date());
    const reclaim = await call("/api/v1/auth/register", {
      env: VERIFY,
      body: { email: byReclaim.email, password: STRONG_PASSWORD, full_name: "Owner" },
      ip: freshIp(),
    });
    expect(reclaim.status).toBe(202);
    for (const { userId } of [byCron, byReclaim]) {
      expect(await traces(userId)).toMatchObject({ devices: 0, auditRowsWithClient: 0, signInProfile: null });
      const row = await env.DB.prepare("SELECT deleted_at, erased_at FROM users WHERE id = ?").bind(userId).first();
      expect(row).toMatchObject({ deleted_at: expect.any(Number) as unknown, erased_at: expect.any(Number) as unknown });
    }
  });
});

describe("the daily clean-up", () => {
  it("drops devices older than a device token's lifetime, keeps live ones", async () => {
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() - 91 * 86_400_000 });
    const old = await register();
    vi.useRealTimers();
    const recent = await register();
    const devicesOf = async (userId: string) =>
      (await env.DB.prepare("SELECT count(*) AS n FROM devices WHERE user_id = ?").bind(userId).first<{ n: number }>())!.n;
    expect([await devicesOf(old.userId), await devicesOf(recent.userId)]).toEqual([1, 1]);
    await runScheduledMaintenance(env, new Date());
    expect([await devicesOf(old.userId), await devicesOf(recent.userId)]).toEqual([0, 1]);
  });
});
