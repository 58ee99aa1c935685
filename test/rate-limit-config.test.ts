import { describe, expect, it } from "vitest";
import { readConfig, type Bindings } from "../src/config";
import { accountObjectName, ipObjectName } from "../src/abuse/object-names";
import { clientKey } from "../src/abuse/client-key";
import { ipPolicies, parseRateLimits } from "../src/config/rate-limits";

/** Pure parts of the abuse policy: the RATE_LIMITS parser and the object naming. */

describe("RATE_LIMITS", () => {
  it("defaults to the documented limits", () => {
    const settings = parseRateLimits(undefined);
    expect(ipPolicies(settings, "login")).toEqual([
      { name: "login_ip_minute", limit: 5, window: 60 },
      { name: "login_ip_hour", limit: 20, window: 3600 },
    ]);
    expect(settings.lockout).toEqual({ softAfter: 5, softLockSeconds: 1800, hardAfter: 10, forgetAfterSeconds: 86_400 });
  });

  it("overrides single limits and lockout fields", () => {
    const settings = parseRateLimits('{"refresh_ip_minute":{"limit":120,"window":60},"lockout":{"soft_after":3,"hard_after":6}}');
    expect(settings.limits.refresh_ip_minute).toEqual({ limit: 120, window: 60 });
    expect(settings.limits.login_ip_minute).toEqual({ limit: 5, window: 60 });
    expect(settings.lockout).toMatchObject({ softAfter: 3, hardAfter: 6, softLockSeconds: 1800 });
  });

  it.each([
    ["not json", "{"],
    ["an unknown limit name", '{"login_per_ip":{"limit":1,"window":60}}'],
    ["a zero limit", '{"login_ip_minute":{"limit":0,"window":60}}'],
    ["a missing window", '{"login_ip_minute":{"limit":3}}'],
    ["hard_after not above soft_after", '{"lockout":{"soft_after":5,"hard_after":5}}'],
  ])("refuses %s, failing the configuration loudly", (_, raw) => {
    expect(() => parseRateLimits(raw)).toThrow(/RATE_LIMITS/);
    expect(() => readConfig({ RATE_LIMITS: raw } as unknown as Bindings)).toThrow(/invalid configuration/);
  });
});

describe("object names", () => {
  it.each([
    [null, "unknown"],
    ["", "unknown"],
    ["203.0.113.7", "203.0.113.7"],
    ["::ffff:203.0.113.7", "203.0.113.7"],
    ["2001:DB8:0:1:aaaa:bbbb:cccc:dddd", "2001:db8:0:1::/64"],
    ["2001:db8::1", "2001:db8:0:0::/64"],
    ["fe80::1%eth0", "fe80:0:0:0::/64"],
    ["not-an-ip", "not-an-ip"],
  ])("keys client %s as %s", (ip, key) => {
    expect(clientKey(ip)).toBe(key);
  });

  it("names objects by IP key and by normalized identifier", () => {
    expect(ipObjectName("2001:db8:0:1::5")).toBe("ip:2001:db8:0:1::/64");
    expect(accountObjectName({ email: " Alice@Example.COM " })).toBe("account:alice@example.com");
    expect(accountObjectName({ username: "Bob_1" })).toBe("account:bob_1");
  });
});
