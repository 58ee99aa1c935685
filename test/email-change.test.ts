import { describe, expect, it, vi } from "vitest";
import { call, env, freshIp, login, outbox, problem, register, uniqueEmail, type Registered } from "./helpers";

/** Changing the account's address: POST /users/me/email, then the link through /auth/verify-email. */

function requestChange(user: Registered, newEmail: string, password = user.password) {
  return call("/api/v1/users/me/email", { body: { new_email: newEmail, password }, token: user.accessToken, ip: freshIp() });
}

function confirm(token: string) {
  return call(`/api/v1/auth/verify-email?token=${encodeURIComponent(token)}`, { ip: freshIp() });
}

async function me(user: Registered): Promise<{ email: string; is_verified: boolean }> {
  return (await call("/api/v1/users/me", { token: user.accessToken })).json<{ email: string; is_verified: boolean }>();
}

/** Requests a change and returns the token mailed to the new address (the only mail there). */
async function changeToken(user: Registered, newEmail: string): Promise<string> {
  expect((await requestChange(user, newEmail)).status).toBe(202);
  const mails = await outbox(newEmail, "email_change");
  expect(mails).toHaveLength(1);
  return mails[0]!.token!;
}

describe("POST /users/me/email", () => {
  it("changes the address only once the link mailed to it is opened, and tells the old address", async () => {
    const user = await register();
    const newEmail = uniqueEmail("moved");
    const res = await requestChange(user, newEmail.toUpperCase());
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ message: expect.any(String) as unknown });

    const [mail] = await outbox(newEmail, "email_change");
    expect(mail!.text).toContain(`https://auth.example.com/verify-email?token=${mail!.token}`);
    const requested = await outbox(user.email, "security_notice");
    expect(requested.map((n) => n.subject)).toContain("A change of your email address was requested");
    expect((await me(user)).email).toBe(user.email);

    const done = await confirm(mail!.token!);
    expect(done.status).toBe(200);
    expect(await me(user)).toMatchObject({ email: newEmail, is_verified: true });
    const notices = await outbox(user.email, "security_notice");
    expect(notices).toHaveLength(2);
    expect(notices.map((n) => n.subject)).toContain("Your email address was changed");

    expect((await login({ email: newEmail, password: user.password })).status).toBe(200);
    await problem(await login({ email: user.email, password: user.password }), 401, "invalid_credentials");
    await problem(await confirm(mail!.token!), 400, "invalid_token");

    const { results } = await env.DB.prepare(
      "SELECT action FROM audit_logs WHERE user_id = ? AND action LIKE 'email.%' ORDER BY created_at",
    )
      .bind(user.userId)
      .all<{ action: string }>();
    expect(results.map((r) => r.action)).toEqual(["email.change_requested", "email.changed"]);
  });

  it("needs the password and a different address, and changes nothing otherwise", async () => {
    const user = await register();
    const target = uniqueEmail("nope");
    await problem(await requestChange(user, target, "wrong password entirely"), 400, "invalid_current_password");
    await problem(await requestChange(user, user.email), 422, "validation_failed");
    await problem(await requestChange(user, "not-an-address"), 422, "validation_failed");
    await problem(
      await call("/api/v1/users/me/email", { body: { new_email: target, password: user.password }, ip: freshIp() }),
      401,
      "authentication_required",
    );
    expect(await outbox(target)).toEqual([]);
    expect((await me(user)).email).toBe(user.email);
  });

  it("answers 202 for a taken address and refuses it with 409 email_taken when confirmed", async () => {
    const holder = await register();
    const user = await register();
    const token = await changeToken(user, holder.email);
    await problem(await confirm(token), 409, "email_taken");
    expect((await me(user)).email).toBe(user.email);
    expect((await me(holder)).email).toBe(holder.email);
  });

  it("lets exactly one of two accounts racing for the same free address have it", async () => {
    const a = await register();
    const target = uniqueEmail("contested");
    expect((await requestChange(a, target)).status).toBe(202);
    // One confirmation to an address per 5 minutes (email_change_address_5_minutes).
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 301_000);
    // (Signed in now: the change needs fresh authentication.)
    const b = await register();
    expect((await requestChange(b, target)).status).toBe(202);
    const mails = await outbox(target, "email_change");
    expect(mails).toHaveLength(2);
    const answers = await Promise.all(mails.map((m) => confirm(m.token!)));
    expect(answers.map((r) => r.status).sort()).toEqual([200, 409]);
    const emails = [(await me(a)).email, (await me(b)).email];
    expect(emails.filter((e) => e === target)).toHaveLength(1);
  });

  it("a newer request voids the older link", async () => {
    const user = await register();
    const [first, second] = [uniqueEmail("first"), uniqueEmail("second")];
    const older = await changeToken(user, first);
    const newer = await changeToken(user, second);
    await problem(await confirm(older), 400, "invalid_token");
    expect((await confirm(newer)).status).toBe(200);
    expect((await me(user)).email).toBe(second);
  });

  it("voids verification and reset links sent to the old address", async () => {
    const user = await register();
    const [verification] = await outbox(user.email, "email_verification");
    await call("/api/v1/auth/forgot-password", { body: { email: user.email }, ip: freshIp() });
    const [resetMail] = await outbox(user.email, "password_reset");
    expect((await confirm(await changeToken(user, uniqueEmail("elsewhere")))).status).toBe(200);

    await problem(await confirm(verification!.token!), 400, "invalid_token");
    await problem(
      await call("/api/v1/auth/reset-password", {
        body: { token: resetMail!.token, new_password: "another long passphrase 9" },
        ip: freshIp(),
      }),
      400,
      "invalid_token",
    );
  });

  it("a password reset voids a pending change (it may have been requested with a stolen password)", async () => {
    const user = await register();
    const pending = await changeToken(user, uniqueEmail("attacker"));
    await call("/api/v1/auth/forgot-password", { body: { email: user.email }, ip: freshIp() });
    const [resetMail] = await outbox(user.email, "password_reset");
    const reset = await call("/api/v1/auth/reset-password", {
      body: { token: resetMail!.token, new_password: "another long passphrase 9" },
      ip: freshIp(),
    });
    expect(reset.status).toBe(200);
    await problem(await confirm(pending), 400, "invalid_token");
  });
});
