import { afterEach, describe, expect, it, vi } from "vitest";
import { call, env, freshIp, login, outbox, problem, register, uniqueEmail } from "./helpers";

/** Password recovery through HTTP and the dev outbox: forgot-password, reset-password. */

const NEW_PASSWORD = "a brand new passphrase 77";

function forgot(email: string, headers: Record<string, string> = {}) {
  return call("/api/v1/auth/forgot-password", { body: { email }, ip: freshIp(), headers });
}

function reset(token: string, newPassword = NEW_PASSWORD) {
  return call("/api/v1/auth/reset-password", { body: { token, new_password: newPassword }, ip: freshIp() });
}

/** Requests a reset for `email` and returns the mailed token (the `count`-th reset mail, the newest). */
async function resetToken(email: string, count = 1): Promise<string> {
  expect((await forgot(email)).status).toBe(202);
  const mails = await outbox(email, "password_reset");
  expect(mails).toHaveLength(count);
  return mails[0]!.token!;
}

async function auditActions(userId: string): Promise<string[]> {
  const { results } = await env.DB.prepare("SELECT action FROM audit_logs WHERE user_id = ? ORDER BY created_at")
    .bind(userId)
    .all<{ action: string }>();
  return results.map((r) => r.action);
}

afterEach(() => {
  vi.useRealTimers();
});

