import { decodeJwt } from "jose";
import { describe, expect, it, vi } from "vitest";
import { auditRows, call, freshIp, login, outbox, problem, register, type Registered } from "./helpers";

/**
 * A stolen session guessing the account's password through current-password checks: each wrong
 * guess is audited with the session, the owner is told when the session's checks lock, and after 10
 * wrong guesses in all the session's checks are refused for good (sessionLockout in
 * src/config/rate-limits.ts); only a new sign-in starts afresh.
 */

const NEW_PASSWORD = "a brand new passphrase 9";
const GUESS = "is it this one 0417";

function changePassword(accessToken: string, current: string): Promise<Response> {
  return call("/api/v1/users/me/password", {
    method: "PATCH",
    token: accessToken,
    body: { current_password: current, new_password: NEW_PASSWORD },
  });
}

/** A step-up with a password: how a session whose token is no longer fresh proves it again. */
function stepUp(accessToken: string, password: string): Promise<Response> {
  return call("/api/v1/auth/step-up", { token: accessToken, body: { method: "password", password } });
}

/**
 * Fires `n` wrong guesses at once; the statuses, sorted. A fresh token guesses through the password
 * change; a refreshed one (not fresh: v1.2) through step-up, which spends the same budget.
 */
async function burst(accessToken: string, n: number): Promise<number[]> {
  const fresh = decodeJwt(accessToken).fresh === true;
  const guess = (i: number) => (fresh ? changePassword(accessToken, `${GUESS} ${i}`) : stepUp(accessToken, `${GUESS} ${i}`));
  const responses = await Promise.all(Array.from({ length: n }, (_, i) => guess(i)));
  return responses.map((r) => r.status).sort();
}

async function refreshed(refreshToken: string): Promise<{ access_token: string; refresh_token: string }> {
  const res = await call("/api/v1/auth/refresh", { body: { refresh_token: refreshToken }, ip: freshIp() });
  expect(res.status).toBe(200);
  return res.json();
}

/** A burst of 20 against a fresh budget of 5: five checked (400), fifteen refused (423). */
const FIVE_CHECKED_OF_20 = [...Array<number>(5).fill(400), ...Array<number>(15).fill(423)];

const lockNotices = async (user: Registered) =>
  (await outbox(user.email, "security_notice")).filter((m) => /sessions?\b/.test(m.subject) && !/sign-in/i.test(m.subject));

describe("current-password checks of a stolen session", () => {
  it("get exactly 10 guesses in all, even in parallel bursts across refreshes, then 423 for good; a new sign-in starts afresh", async () => {
    const start = Date.now();
    vi.useFakeTimers({ toFake: ["Date"], now: start });
    const user = await register();
    const sid = decodeJwt(user.accessToken).sid as string;

    // The first burst: 5 are checked (400), the rest refused (423), and the soft lock begins.
    expect(await burst(user.accessToken, 20)).toEqual(FIVE_CHECKED_OF_20);
    const failed = await auditRows("user_id = ? AND action = 'password.check_failed'", user.userId);
    expect(failed).toHaveLength(5);
    for (const row of failed) {
      expect(row.resource).toBe(`session:${sid}`);
      expect(row.metadata).toEqual({ session_id: sid });
    }
    expect(JSON.stringify(await auditRows("user_id = ?", user.userId))).not.toContain(GUESS);
    expect(await auditRows("user_id = ? AND action = 'session.locked'", user.userId)).toMatchObject([
      { resource: `session:${sid}`, metadata: { tier: "soft", session_id: sid } },
    ]);
    expect((await lockNotices(user)).map((m) => m.subject)).toEqual(["Wrong passwords were entered in one of your sessions"]);

    // Half an hour later, the same session (its access token refreshed: same sid) gets 5 more, not a fresh budget.
    vi.setSystemTime(start + 31 * 60_000);
    let tokens = await refreshed(user.refreshToken);
    expect(decodeJwt(tokens.access_token).sid).toBe(sid);
    expect(await burst(tokens.access_token, 20)).toEqual(FIVE_CHECKED_OF_20);
    expect(await auditRows("user_id = ? AND action = 'password.check_failed'", user.userId)).toHaveLength(10);
    expect((await lockNotices(user)).map((m) => m.subject)).toContain("A session of your account can no longer confirm the password");

    // Locked for good: even the right password is refused, with no Retry-After, days later.
    vi.setSystemTime(start + 3 * 86_400_000);
    tokens = await refreshed(tokens.refresh_token);
    const refused = await stepUp(tokens.access_token, user.password);
    const body = await problem(refused, 423, "account_locked");
    expect(refused.headers.get("retry-after")).toBeNull();
    expect(String(body.detail)).toContain("Sign in again");
    // Without a step-up, the sensitive actions need fresh authentication first.
    await problem(
      await call("/api/v1/users/me", { method: "DELETE", token: tokens.access_token, body: { password: user.password } }),
      403,
      "reauthentication_required",
    );
    expect(await auditRows("user_id = ? AND action = 'password.check_failed'", user.userId)).toHaveLength(10);

    // The owner signs in anew: that session has its own budget and the right password works.
    const signIn = await login({ email: user.email, password: user.password });
    expect(signIn.status).toBe(200);
    const fresh = (await signIn.json<{ access_token: string }>()).access_token;
    expect((await changePassword(fresh, user.password)).status).toBe(204);
  });

  it("audits a wrong current password wherever it is asked for: email change, API-key creation, deletion", async () => {
    const user = await register();
    const sid = decodeJwt(user.accessToken).sid as string;
    const wrong = "not the password at all 3";
    const attempts = [
      call("/api/v1/users/me/email", { token: user.accessToken, body: { new_email: `other.${sid}@example.com`, password: wrong } }),
      call("/api/v1/users/me/api-keys", { token: user.accessToken, body: { name: "k", current_password: wrong } }),
      call("/api/v1/users/me", { method: "DELETE", token: user.accessToken, body: { password: wrong } }),
    ];
    for (const res of await Promise.all(attempts)) await problem(res, 400, "invalid_current_password");
    const rows = await auditRows("user_id = ? AND action = 'password.check_failed'", user.userId);
    expect(rows.map((r) => r.resource)).toEqual(Array(3).fill(`session:${sid}`));
    expect(JSON.stringify(rows)).not.toContain(wrong);
  });
});
