import { decodeJwt } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { auditRows, call, env, freshIp, login, outbox, problem, register, STRONG_PASSWORD } from "./helpers";
import { d1FailingOn } from "./broken-bindings";
import { enableTotp, firstFactor, secondStep, totpCode } from "./totp";

/** TOTP, recovery codes and the sign-in's second step over HTTP, as API.md v1.2 pins them. */

afterEach(() => {
  vi.useRealTimers();
});

/** Moves the faked clock by whole 30-second steps (so each test's codes are of steps not used yet). */
function stepForward(steps = 1): void {
  vi.setSystemTime(Date.now() + steps * 30_000);
}

describe("enabling an authenticator app", () => {
  it("gives a pending secret, enables it with a code, issues 10 recovery codes once, and mails a notice with an undo link", async () => {
    const user = await register();
    const started = await call("/api/v1/users/me/mfa/totp", { method: "POST", token: user.accessToken });
    const { secret, otpauth_uri } = await started.json<{ secret: string; otpauth_uri: string }>();
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    const uri = new URL(otpauth_uri);
    expect(uri.protocol).toBe("otpauth:");
    expect(Object.fromEntries(uri.searchParams)).toMatchObject({ secret, algorithm: "SHA1", digits: "6", period: "30" });
    // Pending: nothing changes for a sign-in yet.
    expect(await (await call("/api/v1/users/me/mfa", { token: user.accessToken })).json<object>()).toMatchObject({
      totp: { enabled: false },
      recovery_codes_remaining: 0,
    });
    expect((await login({ email: user.email, password: user.password })).status).toBe(200);

    await problem(
      await call("/api/v1/users/me/mfa/totp/confirm", { token: user.accessToken, body: { code: "000000" } }),
      401,
      "invalid_code",
    );
    const confirmed = await call("/api/v1/users/me/mfa/totp/confirm", { token: user.accessToken, body: { code: totpCode(secret) } });
    expect(confirmed.status).toBe(200);
    const { recovery_codes } = await confirmed.json<{ recovery_codes: string[] }>();
    expect(recovery_codes).toHaveLength(10);
    expect(new Set(recovery_codes).size).toBe(10);
    // 16 characters of base32: 80 bits each.
    for (const code of recovery_codes) expect(code).toMatch(/^[0-9a-z]{4}(-[0-9a-z]{4}){3}$/);

    const status = await (await call("/api/v1/users/me/mfa", { token: user.accessToken })).json<Record<string, unknown>>();
    expect(status).toMatchObject({ totp: { enabled: true }, passkeys: 0, recovery_codes_remaining: 10, required: false });
    // Only hashes are stored.
    const stored = await env.DB.prepare("SELECT code_hash FROM recovery_codes WHERE user_id = ?").bind(user.userId).all();
    expect(JSON.stringify(stored.results)).not.toContain(recovery_codes[0]!.replace(/-/g, ""));
    const row = await env.DB.prepare("SELECT secret FROM totp_factors WHERE user_id = ?").bind(user.userId).first<{ secret: string }>();
    expect(row!.secret).not.toContain(secret);
    expect(JSON.parse(row!.secret)).toMatchObject({ wrapped: "A256GCM" });

    const [notice] = (await outbox(user.email, "security_notice")).filter((m) => m.subject === "Two-step verification was turned on");
    expect(notice?.token).toBeTruthy();
    expect(notice!.text).toContain("/revert-sign-in");
    expect(await auditRows("user_id = ? AND action = 'mfa.enabled'", user.userId)).toHaveLength(1);
    // Confirming is no proof of the new factor: changing factors now needs a step-up with it.
    await problem(await call("/api/v1/users/me/mfa/totp", { method: "POST", token: user.accessToken }), 403, "reauthentication_required");
  });

  it("needs fresh authentication, and never an API key", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const user = await register();
    const key = await (
      await call("/api/v1/users/me/api-keys", { token: user.accessToken, body: { name: "script" } })
    ).json<{ api_key: string }>();
    await problem(await call("/api/v1/users/me/mfa", { token: key.api_key }), 403, "insufficient_scope");
    await problem(await call("/api/v1/users/me/mfa/totp", { method: "POST", token: key.api_key }), 403, "insufficient_scope");
    await problem(
      await call("/api/v1/auth/step-up", { token: key.api_key, body: { method: "password", password: user.password } }),
      403,
      "insufficient_scope",
    );
    vi.setSystemTime(Date.now() + 5 * 60_000 + 1_000);
    await problem(await call("/api/v1/users/me/mfa/totp", { method: "POST", token: user.accessToken }), 403, "reauthentication_required");
  });
});