describe("POST /auth/forgot-password", () => {
  it("answers the same bytes for a known and an unknown address and mails only the known one", async () => {
    const user = await register();
    const unknown = uniqueEmail("nobody");
    const known = await forgot(user.email);
    const missing = await forgot(unknown);
    expect(known.status).toBe(202);
    expect(missing.status).toBe(202);
    const [knownBody, missingBody] = [await known.text(), await missing.text()];
    expect(knownBody).toBe(missingBody);
    expect(JSON.parse(knownBody)).toEqual({ message: expect.any(String) as unknown });
    expect(known.headers.get("content-type")).toBe(missing.headers.get("content-type"));

    const mails = await outbox(user.email, "password_reset");
    expect(mails).toHaveLength(1);
    expect(mails[0]!.token).toMatch(/^[A-Za-z0-9_-]{43,}$/);
    expect(mails[0]!.text).toContain(`https://auth.example.com/reset-password?token=${mails[0]!.token}`);
    expect(await outbox(unknown)).toEqual([]);
  });

  it("changes nothing on the account", async () => {
    const user = await register();
    await resetToken(user.email);
    expect((await call("/api/v1/users/me", { token: user.accessToken })).status).toBe(200);
    expect((await login({ email: user.email, password: user.password })).status).toBe(200);
    expect(await auditActions(user.userId)).toContain("password.reset_requested");
  });

  it("validates the address (422) without revealing anything", async () => {
    await problem(await forgot("not an email"), 422, "validation_failed");
  });

  it("ignores Host and X-Forwarded-Host: the mailed link uses the configured URL", async () => {
    const user = await register();
    // A *.localhost name: dev mode (the tests' DEV_OUTBOX) refuses other hosts (src/web/middleware/dev-host.ts).
    const res = await call("https://evil.localhost/api/v1/auth/forgot-password", {
      body: { email: user.email },
      ip: freshIp(),
      headers: { Host: "evil.localhost", "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "http" },
    });
    expect(res.status).toBe(202);
    const [mail] = await outbox(user.email, "password_reset");
    expect(mail!.text).toContain("https://auth.example.com/reset-password?token=");
    expect(mail!.text).not.toContain("evil.");
  });
});

describe("POST /auth/reset-password", () => {
  it("resets the password, revokes every session and access token, logs nobody in and sends a notice", async () => {
    const user = await register();
    const second = await (await login({ email: user.email, password: user.password })).json<Record<string, string>>();
    const token = await resetToken(user.email);

    const res = await reset(token);
    expect(res.status).toBe(200);
    const body = await res.json<Record<string, unknown>>();
    expect(Object.keys(body)).toEqual(["message"]);

    for (const accessToken of [user.accessToken, second.access_token!]) {
      const me = await call("/api/v1/users/me", { token: accessToken });
      expect(me.status).toBe(401);
    }
    const { results } = await env.DB.prepare("SELECT revoked_reason FROM sessions WHERE user_id = ?")
      .bind(user.userId)
      .all<{ revoked_reason: string | null }>();
    expect(results.map((r) => r.revoked_reason)).toEqual(["password_reset", "password_reset"]);
    for (const refreshToken of [user.refreshToken, second.refresh_token!]) {
      const refreshed = await call("/api/v1/auth/refresh", { body: { refresh_token: refreshToken }, ip: freshIp() });
      await problem(refreshed, 401, "invalid_token");
    }
    await problem(await login({ email: user.email, password: user.password }), 401, "invalid_credentials");
    expect((await login({ email: user.email, password: NEW_PASSWORD })).status).toBe(200);

    const notices = await outbox(user.email, "security_notice");
    expect(notices.map((n) => n.subject)).toContain("Your password was reset");
    expect(await auditActions(user.userId)).toContain("password.reset");
  });

  it("refuses a weak password with 422 and leaves the link usable", async () => {
    const user = await register({ full_name: "Ada Lovelace" });
    const token = await resetToken(user.email);
    const weak = await problem(await reset(token, "password"), 422, "weak_password");
    expect(weak.errors).toEqual([{ field: "new_password", message: expect.any(String) as unknown }]);
    await problem(await reset(token, "lovelace rules 2024"), 422, "weak_password");
    expect((await reset(token)).status).toBe(200);
  });

  it("accepts a token exactly once under a parallel burst", async () => {
    const user = await register();
    const token = await resetToken(user.email);
    const answers = await Promise.all(Array.from({ length: 10 }, () => reset(token)));
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 400)).toHaveLength(9);
    for (const r of answers.filter((a) => a.status === 400)) await problem(r, 400, "invalid_token");
    await problem(await reset(token), 400, "invalid_token");
  });

  it("expires after 15 minutes (judged by the injectable clock)", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const start = Date.now();
    vi.setSystemTime(start);
    const user = await register();
    const stale = await resetToken(user.email);
    vi.setSystemTime(start + 15 * 60_000 + 1_000);
    await problem(await reset(stale), 400, "invalid_token");

    const fresh = await resetToken(user.email, 2);
    vi.setSystemTime(start + 29 * 60_000);
    expect((await reset(fresh)).status).toBe(200);
  });

  it("a stranger's request never voids a live link; the owner's known device gets a fresh one that does", async () => {
    const user = await register();
    const first = await resetToken(user.email);
    // Anyone can ask again: while the first link is live, nothing is sent and nothing is voided.
    expect((await forgot(user.email)).status).toBe(202);
    expect(await outbox(user.email, "password_reset")).toHaveLength(1);

    const deviceToken = user.body.device_token as string;
    const res = await call("/api/v1/auth/forgot-password", { body: { email: user.email, device_token: deviceToken }, ip: freshIp() });
    expect(res.status).toBe(202);
    const mails = await outbox(user.email, "password_reset");
    expect(mails).toHaveLength(2);
    await problem(await reset(first), 400, "invalid_token");
    expect((await reset(mails[0]!.token!)).status).toBe(200);
  });

  it("refuses unknown, malformed and other-purpose tokens with 400 invalid_token", async () => {
    await problem(await reset("x".repeat(43)), 400, "invalid_token");
    await problem(await reset("short"), 400, "invalid_token");
    const user = await register();
    const [verification] = await outbox(user.email, "email_verification");
    await problem(await reset(verification!.token!), 400, "invalid_token");
    await problem(await call("/api/v1/auth/reset-password", { body: { token: "" }, ip: freshIp() }), 422, "validation_failed");
  });

  it("verifies the address, since opening the mailed link proves control of it", async () => {
    const user = await register();
    await reset(await resetToken(user.email));
    const tokens = await (await login({ email: user.email, password: NEW_PASSWORD })).json<Record<string, string>>();
    const me = await (await call("/api/v1/users/me", { token: tokens.access_token })).json<Record<string, unknown>>();
    expect(me.is_verified).toBe(true);
  });

  it("clears the account lockout, the hard tier included", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const user = await register();
    const wrong = () => login({ email: user.email, password: "not the password 1" });
    for (let i = 0; i < 5; i++) await wrong();
    vi.setSystemTime(Date.now() + 31 * 60_000);
    for (let i = 0; i < 5; i++) await wrong();
    // Ten consecutive failures: locked until a reset, even with the right password and hours later.
    vi.setSystemTime(Date.now() + 3 * 3600_000);
    await problem(await login({ email: user.email, password: user.password }), 423, "account_locked");

    await reset(await resetToken(user.email));
    expect((await login({ email: user.email, password: NEW_PASSWORD })).status).toBe(200);
    expect(await auditActions(user.userId)).toContain("account.unlocked");
  });
});
