import { afterEach, describe, expect, it, vi } from "vitest";
import { call, env, freshIp, outbox, problem, register, uniqueEmail } from "./helpers";

/** Email verification through HTTP and the dev outbox: verify-email (GET and POST), resend-verification. */

function verifyGet(token: string) {
  return call(`/api/v1/auth/verify-email?token=${encodeURIComponent(token)}`, { ip: freshIp() });
}

function verifyPost(token: string, proof: { password?: string; new_password?: string } = {}) {
  return call("/api/v1/auth/verify-email", { body: { token, ...proof }, ip: freshIp() });
}

function resend(email: string) {
  return call("/api/v1/auth/resend-verification", { body: { email }, ip: freshIp() });
}

async function isVerified(accessToken: string): Promise<boolean> {
  const me = await (await call("/api/v1/users/me", { token: accessToken })).json<{ is_verified: boolean }>();
  return me.is_verified;
}

afterEach(() => {
  vi.useRealTimers();
});

describe("GET and POST /auth/verify-email", () => {
  it("verifies the address with the link mailed at registration, once", async () => {
    const user = await register();
    const [mail] = await outbox(user.email, "email_verification");
    expect(mail!.text).toContain(`https://auth.example.com/verify-email?token=${mail!.token}`);
    expect(await isVerified(user.accessToken)).toBe(false);

    // A registration link proves the mailbox, not the password: a GET (a mail scanner, a click)
    // never verifies, and leaves the link usable.
    await problem(await verifyGet(mail!.token!), 400, "password_required");
    await problem(await verifyPost(mail!.token!), 400, "password_required");
    expect(await isVerified(user.accessToken)).toBe(false);

    const res = await verifyPost(mail!.token!, { password: user.password });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ message: expect.any(String) as unknown });
    expect(await isVerified(user.accessToken)).toBe(true);
    await problem(await verifyGet(mail!.token!), 400, "invalid_token");
    await problem(await verifyPost(mail!.token!, { password: user.password }), 400, "invalid_token");

    const { results } = await env.DB.prepare("SELECT action FROM audit_logs WHERE user_id = ? AND action = 'email.verified'")
      .bind(user.userId)
      .all();
    expect(results).toHaveLength(1);
  });

  it("accepts the token in a JSON body, exactly once under a parallel burst", async () => {
    const user = await register();
    const [mail] = await outbox(user.email, "email_verification");
    // The account's own session proves the password (parallel password proofs would trip the lockout's in-flight cap).
    const answers = await Promise.all(
      Array.from({ length: 10 }, () =>
        call("/api/v1/auth/verify-email", { body: { token: mail!.token! }, token: user.accessToken, ip: freshIp() }),
      ),
    );
    expect(answers.filter((r) => r.status === 200)).toHaveLength(1);
    for (const r of answers.filter((a) => a.status !== 200)) await problem(r, 400, "invalid_token");
    expect(await isVerified(user.accessToken)).toBe(true);
  });

  it("expires after 24 hours (judged by the injectable clock)", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const start = Date.now();
    vi.setSystemTime(start);
    const user = await register();
    const [mail] = await outbox(user.email, "email_verification");
    vi.setSystemTime(start + 24 * 3600_000 + 1_000);
    await problem(await verifyGet(mail!.token!), 400, "invalid_token");
    vi.setSystemTime(start);
    expect(await isVerified(user.accessToken)).toBe(false);
  });

  it("refuses unknown, malformed, missing and reset tokens", async () => {
    await problem(await verifyGet("A".repeat(43)), 400, "invalid_token");
    await problem(await verifyPost("tiny"), 400, "invalid_token");
    await problem(await call("/api/v1/auth/verify-email", { ip: freshIp() }), 422, "validation_failed");
    const user = await register();
    await call("/api/v1/auth/forgot-password", { body: { email: user.email }, ip: freshIp() });
    const [resetMail] = await outbox(user.email, "password_reset");
    await problem(await verifyGet(resetMail!.token!), 400, "invalid_token");
    expect(await isVerified(user.accessToken)).toBe(false);
  });
});

describe("POST /auth/resend-verification", () => {
  it("answers the same bytes for unknown, unverified and verified addresses; mails only the unverified one", async () => {
    const unverified = await register();
    const verified = await register();
    const [first] = await outbox(verified.email, "email_verification");
    expect((await verifyPost(first!.token!, { password: verified.password })).status).toBe(200);
    const unknown = uniqueEmail("ghost");

    const answers = await Promise.all([resend(unverified.email), resend(verified.email), resend(unknown)]);
    const bodies = await Promise.all(answers.map((r) => r.text()));
    expect(answers.map((r) => r.status)).toEqual([202, 202, 202]);
    expect(new Set(bodies).size).toBe(1);

    const resent = await outbox(unverified.email, "email_verification");
    expect(resent).toHaveLength(2);
    // The newest link wins: resending voids the first; the new one verifies.
    await problem(await verifyPost(resent[1]!.token!, { password: unverified.password }), 400, "invalid_token");
    expect((await verifyPost(resent[0]!.token!, { password: unverified.password })).status).toBe(200);
    expect(await isVerified(unverified.accessToken)).toBe(true);

    // The verified address got only its registration mail; the unknown one nothing.
    expect(await outbox(verified.email, "email_verification")).toHaveLength(1);
    expect(await outbox(unknown)).toEqual([]);
  });

  it("builds the link from PUBLIC_URL whatever the Host header says", async () => {
    const user = await register();
    // A *.localhost name: dev mode (the tests' DEV_OUTBOX) refuses other hosts (src/web/middleware/dev-host.ts).
    const res = await call("https://evil.localhost/api/v1/auth/resend-verification", {
      body: { email: user.email },
      ip: freshIp(),
      headers: { Host: "evil.localhost", "X-Forwarded-Host": "evil.example" },
    });
    expect(res.status).toBe(202);
    const mails = await outbox(user.email, "email_verification");
    expect(mails).toHaveLength(2);
    for (const mail of mails) {
      expect(mail.text).toContain("https://auth.example.com/verify-email?token=");
      expect(mail.text).not.toContain("evil.");
    }
  });
});
