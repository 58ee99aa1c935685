import { decodeJwt } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { auditRows, call, env, freshIp, login, outbox, problem, register, uniqueEmail, userRow, type Registered } from "./helpers";
import { d1FailingOn } from "./broken-bindings";
import { enableTotp, totpCode } from "./totp";

/** Sign-in by a mailed code over HTTP (API.md v1.2 "Email codes and magic links"). */

afterEach(() => {
  vi.useRealTimers();
});

interface CodeMail {
  code: string;
  token: string;
  text: string;
}

function ask(email: string, extra: Record<string, unknown> = {}, envVars: Record<string, string> = {}, ip = freshIp()) {
  return call("/api/v1/auth/email-code", { body: { email, ...extra }, ip, env: envVars });
}

function answer(email: string, code: string, extra: Record<string, unknown> = {}, envVars: Record<string, string> = {}, ip = freshIp()) {
  return call("/api/v1/auth/email-code/verify", { body: { email, code, ...extra }, ip, env: envVars });
}

async function codeMails(email: string): Promise<CodeMail[]> {
  return (await outbox(email, "sign_in_code")) as unknown as CodeMail[];
}

/** Asks for a code and returns the one mailed. */
async function mailedCode(email: string, extra: Record<string, unknown> = {}, envVars: Record<string, string> = {}): Promise<string> {
  const before = (await codeMails(email)).length;
  expect((await ask(email, extra, envVars)).status).toBe(202);
  const mails = await codeMails(email);
  expect(mails).toHaveLength(before + 1);
  return mails[0]!.code;
}

const wrongFor = (code: string) => (code === "00000000" ? "11111111" : "00000000");

/** The body of a problem without its request id: what must not differ between two refusals. */
async function sameParts(res: Response) {
  const body = await res.json<Record<string, unknown>>();
  delete body.request_id;
  return { status: res.status, body };
}

describe("POST /auth/email-code", () => {
  it("answers the same bytes for an account and for an unknown address, and mails one code with a link", async () => {
    const user = await register();
    const known = await ask(user.email);
    const unknown = await ask(uniqueEmail("nobody"));
    expect(known.status).toBe(202);
    expect(await known.text()).toBe(await unknown.text());
    const [mail] = await codeMails(user.email);
    expect(mail!.code).toMatch(/^\d{8}$/);
    expect(mail!.text).toContain(mail!.code);
    expect(mail!.text).toContain(`/sign-in/email?token=${encodeURIComponent(mail!.token)}`);
    expect(mail!.token).toMatch(/^ge1\./);
  });

  it("is off with EMAIL_CODE_SIGN_IN=false", async () => {
    const user = await register();
    await problem(await ask(user.email, {}, { EMAIL_CODE_SIGN_IN: "false" }), 403, "forbidden");
    await problem(await answer(user.email, "12345678", {}, { EMAIL_CODE_SIGN_IN: "false" }), 403, "forbidden");
  });
});

