import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Bindings } from "../src/config";
import { app } from "../src/app";
import {
  auditRows,
  buildRequest,
  call,
  captureLogs,
  env,
  freshIp,
  login,
  outbox,
  problem,
  register,
  uniqueEmail,
  type CallOptions,
} from "./helpers";

/**
 * Threat signals: breached passwords (k-anonymity range API through an injected fetch:
 * no test touches the network) and new-device / impossible-travel / unusual-hour sign-ins
 * (`request.cf` set on the Request, since it cannot be sent over HTTP).
 */

const HIBP = "https://hibp.test/range/";
const REGISTER: Partial<Bindings> = { BREACHED_PASSWORD_CHECK: "register", HIBP_API_URL: HIBP };
const ALWAYS: Partial<Bindings> = { BREACHED_PASSWORD_CHECK: "always", HIBP_API_URL: HIBP };

afterEach(() => vi.restoreAllMocks());

async function sha1(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-1", new TextEncoder().encode(text)));
  return [...digest]
    .map((b) => b.toString(16).padStart(2, "0"))
    .join("")
    .toUpperCase();
}

/** A password nobody (and no earlier run's cache entry) has used. */
// Letters only: digits could match the numbered local part of a test address, which the policy refuses.
const freshPassword = () =>
  `violet tractor ${crypto
    .randomUUID()
    .slice(0, 8)
    .replace(/\d/g, (d) => "ghijklmnop"[Number(d)]!)} lantern`;

/** A fake range API that knows `breached` (with a count) and pads with zero-count decoys. */
async function fakeRangeApi(breached: string[] = []) {
  const known = await Promise.all(breached.map(sha1));
  return vi.spyOn(globalThis, "fetch").mockImplementation((input) => {
    const prefix = String(input instanceof Request ? input.url : input).slice(HIBP.length);
    const lines = known.filter((h) => h.startsWith(prefix)).map((h) => `${h.slice(5)}:1234`);
    lines.push("0000000000000000000000000000000000A:0", "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF:0");
    return Promise.resolve(new Response(lines.join("\r\n"), { status: 200 }));
  });
}

/** The user's audit rows of `action`, oldest first. */
const userAudit = (userId: string, action: string) => auditRows("user_id = ? AND action = ?", userId, action);