describe("events", () => {
  it("enabling and disabling send user.mfa_enabled and user.mfa_disabled", async () => {
    const webhooks = {
      WEBHOOK_URL: "https://hooks.example.com/mfa",
      WEBHOOK_SECRET: `whsec_${btoa("0123456789abcdef0123456789abcdef")}`,
      WEBHOOKS: { send: () => Promise.resolve(), sendBatch: () => Promise.resolve() } as unknown as Queue,
    };
    const user = await register();
    const started = await (await call("/api/v1/users/me/mfa/totp", { method: "POST", token: user.accessToken })).json<{ secret: string }>();
    const code = totpCode(started.secret);
    expect((await call("/api/v1/users/me/mfa/totp/confirm", { token: user.accessToken, body: { code }, env: webhooks })).status).toBe(200);
    const first = await firstFactor(user);
    const nextStep = Math.floor(Date.now() / 30_000) + 1;
    const signedIn = await (await secondStep(first.token, "totp", totpCode(started.secret, nextStep))).json<{ access_token: string }>();
    expect((await call("/api/v1/users/me/mfa/totp", { method: "DELETE", token: signedIn.access_token, env: webhooks })).status).toBe(204);
    const types = await env.DB.prepare(
      "SELECT type, payload FROM webhook_events WHERE json_extract(payload, '$.data.user_id') = ? ORDER BY created_at",
    )
      .bind(user.userId)
      .all<{ type: string; payload: string }>();
    expect(types.results.map((r) => r.type)).toEqual(["user.mfa_enabled", "user.mfa_disabled"]);
    expect((JSON.parse(types.results[0]!.payload) as { data: unknown }).data).toEqual({ user_id: user.userId, method: "totp" });
  });
});