describe("POST /auth/email-code/verify", () => {
  it("signs in with amr email (never mfa), once; a wrong code answers as an unknown address does", async () => {
    const user = await register();
    await env.DB.prepare("UPDATE users SET email_verified = 1 WHERE id = ?").bind(user.userId).run();
    const code = await mailedCode(user.email);
    const wrong = await sameParts(await answer(user.email, wrongFor(code)));
    const nobody = await sameParts(await answer(uniqueEmail("nobody"), code));
    expect(wrong).toEqual(nobody);
    expect(wrong.status).toBe(401);
    expect(wrong.body.code).toBe("invalid_code");

    const res = await answer(user.email, code);
    const body = await res.json<{ access_token: string; device_token: string }>();
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(decodeJwt(body.access_token)).toMatchObject({ sub: user.userId, amr: ["email"] });
    expect(body.device_token).toBeTruthy();
    const [row] = (await auditRows("user_id = ? AND action = 'login.succeeded'", user.userId)).slice(-1);
    expect(row!.metadata).toMatchObject({ factors: ["email_code"] });
    // Used once.
    await problem(await answer(user.email, code), 401, "invalid_code");
    // From a device the account did not know: the owner hears of it, with the "this wasn't me" link.
    const notices = await outbox(user.email, "security_notice");
    expect(notices.some((m) => m.text.includes("/revert-sign-in"))).toBe(true);
  });

  it("a 503 after the code was accepted spends nothing: the same code signs in once D1 is back, and only once", async () => {
    const user = await register();
    await env.DB.prepare("UPDATE users SET email_verified = 1 WHERE id = ?").bind(user.userId).run();
    const code = await mailedCode(user.email);
    // D1 is unreachable when the sign-in writes its session: the code was accepted, the sign-in not made.
    const DB = d1FailingOn(/insert into "sessions"/i);
    const failed = await call("/api/v1/auth/email-code/verify", { body: { email: user.email, code }, ip: freshIp(), env: { DB } });
    await problem(failed, 503, "service_unavailable");
    expect(await auditRows("user_id = ? AND action = 'login.succeeded'", user.userId)).toEqual([]);

    const res = await answer(user.email, code);
    expect(res.status, await res.clone().text()).toBe(200);
    await problem(await answer(user.email, code), 401, "invalid_code");
  });

  it("a refusal after the code was accepted spends it: only a 503 gives it back", async () => {
    const user = await register();
    await env.DB.prepare("UPDATE users SET email_verified = 1 WHERE id = ?").bind(user.userId).run();
    const code = await mailedCode(user.email);
    await env.DB.prepare("UPDATE users SET is_active = 0 WHERE id = ?").bind(user.userId).run();
    await problem(await answer(user.email, code), 401, "invalid_code");
    await env.DB.prepare("UPDATE users SET is_active = 1 WHERE id = ?").bind(user.userId).run();
    await problem(await answer(user.email, code), 401, "invalid_code");
  });

  it("takes at most 5 wrong answers per code, exactly under 20 parallel guesses; then the right code is dead", async () => {
    const user = await register();
    const code = await mailedCode(user.email);
    // From the owner's known device: the address's strangers' budget stays out of it.
    const device = { device_token: user.body.device_token };
    const guesses = await Promise.all(Array.from({ length: 20 }, () => answer(user.email, wrongFor(code), device, {}, freshIp())));
    expect(guesses.every((r) => r.status === 401)).toBe(true);
    await problem(await answer(user.email, code, device), 401, "invalid_code");
    // Four wrong answers leave a code alive: the fifth is what kills it.
    const next = await mailedCode(user.email, device);
    for (let i = 0; i < 4; i++) await problem(await answer(user.email, wrongFor(next), device), 401, "invalid_code");
    expect((await answer(user.email, next, device)).status).toBe(200);
  });

  it("admits one of parallel right answers", async () => {
    const user = await register();
    const code = await mailedCode(user.email);
    const results = await Promise.all(Array.from({ length: 5 }, () => answer(user.email, code)));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.status === 401)).toHaveLength(4);
  });

  it("expires after 10 minutes", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const user = await register();
    const code = await mailedCode(user.email);
    vi.setSystemTime(Date.now() + 10 * 60_000 + 1_000);
    await problem(await answer(user.email, code), 401, "invalid_code");
  });

  it("a stranger asking again neither voids the owner's live code nor mails another; a known device replaces it", async () => {
    const user = await register();
    const first = await mailedCode(user.email);
    for (let i = 0; i < 3; i++) expect((await ask(user.email)).status).toBe(202);
    expect(await codeMails(user.email)).toHaveLength(1);
    // The owner's known device asks: a new code, the old one dead.
    const deviceToken = user.body.device_token as string;
    const second = await mailedCode(user.email, { device_token: deviceToken });
    expect(second).not.toBe(first);
    await problem(await answer(user.email, first), 401, "invalid_code");
    expect((await answer(user.email, second)).status).toBe(200);
  });

  it("a code is live only once its mail went out: one never sent blocks no later request", async () => {
    const user = await register();
    expect((await ask(user.email, {}, { DEV_OUTBOX: "false", MAIL_TRANSPORT: "none" })).status).toBe(202);
    expect(await codeMails(user.email)).toHaveLength(0);
    // Had that code been live, a stranger's request could not replace it for 10 minutes.
    const code = await mailedCode(user.email);
    expect((await answer(user.email, code)).status).toBe(200);
  });

  it("pauses for strangers once the address's wrong answers are spent (429), tells the owner once; a known device goes on", async () => {
    const user = await register();
    const limits = { RATE_LIMITS: JSON.stringify({ email_code_address_day: { limit: 3, window: 86_400 } }) };
    const code = await mailedCode(user.email, {}, limits);
    for (let i = 0; i < 3; i++) await problem(await answer(user.email, wrongFor(code), {}, limits), 401, "invalid_code");
    await problem(await answer(user.email, code, {}, limits), 429, "rate_limited");
    const notices = (await outbox(user.email, "security_notice")).filter((m) => m.subject === "Someone is guessing your sign-in codes");
    expect(notices).toHaveLength(1);
    // No new code for strangers while paused; the owner's device still signs in with the live one.
    expect((await ask(user.email, {}, limits)).status).toBe(202);
    expect(await codeMails(user.email)).toHaveLength(1);
    const res = await answer(user.email, code, { device_token: user.body.device_token }, limits);
    expect(res.status, await res.clone().text()).toBe(200);
  });

  it("is the first proof of an unverified address: the squatter's password, sessions and factors die", async () => {
    const squatter: Registered = await register();
    await enableTotp(squatter);
    const code = await mailedCode(squatter.email);
    const res = await answer(squatter.email, code);
    const body = await res.json<{ access_token: string }>();
    // No second step: the squatter's authenticator app is gone.
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(await userRow(squatter.email)).toMatchObject({ email_verified: 1, second_factors: "[]", full_name: "" });
    expect((await login({ email: squatter.email, password: squatter.password })).status).toBe(401);
    await problem(await call("/api/v1/users/me", { token: squatter.accessToken }), 401, "token_revoked");
    expect(await auditRows("user_id = ? AND action = 'email.verified'", squatter.userId)).toHaveLength(1);
  });

  it("asks for the second factor of an account that has one, and finishes with it", async () => {
    const user = await register();
    await env.DB.prepare("UPDATE users SET email_verified = 1 WHERE id = ?").bind(user.userId).run();
    const { secret, confirmedStep } = await enableTotp(user);
    const code = await mailedCode(user.email);
    const first = await problem(await answer(user.email, code), 403, "mfa_required");
    const done = await call("/api/v1/auth/mfa", {
      body: { mfa_token: first.mfa_token, method: "totp", code: totpCode(secret, confirmedStep + 1) },
      ip: freshIp(),
    });
    const body = await done.json<{ access_token: string }>();
    expect(done.status, JSON.stringify(body)).toBe(200);
    expect(decodeJwt(body.access_token).amr).toEqual(["email", "otp", "mfa"]);
  });
});