/** A request with `request.cf` set, through the app directly; waits for its after-response work. */
async function callWithCf(path: string, cf: Record<string, unknown>, options: CallOptions = {}): Promise<Response> {
  const request = new Request(buildRequest(path, options), { cf });
  const ctx = createExecutionContext();
  const response = await app.fetch(request, options.env ? { ...env, ...options.env } : env, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

describe("breached passwords", () => {
  it("refuses a breached password at registration with the reason, sending only a 5-hex prefix", async () => {
    const password = freshPassword();
    const fetchSpy = await fakeRangeApi([password]);
    const res = await call("/api/v1/auth/register", {
      body: { email: uniqueEmail(), password, full_name: "Test User" },
      ip: freshIp(),
      env: REGISTER,
    });
    const body = await problem(res, 422, "weak_password");
    expect(String(body.detail)).toContain("appeared in a data breach");
    expect(fetchSpy).toHaveBeenCalledTimes(1);
    const [url, init] = fetchSpy.mock.calls[0]!;
    const hash = await sha1(password);
    expect(url).toBe(`${HIBP}${hash.slice(0, 5)}`);
    expect((url as string).slice(HIBP.length)).toMatch(/^[0-9A-F]{5}$/);
    expect(new Headers(init?.headers).get("add-padding")).toBe("true");
    const sent = JSON.stringify([url, init?.headers, init?.body ?? null]);
    expect(sent).not.toContain(password);
    expect(sent).not.toContain(hash.slice(5));
  });

  it("accepts a clean password, ignoring padded zero-count lines", async () => {
    await fakeRangeApi([freshPassword()]);
    const res = await call("/api/v1/auth/register", {
      body: { email: uniqueEmail(), password: freshPassword(), full_name: "Test User" },
      ip: freshIp(),
      env: REGISTER,
    });
    expect(res.status).toBe(201);
  });

  it("checks a password change too (new_password field)", async () => {
    const user = await register();
    const password = freshPassword();
    await fakeRangeApi([password]);
    const res = await call("/api/v1/users/me/password", {
      method: "PATCH",
      token: user.accessToken,
      body: { current_password: user.password, new_password: password },
      env: REGISTER,
    });
    const body = await problem(res, 422, "weak_password");
    expect(body.errors).toEqual([expect.objectContaining({ field: "new_password" })]);
  });

  it("fails open with a warning when the range API is down or times out", async () => {
    const logs = captureLogs();
    const password = freshPassword();
    vi.spyOn(globalThis, "fetch")
      .mockResolvedValueOnce(new Response("down", { status: 503 }))
      .mockRejectedValueOnce(new DOMException("The operation timed out.", "TimeoutError"));
    for (const email of [uniqueEmail(), uniqueEmail()]) {
      const res = await call("/api/v1/auth/register", { body: { email, password, full_name: "Test User" }, ip: freshIp(), env: REGISTER });
      expect(res.status).toBe(201);
    }
    const warnings = logs.problems().filter((l) => l.event === "breached_password.check_failed");
    expect(warnings).toEqual([
      expect.objectContaining({ level: "warn", reason: expect.stringContaining("503") as unknown }),
      expect.objectContaining({ level: "warn", reason: "timeout" }),
    ]);
    expect(logs.text()).not.toContain(password);
    expect(logs.text()).not.toContain((await sha1(password)).slice(0, 5));
  });

  it("never caches or trusts a 200 that is not a range answer: it counts as the API being down", async () => {
    const password = freshPassword();
    const hash = await sha1(password);
    const logs = captureLogs();
    const register = (email: string) =>
      call("/api/v1/auth/register", { body: { email, password, full_name: "Test User" }, ip: freshIp(), env: REGISTER });
    // A captive portal's page, a truncated line, an oversized body: each 200, none a range answer.
    const bogus = [
      "<html><body>Sign in to the Wi-Fi</body></html>",
      `${hash.slice(5, 20)}:3\r\n`,
      `${"0".repeat(35)}:0\r\n`.repeat(10_000),
    ];
    const bogusApi = vi.spyOn(globalThis, "fetch");
    for (const body of bogus) {
      bogusApi.mockResolvedValueOnce(new Response(body, { status: 200 }));
      expect((await register(uniqueEmail())).status).toBe(201);
    }
    expect(bogusApi).toHaveBeenCalledTimes(3);
    expect(logs.problems().filter((l) => l.event === "breached_password.check_failed")).toHaveLength(3);
    vi.restoreAllMocks();
    // Nothing was cached: the next check asks the API again, whose real answer names the password.
    const fetchSpy = await fakeRangeApi([password]);
    await problem(await register(uniqueEmail()), 422, "weak_password");
    expect(fetchSpy).toHaveBeenCalledTimes(1);
  });

  it("is off by default: no outbound call", async () => {
    const fetchSpy = vi.spyOn(globalThis, "fetch");
    await register({ password: freshPassword() });
    expect(fetchSpy).not.toHaveBeenCalled();
  });

  it("with `always`, a breached but correct password logs in, is flagged and the owner is told once", async () => {
    const password = freshPassword();
    const user = await register({ password });
    await fakeRangeApi([password]);
    for (let i = 0; i < 2; i++) {
      const res = await call("/api/v1/auth/login", { body: { email: user.email, password }, ip: freshIp(), env: ALWAYS });
      expect(res.status).toBe(200);
    }
    const flagged = await userAudit(user.userId, "login.flagged");
    expect(flagged).toHaveLength(2);
    expect(flagged[0]!.metadata).toEqual({ flags: ["breached_password"] });
    const notices = (await outbox(user.email, "security_notice")).filter((m) => m.subject === "Your password appears in a data breach");
    expect(notices).toHaveLength(1);
  });
});

describe("new device or place", () => {
  it("keeps registration quiet, then mails one new-sign-in notice per device and day", async () => {
    const user = await register();
    expect((await outbox(user.email, "security_notice")).filter((m) => m.subject.includes("sign-in"))).toHaveLength(0);
    const ip = freshIp();
    for (let i = 0; i < 2; i++) expect((await login({ email: user.email, password: user.password }, ip)).status).toBe(200);
    // A known device (the registration's token) is no new device.
    const known = await login({ email: user.email, password: user.password, device_token: user.body.device_token });
    expect(known.status).toBe(200);
    const notices = (await outbox(user.email, "security_notice")).filter((m) => m.subject === "New sign-in to your account");
    expect(notices).toHaveLength(1);
    expect(notices[0]!.text).toContain(`IP address: ${ip}`);
    expect(notices[0]!.text).toContain("/revert-sign-in?token=");
    expect(await userAudit(user.userId, "login.new_device")).toHaveLength(2);
  });

  it("'this wasn't me' signs everything out, disables the password and mails a reset", async () => {
    const user = await register();
    const res = await login({ email: user.email, password: user.password });
    const { access_token } = await res.json<{ access_token: string }>();
    const [notice] = (await outbox(user.email, "security_notice")).filter((m) => m.subject === "New sign-in to your account");
    const reverted = await call("/api/v1/auth/revert-sign-in", { body: { token: notice!.token }, ip: freshIp() });
    expect(reverted.status).toBe(200);
    await problem(await login({ email: user.email, password: user.password }), 401, "invalid_credentials");
    expect((await call("/api/v1/users/me", { token: access_token })).status).toBe(401);
    expect(await outbox(user.email, "password_reset")).toHaveLength(1);
    expect(await userAudit(user.userId, "login.reverted")).toHaveLength(1);
    // The link works once.
    await problem(await call("/api/v1/auth/revert-sign-in", { body: { token: notice!.token }, ip: freshIp() }), 400, "invalid_token");
  });

  it("flags impossible travel from request.cf and names the place in the notice", async () => {
    const user = await register();
    const body = { email: user.email, password: user.password };
    const berlin = { country: "DE", city: "Berlin", latitude: "52.52", longitude: "13.40", timezone: "Europe/Berlin" };
    const sydney = { country: "AU", city: "Sydney", latitude: "-33.87", longitude: "151.21", timezone: "Australia/Sydney" };
    expect((await callWithCf("/api/v1/auth/login", berlin, { body, ip: freshIp() })).status).toBe(200);
    expect((await callWithCf("/api/v1/auth/login", sydney, { body, ip: freshIp() })).status).toBe(200);
    const [flag] = await userAudit(user.userId, "login.flagged");
    expect(flag!.metadata).toMatchObject({ flags: ["impossible_travel", "new_place"], country: "AU", city: "Sydney" });
    const [unusual] = (await outbox(user.email, "security_notice")).filter((m) => m.subject === "Unusual sign-in to your account");
    expect(unusual!.text).toContain("Approximate location: \u2068Sydney, AU\u2069");
    expect(unusual!.text).toContain("no traveller could have made");
  });

  it("flags an hour the account never signs in at", async () => {
    const user = await register();
    const body = { email: user.email, password: user.password, device_token: user.body.device_token };
    const utc = { country: "GB", timezone: "UTC" };
    await env.AUTH_KV.put(
      `signin:${user.userId}`,
      JSON.stringify({ last: null, hours: Array.from({ length: 24 }, (_, h) => (h === 12 ? 20 : 0)) }),
    );
    const now = new Date().getUTCHours();
    expect((await callWithCf("/api/v1/auth/login", utc, { body, ip: freshIp() })).status).toBe(200);
    const flagged = await userAudit(user.userId, "login.flagged");
    if (Math.abs(now - 12) <= 1) expect(flagged).toHaveLength(0);
    else expect(flagged[0]!.metadata).toMatchObject({ flags: ["unusual_hour"], hour: now });
  });

  it("a known device from a new country or network gets one notice a day; known places stay quiet", async () => {
    const user = await register();
    const body = { email: user.email, password: user.password, device_token: user.body.device_token };
    const home = { country: "NL", asn: 1136, timezone: "Europe/Amsterdam" };
    const ip = freshIp();
    const unusual = async () =>
      (await outbox(user.email, "security_notice")).filter((m) => m.subject === "Unusual sign-in to your account");
    // The first places are the account's normal ones; signing in from them again says nothing.
    expect((await callWithCf("/api/v1/auth/login", home, { body, ip })).status).toBe(200);
    expect((await callWithCf("/api/v1/auth/login", home, { body, ip })).status).toBe(200);
    expect(await userAudit(user.userId, "login.flagged")).toHaveLength(0);
    expect(await unusual()).toHaveLength(0);

    // Same country, another network (a phone on a mobile carrier): flagged, and the owner is told.
    const abroad = { country: "NL", asn: 33915, timezone: "Europe/Amsterdam" };
    const roaming = freshIp();
    expect((await callWithCf("/api/v1/auth/login", abroad, { body, ip: roaming })).status).toBe(200);
    const [flag] = await userAudit(user.userId, "login.flagged");
    expect(flag!.metadata).toMatchObject({ flags: ["new_place"], new_places: ["asn:33915"] });
    const [notice] = await unusual();
    expect(notice!.text).toContain("network (AS33915)");
    expect(notice!.token).toBeTruthy();

    // A new country from that same device the same day: flagged again, but no second mail.
    const travel = { country: "BE", asn: 33915, timezone: "Europe/Brussels" };
    expect((await callWithCf("/api/v1/auth/login", travel, { body, ip: roaming })).status).toBe(200);
    expect(await userAudit(user.userId, "login.flagged")).toHaveLength(2);
    expect(await unusual()).toHaveLength(1);
    // Nothing here made it a new device.
    expect(await userAudit(user.userId, "login.new_device")).toHaveLength(0);
  });

  it("is tuned: NEW_SIGN_IN_ACTION=log records without mailing, IMPOSSIBLE_TRAVEL_KMH moves the travel bar", async () => {
    const user = await register();
    const quiet: Partial<Bindings> = { NEW_SIGN_IN_ACTION: "log", IMPOSSIBLE_TRAVEL_KMH: "20000" };
    const body = { email: user.email, password: user.password };
    const berlin = { country: "DE", latitude: "52.52", longitude: "13.40", timezone: "Europe/Berlin" };
    const sydney = { country: "AU", latitude: "-33.87", longitude: "151.21", timezone: "Australia/Sydney" };
    expect((await callWithCf("/api/v1/auth/login", berlin, { body, ip: freshIp(), env: quiet })).status).toBe(200);
    expect((await callWithCf("/api/v1/auth/login", sydney, { body, ip: freshIp(), env: quiet })).status).toBe(200);
    expect(await userAudit(user.userId, "login.new_device")).toHaveLength(2);
    // Berlin to Sydney in seconds is far above 20,000 km/h too: the bar moved, the signal still works.
    const flags = (await userAudit(user.userId, "login.flagged")).map((r) => r.metadata.flags);
    expect(flags).toEqual([["impossible_travel", "new_place"]]);
    expect(await outbox(user.email, "security_notice")).toHaveLength(0);
  });
});