describe("the sign-in's second step", () => {
  it("answers 403 mfa_required with a token and methods and issues nothing; the right code signs in with amr that survives refresh", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const user = await register();
    const { secret } = await enableTotp(user);
    stepForward();
    const first = await firstFactor(user);
    expect(first.methods).toEqual(["totp", "recovery_code"]);
    expect(first.token).toMatch(/^gm1\./);
    expect(first.response.headers.get("set-cookie")).toBeNull();
    const sessions = await env.DB.prepare("SELECT count(*) AS n FROM sessions WHERE user_id = ?").bind(user.userId).first<{ n: number }>();

    const done = await secondStep(first.token, "totp", totpCode(secret));
    const body = await done.json<{ access_token: string; refresh_token: string; device_token: string }>();
    expect(done.status, JSON.stringify(body)).toBe(200);
    expect(body.device_token).toMatch(/^gd1\./);
    const claims = decodeJwt(body.access_token);
    expect(claims.amr).toEqual(["pwd", "otp", "mfa"]);
    expect(claims.fresh).toBe(true);
    const after = await env.DB.prepare("SELECT count(*) AS n FROM sessions WHERE user_id = ?").bind(user.userId).first<{ n: number }>();
    expect(after!.n).toBe(sessions!.n + 1);
    const [succeeded] = await auditRows("user_id = ? AND action = 'login.succeeded'", user.userId);
    expect(succeeded!.metadata).toMatchObject({ factors: ["password", "totp"] });

    const refreshed = await (
      await call("/api/v1/auth/refresh", { body: { refresh_token: body.refresh_token }, ip: freshIp() })
    ).json<{ access_token: string }>();
    expect(decodeJwt(refreshed.access_token)).toMatchObject({ amr: ["pwd", "otp", "mfa"], auth_time: claims.auth_time });

    // The token died at its first success; the code's step is used.
    await problem(await secondStep(first.token, "totp", totpCode(secret)), 401, "invalid_token");
    const again = await firstFactor(user);
    await problem(await secondStep(again.token, "totp", totpCode(secret)), 401, "invalid_code");
  });

  it("refuses forged, foreign and expired tokens, and a token voided by a password change", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const user = await register();
    const { secret } = await enableTotp(user);
    stepForward();
    await problem(await secondStep("gm1.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAA", "totp", totpCode(secret)), 401, "invalid_token");
    await problem(await secondStep("not a token", "totp", totpCode(secret)), 401, "invalid_token");
    const { token } = await firstFactor(user);
    const tampered = token.slice(0, -2) + (token.endsWith("A") ? "BB" : "AA");
    await problem(await secondStep(tampered, "totp", totpCode(secret)), 401, "invalid_token");

    vi.setSystemTime(Date.now() + 5 * 60_000 + 1_000);
    await problem(await secondStep(token, "totp", totpCode(secret)), 401, "invalid_token");

    // A password change between the two steps voids the token.
    const pending = await firstFactor(user);
    const owner = await firstFactor(user);
    const signedIn = await (await secondStep(owner.token, "totp", totpCode(secret))).json<{ access_token: string }>();
    const changed = await call("/api/v1/users/me/password", {
      method: "PATCH",
      token: signedIn.access_token,
      body: { current_password: STRONG_PASSWORD, new_password: "an entirely new passphrase 77" },
    });
    expect(changed.status).toBe(204);
    stepForward();
    await problem(await secondStep(pending.token, "totp", totpCode(secret)), 401, "invalid_token");
  });

  it("a token dies at the fifth wrong answer; 50 parallel guesses on one token get at most 5 evaluated", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const user = await register();
    const { secret } = await enableTotp(user);
    stepForward();
    const { token } = await firstFactor(user);
    const wrong = (i: number) => String((Number(totpCode(secret)) + 1 + i) % 1_000_000).padStart(6, "0");
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => secondStep(token, "totp", wrong(i))));
    const codes = await Promise.all(answers.map(async (r) => (await r.json<{ code: string }>()).code));
    expect(codes.filter((c) => c === "invalid_code")).toHaveLength(5);
    expect(codes.filter((c) => c === "invalid_token")).toHaveLength(45);
    expect(await auditRows("user_id = ? AND action = 'mfa.failed'", user.userId)).toHaveLength(5);
    // Even the right code cannot revive it.
    await problem(await secondStep(token, "totp", totpCode(secret)), 401, "invalid_token");
    // The owner heard that someone has the password.
    expect((await outbox(user.email, "security_notice")).some((m) => m.subject === "Someone may know your password")).toBe(true);
  });

  it("two parallel uses of one code admit one", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const user = await register();
    const { secret } = await enableTotp(user);
    stepForward();
    const [a, b] = [await firstFactor(user), await firstFactor(user)];
    const code = totpCode(secret);
    const answers = await Promise.all([secondStep(a.token, "totp", code), secondStep(b.token, "totp", code)]);
    expect(answers.map((r) => r.status).sort()).toEqual([200, 401]);
  });

  it("a 503 after the code was accepted spends nothing: the same token and code sign in once D1 is back, and only once", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const user = await register();
    const { secret } = await enableTotp(user);
    stepForward();
    const first = await firstFactor(user);
    const code = totpCode(secret);
    // D1 is unreachable when the sign-in writes its session: the object accepted the code, no sign-in was made.
    const DB = d1FailingOn(/insert into "sessions"/i);
    const failed = await call("/api/v1/auth/mfa", { body: { mfa_token: first.token, method: "totp", code }, ip: freshIp(), env: { DB } });
    await problem(failed, 503, "service_unavailable");

    const done = await secondStep(first.token, "totp", code);
    expect(done.status, await done.clone().text()).toBe(200);
    // Used now: neither the token nor the code's step works again.
    await problem(await secondStep(first.token, "totp", code), 401, "invalid_token");
    await problem(await secondStep((await firstFactor(user)).token, "totp", code), 401, "invalid_code");
  });

  it("a recovery code works once, is counted, and mails a notice", async () => {
    const user = await register();
    const { recoveryCodes } = await enableTotp(user);
    const code = recoveryCodes[3]!;
    const first = await firstFactor(user);
    // Case, spaces and dashes are forgiven.
    const done = await secondStep(first.token, "recovery_code", ` ${code.toUpperCase().replace(/-/g, " ")} `);
    expect(done.status).toBe(200);
    const token = (await done.json<{ access_token: string }>()).access_token;
    expect(await (await call("/api/v1/users/me/mfa", { token })).json()).toMatchObject({ recovery_codes_remaining: 9 });
    expect((await outbox(user.email, "security_notice")).some((m) => m.subject === "A recovery code was used")).toBe(true);
    const second = await firstFactor(user);
    await problem(await secondStep(second.token, "recovery_code", code), 401, "invalid_code");
    // Two sign-ins racing with one code: one wins.
    const [x, y] = [await firstFactor(user), await firstFactor(user)];
    const race = await Promise.all([
      secondStep(x.token, "recovery_code", recoveryCodes[5]!),
      secondStep(y.token, "recovery_code", recoveryCodes[5]!),
    ]);
    expect(race.map((r) => r.status).sort()).toEqual([200, 401]);
  });
});

