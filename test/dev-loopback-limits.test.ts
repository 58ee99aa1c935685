import { afterEach, describe, expect, it, vi } from "vitest";
import { readConfig } from "../src/config";
import { ConfigError } from "../src/config/define";
import { call, captureLogs, env, ownLimiterObjects } from "./helpers";

/**
 * `npm run dev -- --site` sets DEV_LOOPBACK_LIMITS=relaxed so a developer clicking around a local
 * site is not refused by production's per-address limits (5 logins a minute); every other address,
 * and every deployment, keeps the configured limits.
 */

const SITE_ENV = {
  PUBLIC_URL: "http://auth.example.localhost:8787",
  JWT_ISSUER: "http://auth.example.localhost:8787",
  CORS_ORIGINS: "http://app.example.localhost:5173",
  DEV_LOOPBACK_LIMITS: "relaxed",
};

/** Failed logins from `ip`, one at a time; the statuses in order. */
async function failedLogins(ip: string, count: number, bindings: typeof env): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < count; i++) {
    const res = await call(new URL("/api/v1/auth/login", String(bindings.PUBLIC_URL)).href, {
      ip,
      bindings,
      body: { email: `nobody-${i}@example.com`, password: "not the password" },
    });
    statuses.push(res.status);
  }
  return statuses;
}

afterEach(() => vi.restoreAllMocks());

describe("DEV_LOOPBACK_LIMITS", () => {
  it("relaxes the per-address limits for a loopback client only", async () => {
    const { RATE_LIMITER } = ownLimiterObjects();
    const bindings = { ...env, ...SITE_ENV, RATE_LIMITER };
    // login_ip_minute is 5: the sixth from an ordinary address is refused, from loopback it is not.
    expect(await failedLogins("203.0.113.77", 6, bindings)).toEqual([401, 401, 401, 401, 401, 429]);
    expect(await failedLogins("127.0.0.1", 6, bindings)).toEqual([401, 401, 401, 401, 401, 401]);
    expect(await failedLogins("::1", 6, bindings)).toEqual([401, 401, 401, 401, 401, 401]);
  });

  it("is off by default: loopback gets the production limits", async () => {
    const { RATE_LIMITER } = ownLimiterObjects();
    expect(await failedLogins("127.0.0.1", 6, { ...env, RATE_LIMITER })).toEqual([401, 401, 401, 401, 401, 429]);
  });

  it("refuses to start outside dev mode or with a public PUBLIC_URL", () => {
    expect(readConfig({ ...env, ...SITE_ENV }).loopbackLimitFactor).toBe(100);
    expect(() => readConfig({ ...env, ...SITE_ENV, DEV_OUTBOX: "false" })).toThrow(ConfigError);
    expect(() => readConfig({ ...env, ...SITE_ENV, PUBLIC_URL: "https://auth.example.com" })).toThrow(/DEV_LOOPBACK_LIMITS/);
    expect(() => readConfig({ ...env, ...SITE_ENV, DEV_LOOPBACK_LIMITS: "off" })).toThrow(ConfigError);
  });
});

describe("an origin CORS refuses, in dev mode", () => {
  it("is logged once with the fix, and still gets no CORS header", async () => {
    const logs = captureLogs();
    const origin = `http://forgot-${crypto.randomUUID().slice(0, 8)}.localhost:5173`;
    for (let i = 0; i < 2; i++) {
      const res = await call("/health", { headers: { Origin: origin } });
      expect(res.headers.get("access-control-allow-origin")).toBeNull();
    }
    const lines = logs.problems().filter((line) => line.event === "dev.cors_origin_refused");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: "warn", origin });
    expect(String(lines[0]?.fix)).toContain(`npm run dev -- --site ${origin}`);
  });

  it("is not logged outside dev mode", async () => {
    const logs = captureLogs();
    const res = await call("/health", { env: { DEV_OUTBOX: "false" }, headers: { Origin: "http://prod-page.example" } });
    expect(res.status).toBe(200);
    expect(logs.problems().filter((line) => line.event === "dev.cors_origin_refused")).toEqual([]);
  });
});