describe("sign-up by code", () => {
  it("off (default): an unknown address gets nothing and nothing is created", async () => {
    const email = uniqueEmail("new");
    expect((await ask(email)).status).toBe(202);
    expect(await codeMails(email)).toHaveLength(0);
    await problem(await answer(email, "12345678"), 401, "invalid_code");
    expect(await userRow(email)).toBeNull();
  });

  it("on: the code creates a verified account without a password, named as asked", async () => {
    const signUp = { EMAIL_CODE_SIGN_UP: "true" };
    const email = uniqueEmail("new");
    const code = await mailedCode(email, {}, signUp);
    const res = await answer(email, code, { full_name: "Ada Lovelace" }, signUp);
    const body = await res.json<{ access_token: string }>();
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(await userRow(email)).toMatchObject({ email_verified: 1, full_name: "Ada Lovelace" });
    expect(decodeJwt(body.access_token).amr).toEqual(["email"]);
  });
});

describe("the account's switch", () => {
  it("off: no code is mailed and none signs in; turning it needs fresh authentication", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const user = await register();
    expect(await (await call("/api/v1/users/me/email-code-sign-in", { token: user.accessToken })).json()).toEqual({ enabled: true });
    const off = await call("/api/v1/users/me/email-code-sign-in", { method: "PUT", token: user.accessToken, body: { enabled: false } });
    expect(await off.json()).toEqual({ enabled: false });
    expect((await ask(user.email)).status).toBe(202);
    expect(await codeMails(user.email)).toHaveLength(0);
    vi.setSystemTime(Date.now() + 6 * 60_000);
    await problem(
      await call("/api/v1/users/me/email-code-sign-in", { method: "PUT", token: user.accessToken, body: { enabled: true } }),
      403,
      "reauthentication_required",
    );
  });
});