describe("budgets: a stranger with the password cannot lock the owner out", () => {
  it("spends only the strangers' budget: 429 with Retry-After, the token kept; the recovery code and the owner's known device still work", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const user = await register();
    const { secret, recoveryCodes } = await enableTotp(user);
    stepForward();
    // The owner's device: known from a complete sign-in.
    const ownerFirst = await firstFactor(user);
    const owner = await (await secondStep(ownerFirst.token, "totp", totpCode(secret))).json<{ device_token: string }>();
    stepForward(2);

    // The stranger: 10 wrong answers an hour (mfa_account_hour), over tokens of their own.
    let last: Response | undefined;
    for (let i = 0; i < 3; i++) {
      const { token } = await firstFactor(user);
      for (let j = 0; j < 4; j++) last = await secondStep(token, "totp", "000000");
    }
    const throttled = await problem(last!, 429, "rate_limited");
    expect(last!.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(throttled.code).toBe("rate_limited");
    expect(await auditRows("user_id = ? AND action = 'mfa.failed'", user.userId)).toHaveLength(10);
    expect((await auditRows("user_id = ? AND action = 'mfa.throttled'", user.userId)).length).toBeGreaterThan(0);
    // The password's own budget was never touched: the first factor still works.
    const stranger = await firstFactor(user);
    await problem(await secondStep(stranger.token, "totp", totpCode(secret)), 429, "rate_limited");
    // …and the token is kept: a recovery code (its own budget) completes it.
    expect((await secondStep(stranger.token, "recovery_code", recoveryCodes[0]!)).status).toBe(200);

    // The owner's known device has its own budget.
    const fromDevice = await firstFactor(user, { device_token: owner.device_token });
    expect((await secondStep(fromDevice.token, "totp", totpCode(secret))).status).toBe(200);
    expect((await outbox(user.email, "security_notice")).some((m) => m.subject === "Someone may know your password")).toBe(true);
  });

  it("a password reset clears the strangers' count", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const user = await register();
    await env.DB.prepare("UPDATE users SET email_verified = 1 WHERE id = ?").bind(user.userId).run();
    const { secret } = await enableTotp(user);
    stepForward();
    for (let i = 0; i < 2; i++) {
      const { token } = await firstFactor(user);
      for (let j = 0; j < 5; j++) await secondStep(token, "totp", "000000");
    }
    await problem(await secondStep((await firstFactor(user)).token, "totp", totpCode(secret)), 429, "rate_limited");
    await call("/api/v1/auth/forgot-password", { body: { email: user.email }, ip: freshIp() });
    const [reset] = await outbox(user.email, "password_reset");
    const newPassword = "the owner's new passphrase 31";
    expect(
      (await call("/api/v1/auth/reset-password", { body: { token: reset!.token, new_password: newPassword }, ip: freshIp() })).status,
    ).toBe(200);
    // A verified account keeps its factor through a reset; the count starts again.
    const { token } = await firstFactor({ email: user.email, password: newPassword });
    expect((await secondStep(token, "totp", totpCode(secret))).status).toBe(200);
  });
});

describe("abandoned second steps", () => {
  it("tell the owner once three sign-ins stopped after the password", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const user = await register();
    await enableTotp(user);
    for (let i = 0; i < 3; i++) await firstFactor(user);
    const notices = async () => (await outbox(user.email, "security_notice")).filter((m) => m.subject === "Someone may know your password");
    expect(await notices()).toHaveLength(0);
    vi.setSystemTime(Date.now() + 6 * 60_000);
    await firstFactor(user);
    expect(await notices()).toHaveLength(1);
    expect(await auditRows("user_id = ? AND action = 'mfa.abandoned'", user.userId)).toHaveLength(1);
    // At most one such notice a day.
    await firstFactor(user);
    expect(await notices()).toHaveLength(1);
  });
});

describe("step-up and fresh authentication with a second factor", () => {
  it("a code steps the same session up (same sid, rotated refresh token, amr otp); a password alone is not enough", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const user = await register();
    const { secret } = await enableTotp(user);
    stepForward();
    const first = await firstFactor(user);
    const signedIn = await (
      await secondStep(first.token, "totp", totpCode(secret))
    ).json<{ access_token: string; refresh_token: string }>();
    vi.setSystemTime(Date.now() + 6 * 60_000);
    const codes = () => call("/api/v1/users/me/mfa/recovery-codes", { method: "POST", token: stale });
    let stale = signedIn.access_token;
    await problem(await codes(), 403, "reauthentication_required");

    const withPassword = await call("/api/v1/auth/step-up", { token: stale, body: { method: "password", password: user.password } });
    expect(withPassword.status).toBe(200);
    stale = (await withPassword.json<{ access_token: string }>()).access_token;
    expect(decodeJwt(stale)).toMatchObject({ amr: ["pwd"], fresh: true });
    await problem(await codes(), 403, "reauthentication_required");

    await problem(await call("/api/v1/auth/step-up", { token: stale, body: { method: "totp", code: "000000" } }), 401, "invalid_code");
    const withCode = await call("/api/v1/auth/step-up", { token: stale, body: { method: "totp", code: totpCode(secret) } });
    const stepped = await withCode.json<{ access_token: string; refresh_token: string }>();
    expect(withCode.status).toBe(200);
    expect(decodeJwt(stepped.access_token)).toMatchObject({ sid: decodeJwt(signedIn.access_token).sid, amr: ["otp"], fresh: true });
    expect(stepped.refresh_token).not.toBe(signedIn.refresh_token);
    // The old refresh token stopped working; the new one works.
    expect((await call("/api/v1/auth/refresh", { body: { refresh_token: signedIn.refresh_token }, ip: freshIp() })).status).toBe(401);
    stale = stepped.access_token;
    // A second authenticator while one is enabled is refused.
    await problem(await call("/api/v1/users/me/mfa/totp", { method: "POST", token: stale }), 409, "mfa_already_enabled");
    const regenerated = await codes();
    expect(regenerated.status).toBe(200);
    expect((await regenerated.json<{ recovery_codes: string[] }>()).recovery_codes).toHaveLength(10);

    // Removing the app needs the same; afterwards a password signs in alone.
    expect((await call("/api/v1/users/me/mfa/totp", { method: "DELETE", token: stale })).status).toBe(204);
    expect((await login({ email: user.email, password: user.password })).status).toBe(200);
    expect((await outbox(user.email, "security_notice")).some((m) => m.subject === "Two-step verification was turned off")).toBe(true);
  });
});

describe("an account without a usable password", () => {
  it("sets a first password with only new_password, on fresh authentication", async () => {
    const user = await register();
    // As a revert leaves it (the session here is the test's shortcut to a signed-in account without a password).
    await env.DB.prepare("UPDATE users SET password_hash = '!disabled' WHERE id = ?").bind(user.userId).run();
    const res = await call("/api/v1/users/me/password", {
      method: "PATCH",
      token: user.accessToken,
      body: { new_password: "a first password of mine 44" },
    });
    expect(res.status, await res.clone().text()).toBe(204);
    expect((await login({ email: user.email, password: "a first password of mine 44" })).status).toBe(200);
    // With a usable password, the field is required again.
    await problem(
      await call("/api/v1/users/me/password", {
        method: "PATCH",
        token: user.accessToken,
        body: { new_password: "x another passphrase 45" },
      }),
      422,
      "validation_failed",
    );
  });
});

describe("account integrity", () => {
  it("the owner's first proof of the address removes a squatter's authenticator app", async () => {
    const squatter = await register();
    await enableTotp(squatter);
    expect((await firstFactor(squatter)).methods).toContain("totp");
    await call("/api/v1/auth/forgot-password", { body: { email: squatter.email }, ip: freshIp() });
    const [reset] = await outbox(squatter.email, "password_reset");
    const ownerPassword = "the real owner's passphrase 55";
    expect(
      (await call("/api/v1/auth/reset-password", { body: { token: reset!.token, new_password: ownerPassword }, ip: freshIp() })).status,
    ).toBe(200);
    const res = await login({ email: squatter.email, password: ownerPassword });
    expect(res.status).toBe(200);
    const counts = await env.DB.prepare(
      "SELECT (SELECT count(*) FROM totp_factors WHERE user_id = ?1) AS totp, (SELECT count(*) FROM recovery_codes WHERE user_id = ?1) AS codes",
    )
      .bind(squatter.userId)
      .first<{ totp: number; codes: number }>();
    expect(counts).toEqual({ totp: 0, codes: 0 });
  });

  it("so does a verification that sets a new password; one proving the registration password keeps the factor", async () => {
    for (const proof of ["new_password", "password"] as const) {
      const user = await register();
      await enableTotp(user);
      const [mail] = await outbox(user.email, "email_verification");
      const body = proof === "new_password" ? { new_password: "the mailbox owner's passphrase 8" } : { password: user.password };
      const res = await call("/api/v1/auth/verify-email", { body: { token: mail!.token, ...body }, ip: freshIp() });
      expect(res.status, await res.clone().text()).toBe(200);
      const row = await env.DB.prepare("SELECT second_factors FROM users WHERE id = ?")
        .bind(user.userId)
        .first<{ second_factors: string }>();
      expect(JSON.parse(row!.second_factors)).toEqual(proof === "new_password" ? [] : ["totp"]);
    }
  });

  it("a hostile enrolment is undone by its notice's link, which also secures the account", async () => {
    const user = await register();
    await env.DB.prepare("UPDATE users SET email_verified = 1 WHERE id = ?").bind(user.userId).run();
    await enableTotp(user); // by whoever holds the password
    const [notice] = (await outbox(user.email, "security_notice")).filter((m) => m.subject === "Two-step verification was turned on");
    expect((await call("/api/v1/auth/revert-sign-in", { body: { token: notice!.token }, ip: freshIp() })).status).toBe(200);
    const row = await env.DB.prepare("SELECT second_factors, password_hash FROM users WHERE id = ?").bind(user.userId).first<{
      second_factors: string;
      password_hash: string;
    }>();
    expect(JSON.parse(row!.second_factors)).toEqual([]);
    expect(row!.password_hash).toBe("!disabled");
    expect(await env.DB.prepare("SELECT count(*) AS n FROM totp_factors WHERE user_id = ?").bind(user.userId).first("n")).toBe(0);
    await problem(await call("/api/v1/users/me", { token: user.accessToken }), 401, "token_revoked");
    expect((await outbox(user.email, "security_notice")).some((m) => m.subject === "Second factors were removed")).toBe(true);
    // The link worked once.
    await problem(await call("/api/v1/auth/revert-sign-in", { body: { token: notice!.token }, ip: freshIp() }), 400, "invalid_token");
  });

  it("a sign-in revert keeps the factors enrolled before that sign-in", async () => {
    // Real time: the revert's reset link must be issued after the revert's own void markers.
    const user = await register();
    await env.DB.prepare("UPDATE users SET email_verified = 1 WHERE id = ?").bind(user.userId).run();
    const { secret, recoveryCodes, confirmedStep } = await enableTotp(user);
    // A sign-in from a new device: its notice carries a revert link.
    const { token } = await firstFactor(user);
    expect((await secondStep(token, "totp", totpCode(secret, confirmedStep + 1))).status).toBe(200);
    const [signInNotice] = (await outbox(user.email, "security_notice")).filter(
      (m) => m.text.includes("/revert-sign-in") && m.subject !== "Two-step verification was turned on",
    );
    expect(signInNotice).toBeDefined();
    expect((await call("/api/v1/auth/revert-sign-in", { body: { token: signInNotice!.token }, ip: freshIp() })).status).toBe(200);
    const row = await env.DB.prepare("SELECT second_factors FROM users WHERE id = ?").bind(user.userId).first<{ second_factors: string }>();
    expect(JSON.parse(row!.second_factors)).toEqual(["totp"]);
    // After the revert's reset, signing in still needs the factor.
    const [reset] = await outbox(user.email, "password_reset");
    const password = "after the revert passphrase 12";
    const resetDone = await call("/api/v1/auth/reset-password", { body: { token: reset!.token, new_password: password }, ip: freshIp() });
    expect(resetDone.status, await resetDone.clone().text()).toBe(200);
    const again = await firstFactor({ email: user.email, password });
    expect(again.methods).toContain("totp");
    expect((await secondStep(again.token, "recovery_code", recoveryCodes[0]!)).status).toBe(200);
  });
});
